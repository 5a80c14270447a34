// build (also `image build`, `builder build`) and `builder prune`. The
// context is made here (src/cli/buildctx.ts) and sent to POST /build; the
// legacy builder's JSON stream is shown either as the docker CLI prints it
// (--progress=plain) or, by default, step by step with CACHED or the step's
// duration (issue #7): RUN output still appears, indented under its step.
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { StringDecoder } from 'node:string_decoder';
import type { JSONMessage } from '../../client/types';
import { counting } from '../bytecount';
import { contextFromLocalDir, contextTar, ContextError, dockerfileOnlyTar, isArchive, listContext, readDockerignore, trimBuildFilesFromExcludes } from '../buildctx';
import { FILTER_FLAG, flagValueError, parseFilterFlags, PROG, StatusError, type Cli, type CommandSpec } from '../cli';
import type { Flags } from '../flags';
import { JSONStreamError } from '../jsonstream';
import { parseNormalizedNamed } from '../reference';
import { mem, OptsError, validateEnv } from '../run-opts';
import { humanSize } from '../units';
import { confirm } from './lifecycle';
import { allCredentials } from './registry';

// ---- the stream display ------------------------------------------------------------

/** Formats a duration the way the step lines show it: 0.4s, 12.3s, 2m05s. */
export function stepDuration(ms: number): string {
  if (ms < 60_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

const STEP_RE = /^Step (\d+)\/(\d+) : (.*)$/;

/**
 * Turns the legacy builder's text into step blocks:
 *
 *   [2/4] RUN make
 *         <RUN output>
 *         => 3.2s  4f9e1c2a0b7d
 *   [3/4] COPY . /src
 *         => CACHED  91ac1e22d3f0
 *
 * "Running in" / "Removing intermediate container" noise is dropped (shown
 * with --debug); anything that is not part of a step (warnings, the
 * "Successfully built/tagged" lines scripts look for) passes through.
 * Lines are fed one at a time; `now` is injectable for tests.
 */
export class StepDisplay {
  private cur: { label: string; start: number; cached: boolean; id: string } | undefined;
  private partial = '';
  private steps = 0;
  private cachedSteps = 0;
  private readonly began: number;

  constructor(
    private readonly write: (s: string) => void,
    private readonly now: () => number = Date.now,
    private readonly verbose = false,
  ) {
    this.began = now();
  }

  /** Stream text, possibly several lines or a partial line. */
  text(s: string): void {
    this.partial += s;
    let i: number;
    while ((i = this.partial.indexOf('\n')) >= 0) {
      let line = this.partial.slice(0, i);
      this.partial = this.partial.slice(i + 1);
      // A carriage return redraws a progress line; only its final state is kept.
      const cr = line.lastIndexOf('\r', line.length - 2);
      if (cr >= 0) line = line.slice(cr + 1);
      this.line(line.replace(/\r$/, ''));
    }
  }

  private closeStep(): void {
    const c = this.cur;
    if (!c) return;
    this.cur = undefined;
    const status = c.cached ? 'CACHED' : stepDuration(this.now() - c.start);
    this.write(`      => ${status}${c.id ? `  ${c.id}` : ''}\n`);
  }

  private line(line: string): void {
    const m = STEP_RE.exec(line);
    if (m) {
      this.closeStep();
      const n = `${m[1]}/${m[2]}`;
      this.write(`[${n.padStart(2 * m[2]!.length + 1)}] ${m[3]}\n`);
      this.cur = { label: n, start: this.now(), cached: false, id: '' };
      this.steps++;
      return;
    }
    const c = this.cur;
    // The builder's own warnings are not the step's output.
    if (c && /^\[Warning\] /.test(line)) {
      this.write(`${line}\n`);
      return;
    }
    if (c) {
      if (line === ' ---> Using cache') {
        c.cached = true;
        this.cachedSteps++;
        return;
      }
      const idm = /^ ---> ([0-9a-f]{12})$/.exec(line);
      if (idm) {
        c.id = idm[1]!;
        return;
      }
      if (/^ ---> Running in [0-9a-f]+$/.test(line) || /^Removing intermediate container [0-9a-f]+$/.test(line) || /^ ---> Removed intermediate container/.test(line)) {
        if (this.verbose) this.write(`      ${line.trim()}\n`);
        return;
      }
      if (/^Successfully (built|tagged) /.test(line)) {
        this.closeStep();
        this.write(`${line}\n`);
        return;
      }
      this.write(`      ${line}\n`);
      return;
    }
    this.write(`${line}\n`);
  }

  /** Flushes a trailing partial line and the open step; `ok` adds the summary line. */
  finish(ok: boolean): void {
    if (this.partial) {
      const p = this.partial;
      this.partial = '';
      this.line(p);
    }
    if (ok) {
      this.closeStep();
      if (this.steps > 0) {
        this.write(`Build finished in ${stepDuration(this.now() - this.began)}: ${this.steps} step${this.steps === 1 ? '' : 's'}, ${this.cachedSteps} cached\n`);
      }
    } else if (this.cur) {
      this.write(`      => FAILED after ${stepDuration(this.now() - this.cur.start)}\n`);
      this.cur = undefined;
    }
  }
}

/** Reads the JSON message stream; resolves with the image ID from `aux`, throws the in-band error. */
async function readBuildStream(body: NodeJS.ReadableStream, onText: (s: string) => void, onOther: (m: JSONMessage) => void): Promise<string> {
  const dec = new StringDecoder('utf8');
  let buf = '';
  let id = '';
  let failure: JSONStreamError | undefined;
  const handle = (line: string): void => {
    if (failure || line.trim() === '') return;
    let m: JSONMessage;
    try {
      m = JSON.parse(line) as JSONMessage;
    } catch {
      onText(`${line}\n`);
      return;
    }
    if (m.errorDetail || m.error) {
      const code = m.errorDetail?.code;
      failure = new JSONStreamError(code && code > 0 ? code : 1, m.errorDetail?.message ?? m.error ?? '');
      return;
    }
    if (m.aux !== undefined) {
      const a = m.aux as { ID?: unknown };
      if (a && typeof a.ID === 'string') id = a.ID;
      return;
    }
    if (m.stream !== undefined && m.stream !== '') onText(m.stream);
    else onOther(m);
  };
  for await (const chunk of body) {
    buf += typeof chunk === 'string' ? chunk : dec.write(chunk as Buffer);
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      handle(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  }
  buf += dec.end();
  if (buf) handle(buf);
  if (failure) throw failure;
  return id;
}

/** A pull status (FROM of a missing image) as one plain line. */
function statusLine(m: JSONMessage): string {
  if (m.progressDetail && ((m.progressDetail.current ?? 0) > 0 || (m.progressDetail.total ?? 0) > 0) && m.progress) return '';
  return `${m.id ? `${m.id}: ` : ''}${m.status ?? ''}\n`;
}

// ---- stdin and the context -----------------------------------------------------

/** Reads up to n bytes from the start of a stream; returns them and an iterable of the whole stream. */
async function peek(input: NodeJS.ReadableStream, n: number): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
  const it = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    chunks.push(b);
    len += b.length;
  }
  const head = Buffer.concat(chunks);
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    }
  }
  return { head, all: all() };
}

