// berth: a Docker-compatible CLI. Global flags are parsed here, and command
// modules are loaded lazily (esbuild turns the dynamic imports into
// lazily-initialised modules of one bundle), keeping start-up lean.
import { resolveHost } from '../client/host';
import type { TlsConfig } from '../client/transport';
import { checkArgs, Cli, helpText, PROG, StatusError, VERSION, type CommandSpec, type Streams } from './cli';
import { FlagError, parseArgs, type FlagDef, type Flags } from './flags';

type Loader = () => Promise<Record<string, unknown>>;

const L = {
  ps: () => import('./commands/ps'),
  images: () => import('./commands/images'),
  run: () => import('./commands/run'),
  exec: () => import('./commands/exec'),
  life: () => import('./commands/lifecycle'),
  logs: () => import('./commands/logs'),
  inspect: () => import('./commands/inspect'),
  misc: () => import('./commands/misc'),
  system: () => import('./commands/system'),
  registry: () => import('./commands/registry'),
  objects: () => import('./commands/objects'),
  fs: () => import('./commands/fs'),
  build: () => import('./commands/build'),
} satisfies Record<string, Loader>;

type Entry = [loader: keyof typeof L, exportName: string, short: string];

const TOP: Record<string, Entry> = {
  attach: ['run', 'attach', 'Attach local standard input, output, and error streams to a running container'],
  build: ['build', 'build', 'Build an image from a Dockerfile'],
  commit: ['fs', 'commit', "Create a new image from a container's changes"],
  cp: ['fs', 'cp', 'Copy files/folders between a container and the local filesystem'],
  create: ['run', 'create', 'Create a new container'],
  diff: ['fs', 'diff', "Inspect changes to files or directories on a container's filesystem"],
  events: ['system', 'events', 'Get real time events from the server'],
  exec: ['exec', 'exec', 'Execute a command in a running container'],
  export: ['fs', 'exportContainer', "Export a container's filesystem as a tar archive"],
  history: ['images', 'history', 'Show the history of an image'],
  images: ['images', 'images', 'List images'],
  import: ['images', 'importImage', 'Import the contents from a tarball to create a filesystem image'],
  info: ['system', 'info', 'Display system-wide information'],
  inspect: ['inspect', 'inspect', 'Return low-level information on Docker objects'],
  kill: ['life', 'kill', 'Kill one or more running containers'],
  load: ['registry', 'load', 'Load an image from a tar archive or STDIN'],
  login: ['registry', 'login', 'Log in to a registry'],
  logout: ['registry', 'logout', 'Log out from a registry'],
  logs: ['logs', 'logs', 'Fetch the logs of a container'],
  pause: ['life', 'pause', 'Pause all processes within one or more containers'],
  port: ['misc', 'port', 'List port mappings or a specific mapping for the container'],
  ps: ['ps', 'ps', 'List containers'],
  pull: ['images', 'pull', 'Download an image from a registry'],
  push: ['registry', 'push', 'Upload an image to a registry'],
  rename: ['life', 'rename', 'Rename a container'],
  restart: ['life', 'restart', 'Restart one or more containers'],
  rm: ['life', 'rm', 'Remove one or more containers'],
  rmi: ['images', 'rmi', 'Remove one or more images'],
  save: ['registry', 'save', 'Save one or more images to a tar archive (streamed to STDOUT by default)'],
  run: ['run', 'run', 'Create and run a new container from an image'],
  start: ['run', 'start', 'Start one or more stopped containers'],
  stats: ['misc', 'stats', 'Display a live stream of container(s) resource usage statistics'],
  stop: ['life', 'stop', 'Stop one or more running containers'],
  tag: ['images', 'tag', 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'],
  top: ['misc', 'top', 'Display the running processes of a container'],
  unpause: ['life', 'unpause', 'Unpause all processes within one or more containers'],
  update: ['fs', 'update', 'Update configuration of one or more containers'],
  version: ['system', 'version', 'Show the Docker version information'],
  wait: ['life', 'wait', 'Block until one or more containers stop, then print their exit codes'],
};

const MANAGEMENT: Record<string, { short: string; verbs: Record<string, Entry>; hidden?: Record<string, string> }> = {
  container: {
    short: 'Manage containers',
    verbs: {
      attach: TOP.attach!, commit: TOP.commit!, cp: TOP.cp!, create: TOP.create!, diff: TOP.diff!, exec: TOP.exec!, export: TOP.export!,
      inspect: ['inspect', 'containerInspect', 'Display detailed information on one or more containers'],
      kill: TOP.kill!, logs: TOP.logs!, ls: ['ps', 'ps', 'List containers'], pause: TOP.pause!, port: TOP.port!,
      prune: ['life', 'containerPrune', 'Remove all stopped containers'],
      rename: TOP.rename!, restart: TOP.restart!, rm: TOP.rm!, run: TOP.run!, start: TOP.start!, stats: TOP.stats!,
      stop: TOP.stop!, top: TOP.top!, unpause: TOP.unpause!, update: TOP.update!, wait: TOP.wait!,
    },
    hidden: { list: 'ls', ps: 'ls', remove: 'rm' },
  },
  image: {
    short: 'Manage images',
    verbs: {
      build: TOP.build!, history: TOP.history!, import: TOP.import!,
      inspect: ['inspect', 'imageInspect', 'Display detailed information on one or more images'],
      ls: ['images', 'images', 'List images'],
      prune: ['images', 'imagePrune', 'Remove unused images'],
      load: TOP.load!,
      pull: TOP.pull!,
      push: TOP.push!,
      save: TOP.save!,
      rm: ['images', 'rmi', 'Remove one or more images'],
      tag: TOP.tag!,
    },
    hidden: { list: 'ls', remove: 'rm', rmi: 'rm' },
  },
  network: {
    short: 'Manage networks',
    verbs: {
      connect: ['objects', 'networkConnect', 'Connect a container to a network'],
      create: ['objects', 'networkCreate', 'Create a network'],
      disconnect: ['objects', 'networkDisconnect', 'Disconnect a container from a network'],
      inspect: ['objects', 'networkInspect', 'Display detailed information on one or more networks'],
      ls: ['objects', 'networkLs', 'List networks'],
      prune: ['objects', 'networkPrune', 'Remove all unused networks'],
      rm: ['objects', 'networkRm', 'Remove one or more networks'],
    },
    hidden: { list: 'ls', remove: 'rm' },
  },
  volume: {
    short: 'Manage volumes',
    verbs: {
      create: ['objects', 'volumeCreate', 'Create a volume'],
      inspect: ['objects', 'volumeInspect', 'Display detailed information on one or more volumes'],
      ls: ['objects', 'volumeLs', 'List volumes'],
      prune: ['objects', 'volumePrune', 'Remove unused local volumes'],
      rm: ['objects', 'volumeRm', 'Remove one or more volumes'],
    },
    hidden: { list: 'ls', remove: 'rm' },
  },
  builder: {
    short: 'Manage builds',
    verbs: {
      build: TOP.build!,
      prune: ['build', 'builderPrune', 'Remove build cache'],
    },
  },
  system: {
    short: 'Manage Docker',
    verbs: {
      df: ['system', 'df', 'Show docker disk usage'],
      events: TOP.events!,
      info: TOP.info!,
      prune: ['system', 'systemPrune', 'Remove unused data'],
    },
  },
};

const GLOBAL_FLAGS: FlagDef[] = [
  { name: 'config', type: 'string', help: 'Location of client config files' },
  { name: 'context', short: 'c', type: 'string', help: 'Name of the context to use to connect to the daemon' },
  { name: 'debug', short: 'D', type: 'bool', help: 'Enable debug mode' },
  { name: 'host', short: 'H', type: 'list', help: 'Daemon socket to connect to' },
  { name: 'log-level', short: 'l', type: 'string', default: 'info', help: 'Set the logging level ("debug", "info", "warn", "error", "fatal")' },
  { name: 'tls', type: 'bool', help: 'Use TLS; implied by --tlsverify' },
  { name: 'tlscacert', type: 'string', help: 'Trust certs signed only by this CA' },
  { name: 'tlscert', type: 'string', help: 'Path to TLS certificate file' },
  { name: 'tlskey', type: 'string', help: 'Path to TLS key file' },
  { name: 'tlsverify', type: 'bool', help: 'Use TLS and verify the remote' },
  { name: 'version', short: 'v', type: 'bool', help: 'Print version information and quit' },
];

function rootHelp(): string {
  const list = (m: Record<string, Entry | { short: string }>): string => {
    const names = Object.keys(m).sort();
    const w = Math.max(...names.map((n) => n.length));
    return names.map((n) => {
      const e = m[n]!;
      return `  ${n.padEnd(Math.max(w, 10))}  ${Array.isArray(e) ? e[2] : e.short}`;
    }).join('\n');
  };
  const flagsText = GLOBAL_FLAGS.map((d) => {
    const left = d.short ? `  -${d.short}, --${d.name}` : `      --${d.name}`;
    const vn = d.type === 'bool' ? '' : d.type === 'list' ? ' list' : ' string';
    return [left + vn, d.help ?? ''];
  });
  const fw = Math.max(...flagsText.map(([l]) => l!.length));
  return `\nUsage:  ${PROG} [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\nManagement Commands:\n${list(MANAGEMENT)}\n\nCommands:\n${list(TOP)}\n\nGlobal Options:\n${flagsText.map(([l, h]) => `${l!.padEnd(fw)}   ${h}`).join('\n')}\n\nRun '${PROG} COMMAND --help' for more information on a command.\n`;
}

function managementHelp(name: string): string {
  const m = MANAGEMENT[name]!;
  const names = Object.keys(m.verbs).sort();
  const w = Math.max(10, ...names.map((n) => n.length));
  return `Usage:  ${PROG} ${name} COMMAND\n\n${m.short}\n\nCommands:\n${names.map((n) => `  ${n.padEnd(w)}  ${m.verbs[n]![2]}`).join('\n')}\n\nRun '${PROG} ${name} COMMAND --help' for more information on a command.\n`;
}

export function printError(e: unknown, err: NodeJS.WritableStream = process.stderr): number {
  if (e instanceof StatusError) {
    if (e.message) err.write(e.message + '\n');
    return e.status;
  }
  if (e instanceof FlagError) {
    err.write(e.message + '\n');
    return 125;
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (msg) err.write(msg + '\n');
  if (process.env.BERTH_DEBUG_STACK && e instanceof Error && e.stack) err.write(e.stack + '\n');
  return 1;
}

export interface MainOptions {
  streams?: Streams;
  env?: NodeJS.ProcessEnv;
}

/** Runs one CLI invocation and returns the exit code. */
export async function main(argv: string[], opts: MainOptions = {}): Promise<number> {
  // stdin on demand: creating process.stdin costs ~1.5 ms that most commands never need.
  const streams: Streams = opts.streams ?? { out: process.stdout, err: process.stderr, get in() { return process.stdin; } };
  const env = opts.env ?? process.env;
  const stdout = streams.out;
  const stderr = streams.err;
  let parsed;
  try {
    parsed = parseArgs(argv, GLOBAL_FLAGS, { interspersed: false });
  } catch (e) {
    if (e instanceof FlagError) {
      stderr.write(`${e.message}\n\nUsage:  ${PROG} [OPTIONS] COMMAND [ARG...]\n\nRun '${PROG} --help' for more information\n`);
      return 125;
    }
    throw e;
  }
  const g = parsed.flags;
  if (g.bool('version')) {
    stdout.write(`${PROG} version ${VERSION}\n`);
    return 0;
  }
  let args = parsed.args;
  if (args.length === 0 || g.help) {
    stdout.write(rootHelp());
    return 0;
  }
  if (args[0] === 'help') {
    if (args.length === 1) {
      stdout.write(rootHelp());
      return 0;
    }
    args = [...args.slice(1), '--help'];
  }
  const hosts = g.list('host');
  if (hosts.length > 1) {
    stderr.write('Specify only one -H\n');
    return 1;
  }
  const cli = new Cli(resolveHost(hosts[0], env), streams, env.BERTH_API_VERSION || env.DOCKER_API_VERSION || undefined);
  cli.debug = g.bool('debug') || g.string('log-level') === 'debug';
  try {
    cli.tls = tlsConfig(g, env);
  } catch (e) {
    stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }

  const name = args[0]!;
  let entry: Entry | undefined;
  let path: string;
  let rest: string[];
  const mgmt = MANAGEMENT[name];
  if (mgmt) {
    const verbArg = args[1];
    if (verbArg === undefined || verbArg === '--help' || verbArg === '-h') {
      stdout.write(managementHelp(name));
      return 0;
    }
    const verb = mgmt.hidden?.[verbArg] ?? verbArg;
    entry = mgmt.verbs[verb];
    if (!entry) {
      stderr.write(`${PROG}: unknown command: ${PROG} ${name} ${verbArg}\n\nUsage:  ${PROG} ${name}\n\nRun '${PROG} ${name} --help' for more information\n`);
      return 1;
    }
    path = `${PROG} ${name} ${verbArg}`;
    rest = args.slice(2);
  } else {
    entry = TOP[name];
    if (!entry) {
      stderr.write(`${PROG}: unknown command: ${PROG} ${name}\n\nRun '${PROG} --help' for more information\n`);
      return 1;
    }
    path = `${PROG} ${name}`;
    rest = args.slice(1);
  }
  const mod = (await L[entry[0]]()) as unknown as Record<string, unknown>;
  const spec = mod[entry[1]] as CommandSpec;
  cli.commandPath = path;
  try {
    let p;
    try {
      p = parseArgs(rest, spec.flags, { interspersed: spec.interspersed ?? true });
    } catch (e) {
      if (e instanceof FlagError) {
        throw new StatusError(125, `${e.message}\n\nUsage:  ${path} ${spec.use.split(' ').slice(1).join(' ')}\n\nRun '${path} --help' for more information`);
      }
      throw e;
    }
    if (p.flags.help || p.flags.bool('help')) {
      stdout.write(helpText(spec, path));
      return 0;
    }
    for (const w of p.flags.warnings) stderr.write(w + '\n');
    checkArgs(spec, path, p.args);
    const code = await spec.run(cli, p.flags, p.args);
    return typeof code === 'number' ? code : 0;
  } catch (e) {
    return printError(e, stderr);
  }
}

/**
 * The docker CLI's TLS rules: --tlsverify (or DOCKER_TLS_VERIFY set to
 * anything) verifies the daemon and implies --tls; the PEM files default to
 * ca.pem, cert.pem, key.pem in DOCKER_CERT_PATH or ~/.docker, and a default
 * file that does not exist is simply not used.
 */
function tlsConfig(g: Pick<Flags, 'bool' | 'string'>, env: NodeJS.ProcessEnv): TlsConfig | undefined {
  const verify = g.bool('tlsverify') || !!env.DOCKER_TLS_VERIFY;
  if (!verify && !g.bool('tls')) return undefined;
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const dir = env.DOCKER_CERT_PATH || `${os.homedir()}/.docker`;
  const read = (flag: string, file: string): Buffer | undefined => {
    const given = g.string(flag);
    const p = given || `${dir}/${file}`;
    try {
      return fs.readFileSync(p);
    } catch (e) {
      if (!given && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`Could not load X509 key pair: open ${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
  };
  const ca = read('tlscacert', 'ca.pem');
  const cert = read('tlscert', 'cert.pem');
  const key = read('tlskey', 'key.pem');
  if (!!cert !== !!key) throw new Error('Could not load X509 key pair: cert and key must both be given');
  return { verify, ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) };
}