async function readAllInput(input: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of input as AsyncIterable<Buffer | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

const isUrl = (s: string): boolean => /^https?:\/\//i.test(s);
const isGitUrl = (s: string): boolean => /^git(@|:\/\/)/.test(s) || /^github\.com\//.test(s) || (isUrl(s) && /\.git(#.*)?$/.test(s));

interface Prepared {
  body?: AsyncIterable<Buffer>;
  dockerfile: string;
  remote?: string;
}

async function prepareContext(cli: Cli, specified: string, dockerfileName: string): Promise<Prepared> {
  const fromStdinDockerfile = dockerfileName === '-';
  if (specified === '-') {
    if (fromStdinDockerfile) throw new Error("invalid argument: can't use stdin for both build context and dockerfile");
    const { head, all } = await peek(cli.streams.in, 1024);
    if (isArchive(head)) return { body: all, dockerfile: dockerfileName };
    if (dockerfileName) throw new ContextError('ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles');
    const text: Buffer[] = [];
    for await (const c of all) text.push(c);
    return { body: dockerfileOnlyTar(Buffer.concat(text)), dockerfile: 'Dockerfile' };
  }
  if (fs.existsSync(specified)) {
    const { contextDir, relDockerfile, absDockerfile } = contextFromLocalDir(specified, dockerfileName);
    let extra: Buffer | undefined;
    if (fromStdinDockerfile) extra = await readAllInput(cli.streams.in);
    else if (relDockerfile.startsWith('../')) {
      // Outside the context: sent inside the tar under a random name, as Docker does.
      try {
        extra = fs.readFileSync(absDockerfile ?? dockerfileName);
      } catch (e) {
        throw new Error(`unable to open Dockerfile: ${(e as Error).message}`);
      }
    }
    const excludes = trimBuildFilesFromExcludes(readDockerignore(contextDir), relDockerfile, fromStdinDockerfile);
    const items = listContext(contextDir, excludes);
    const { tar, dockerfileName: added } = contextTar(items, extra ? { dockerfile: extra } : {});
    return { body: tar, dockerfile: added ?? relDockerfile };
  }
  if (isGitUrl(specified) || isUrl(specified)) {
    // The daemon fetches remote contexts itself (the API's `remote` parameter).
    return { remote: specified, dockerfile: fromStdinDockerfile ? '' : dockerfileName };
  }
  throw new Error(`unable to prepare context: path ${JSON.stringify(specified)} not found`);
}

// ---- build ------------------------------------------------------------------------------

function kvMap(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    out[i < 0 ? v : v.slice(0, i)] = i < 0 ? '' : v.slice(i + 1);
  }
  return out;
}

/** --cache-from and --security-opt are pflag string slices: comma-separated values, CSV-quoted. */
function stringSlice(values: string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (v === '') continue;
    let cur = '';
    let q = false;
    for (let i = 0; i < v.length; i++) {
      const ch = v[i]!;
      if (ch === '"') q = !q;
      else if (ch === ',' && !q) {
        out.push(cur);
        cur = '';
      } else cur += ch;
    }
    out.push(cur);
  }
  return out;
}

function buildQuery(fl: Flags): Record<string, string | string[] | undefined> {
  const buildArgs: Record<string, string | null> = {};
  for (const a of fl.list('build-arg')) {
    const v = validateEnv(a);
    const i = v.indexOf('=');
    // A bare KEY not set in the environment goes as null: the daemon then leaves it unset.
    if (i < 0) buildArgs[v] = null;
    else buildArgs[v.slice(0, i)] = v.slice(i + 1);
  }
  const swap = fl.string('memory-swap');
  const num = (n: number): string | undefined => (n ? String(n) : undefined);
  const ulimits = fl.list('ulimit').map((u) => {
    const m = /^([^=]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
    if (!m) throw new OptsError(`invalid argument "${u}" for "--ulimit" flag: invalid ulimit argument: ${u}`);
    return { Name: m[1], Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) };
  });
  return {
    t: fl.list('tag'),
    nocache: fl.bool('no-cache') ? '1' : undefined,
    // rm defaults to true on the daemon too, but the docker client always says which.
    rm: fl.bool('rm') ? '1' : '0',
    forcerm: fl.bool('force-rm') ? '1' : undefined,
    pull: fl.bool('pull') ? '1' : undefined,
    q: fl.bool('quiet') ? '1' : undefined,
    isolation: fl.string('isolation') || undefined,
    cpusetcpus: fl.string('cpuset-cpus') || undefined,
    cpusetmems: fl.string('cpuset-mems') || undefined,
    networkmode: fl.string('network') || undefined,
    cpushares: num(fl.int('cpu-shares')),
    cpuquota: num(fl.int('cpu-quota')),
    cpuperiod: num(fl.int('cpu-period')),
    memory: num(mem(fl.string('memory'), '-m, --memory')),
    memswap: swap === '-1' ? '-1' : num(mem(swap, '--memory-swap')),
    cgroupparent: fl.string('cgroup-parent') || undefined,
    shmsize: num(mem(fl.string('shm-size'), '--shm-size')),
    squash: fl.bool('squash') ? '1' : undefined,
    target: fl.string('target') || undefined,
    // As the docker CLI, DOCKER_DEFAULT_PLATFORM is the flag's default.
    platform: (fl.isSet('platform') ? fl.string('platform') : process.env['DOCKER_DEFAULT_PLATFORM']) || undefined,
    extrahosts: fl.list('add-host').length ? fl.list('add-host') : undefined,
    ulimits: JSON.stringify(ulimits),
    buildargs: JSON.stringify(buildArgs),
    labels: JSON.stringify(kvMap(fl.list('label'))),
    cachefrom: JSON.stringify(stringSlice(fl.list('cache-from'))),
    securityopt: stringSlice(fl.list('security-opt')).length ? stringSlice(fl.list('security-opt')) : undefined,
    version: '1',
  };
}

/** X-Registry-Config: every stored credential, base64url JSON keyed by registry. */
function registryConfig(): string {
  const all = allCredentials();
  const o: Record<string, Record<string, string>> = {};
  for (const [k, a] of Object.entries(all)) {
    const e: Record<string, string> = {};
    if (a.username) e['username'] = a.username;
    if (a.password) e['password'] = a.password;
    if (a.serveraddress) e['serveraddress'] = a.serveraddress;
    if (a.identitytoken) e['identitytoken'] = a.identitytoken;
    o[k] = e;
  }
  return Buffer.from(JSON.stringify(o)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

export const build: CommandSpec = {
  use: 'build [OPTIONS] PATH | URL | -',
  short: 'Build an image from a Dockerfile',
  aliases: [`${PROG} image build`, `${PROG} build`, `${PROG} builder build`],
  args: { exact: 1 },
  flags: [
    { name: 'add-host', type: 'list', help: 'Add a custom host-to-IP mapping ("host:ip")' },
    { name: 'build-arg', type: 'list', help: 'Set build-time variables' },
    { name: 'cache-from', type: 'list', valueName: 'strings', help: 'Images to consider as cache sources' },
    { name: 'cgroup-parent', type: 'string', help: 'Set the parent cgroup for the "RUN" instructions during build' },
    { name: 'compress', type: 'bool', help: 'Compress the build context using gzip' },
    { name: 'cpu-period', type: 'int', help: 'Limit the CPU CFS (Completely Fair Scheduler) period' },
    { name: 'cpu-quota', type: 'int', help: 'Limit the CPU CFS (Completely Fair Scheduler) quota' },
    { name: 'cpu-shares', short: 'c', type: 'int', help: 'CPU shares (relative weight)' },
    { name: 'cpuset-cpus', type: 'string', help: 'CPUs in which to allow execution (0-3, 0,1)' },
    { name: 'cpuset-mems', type: 'string', help: 'MEMs in which to allow execution (0-3, 0,1)' },
    { name: 'disable-content-trust', type: 'bool', default: true, help: 'Skip image verification' },
    { name: 'file', short: 'f', type: 'string', help: 'Name of the Dockerfile (Default is "PATH/Dockerfile")' },
    { name: 'force-rm', type: 'bool', help: 'Always remove intermediate containers' },
    { name: 'iidfile', type: 'string', help: 'Write the image ID to the file' },
    { name: 'isolation', type: 'string', help: 'Container isolation technology' },
    { name: 'label', type: 'list', help: 'Set metadata for an image' },
    { name: 'memory', short: 'm', type: 'string', valueName: 'bytes', help: 'Memory limit' },
    { name: 'memory-swap', type: 'string', valueName: 'bytes', help: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap' },
    { name: 'network', type: 'string', default: 'default', help: 'Set the networking mode for the RUN instructions during build' },
    { name: 'no-cache', type: 'bool', help: 'Do not use cache when building the image' },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable' },
    { name: 'progress', type: 'string', default: 'auto', help: 'Output style: "auto" (steps with CACHED or their duration) or "plain" (the docker CLI\'s legacy output)' },
    { name: 'pull', type: 'bool', help: 'Always attempt to pull a newer version of the image' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the build output and print image ID on success' },
    { name: 'rm', type: 'bool', default: true, help: 'Remove intermediate containers after a successful build' },
    { name: 'security-opt', type: 'list', valueName: 'strings', help: 'Security options' },
    { name: 'shm-size', type: 'string', valueName: 'bytes', help: 'Size of "/dev/shm"' },
    { name: 'squash', type: 'bool', help: 'Squash newly built layers into a single new layer' },
    { name: 'tag', short: 't', type: 'list', help: 'Name and optionally a tag in the "name:tag" format' },
    { name: 'target', type: 'string', help: 'Set the target build stage to build.' },
    { name: 'ulimit', type: 'list', valueName: 'ulimit', help: 'Ulimit options (default [])' },
  ],
  async run(cli, fl, args) {
    for (const t of fl.list('tag')) {
      try {
        parseNormalizedNamed(t);
      } catch (e) {
        throw flagValueError(build, cli.commandPath, `invalid argument "${t}" for "-t, --tag" flag: ${(e as Error).message}`);
      }
    }
    const progress = fl.string('progress');
    if (progress !== 'auto' && progress !== 'plain' && progress !== 'tty') throw flagValueError(build, cli.commandPath, `invalid argument "${progress}" for "--progress" flag: must be one of auto, plain`);
    const quiet = fl.bool('quiet');
    const iidfile = fl.string('iidfile');
    if (iidfile) {
      // Avoid leaving a stale file if the build fails.
      try {
        fs.rmSync(iidfile);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`Removing image ID file: ${(e as Error).message}`);
      }
    }
    // Flag values first: pflag rejects them before any context is read.
    let query;
    try {
      query = buildQuery(fl);
    } catch (e) {
      if (e instanceof OptsError) throw flagValueError(build, cli.commandPath, e.message);
      throw e;
    }
    let prep: Prepared;
    try {
      prep = await prepareContext(cli, args[0]!, fl.string('file'));
    } catch (e) {
      if (e instanceof ContextError) throw new Error(`unable to prepare context: ${e.message}`);
      throw e;
    }
    query['dockerfile'] = prep.dockerfile || undefined;
    query['remote'] = prep.remote;
    const sent = { n: 0 };
    let body: Readable | Buffer = Buffer.alloc(0);
    if (prep.body) {
      let src: AsyncIterable<Buffer> = counting(prep.body, sent);
      if (fl.bool('compress')) src = Readable.from(src).pipe(createGzip());
      body = Readable.from(src);
    }
    // Output: plain is the docker CLI's; quiet buffers everything and shows it only on failure.
    const buffered: string[] = [];
    const plain = progress === 'plain';
    const out = (s: string): void => {
      if (quiet) buffered.push(s);
      else cli.out(s);
    };
    const display = plain || quiet ? undefined : new StepDisplay(out, Date.now, cli.debug);
    // On a terminal, the upload's progress is redrawn in place until the daemon answers.
    let ticker: NodeJS.Timeout | undefined;
    if (prep.body && !quiet && cli.outIsTTY) {
      const label = plain ? 'Sending build context to Docker daemon ' : 'Sending build context: ';
      ticker = setInterval(() => cli.out(`\x1b[2K\r${label}${humanSize(sent.n).padStart(plain ? 8 : 0)}`), 100);
    }
    let res;
    try {
      res = await cli.client.imageBuild(body, query, registryConfig());
    } finally {
      if (ticker) {
        clearInterval(ticker);
        cli.out('\x1b[2K\r');
      }
    }
    if (prep.body) {
      // The docker CLI's final upload progress line off a terminal: status, %8v size, "\r", then "\r\n".
      if (plain) out(`Sending build context to Docker daemon ${humanSize(sent.n).padStart(8)}\r\r\n`);
      else if (display) out(`Sent build context: ${humanSize(sent.n)}\n`);
    }
    let id: string;
    try {
      id = await readBuildStream(
        res.body,
        (s) => (display ? display.text(s) : out(s)),
        (m) => {
          const line = statusLine(m);
          if (display) display.text(line);
          else out(line);
        },
      );
    } catch (e) {
      display?.finish(false);
      if (quiet) cli.err(buffered.join(''));
      throw e;
    }
    display?.finish(true);
    if (quiet) {
      // With q=1 the daemon's only stream text is the image ID line.
      const text = buffered.join('');
      cli.out(text);
      if (!id) id = text.trim();
    }
    if (iidfile) {
      if (!id) throw new Error(`Server did not provide an image ID. Cannot write ${iidfile}`);
      fs.writeFileSync(iidfile, id, { mode: 0o666 });
    }
  },
};

// ---- builder prune -------------------------------------------------------------------

export const builderPrune: CommandSpec = {
  use: 'prune',
  short: 'Remove build cache',
  args: { exact: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused build cache, not just dangling ones' },
    { ...FILTER_FLAG, short: undefined, help: 'Provide filter values (e.g. "until=24h")' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
    { name: 'keep-storage', type: 'string', valueName: 'bytes', help: 'Amount of disk space to keep for cache' },
  ],
  async run(cli, fl) {
    const all = fl.bool('all');
    const warning = all
      ? 'WARNING! This will remove all build cache. Are you sure you want to continue?'
      : 'WARNING! This will remove all dangling build cache. Are you sure you want to continue?';
    let keep = 0;
    try {
      keep = mem(fl.string('keep-storage'), '--keep-storage');
    } catch (e) {
      throw flagValueError(builderPrune, cli.commandPath, (e as Error).message);
    }
    const filters = parseFilterFlags(fl.list('filter'));
    if (!fl.bool('force') && !(await confirm(cli, warning))) throw new StatusError(1, '');
    const r = await cli.client.buildPrune({ all, filters, keepStorage: keep });
    const deleted = (r?.CachesDeleted as string[] | null | undefined) ?? [];
    let out = '';
    if (deleted.length) out += `Deleted build cache objects:\n${deleted.map((d) => `${d}\n`).join('')}\n`;
    out += `Total reclaimed space: ${humanSize(Number(r?.SpaceReclaimed ?? 0))}\n`;
    cli.out(out);
  },
};
