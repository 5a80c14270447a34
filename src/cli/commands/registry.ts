// push, login, logout, save, load — and the credential store they share, in
// the docker CLI's config format: $DOCKER_CONFIG/config.json (default
// ~/.docker/config.json) with `auths` (base64 "user:password", or an identity
// token), or a credential helper (`credsStore`, per-registry `credHelpers`:
// docker-credential-<name> get/store/erase). Credentials go to the daemon as
// X-Registry-Auth, as the docker CLI sends them.
// child_process and crypto load on first use: `run` imports this module for
// credentials, and loading both up front costs every `berth run` ~3 ms.
const childProcess = (): typeof import('node:child_process') => require('node:child_process') as typeof import('node:child_process');
const randomBytes = (n: number): Buffer => (require('node:crypto') as typeof import('node:crypto')).randomBytes(n);
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JSONMessage } from '../../client/types';
import { PROG, StatusError, type Cli, type CommandSpec } from '../cli';
import { displayJSONStream, JSONStreamError } from '../jsonstream';
import { parseNormalizedNamed, referenceString, tagNameOnly } from '../reference';
import { humanSize } from '../units';

/** Docker Hub's key in config.json and its serveraddress for /auth. */
export const INDEX_SERVER = 'https://index.docker.io/v1/';

export interface AuthConfig {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
}

interface ConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string; email?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

export function configDir(): string {
  return process.env['DOCKER_CONFIG'] || path.join(os.homedir(), '.docker');
}

function configPath(): string {
  return path.join(configDir(), 'config.json');
}

function readConfig(): ConfigFile {
  try {
    const v = JSON.parse(fs.readFileSync(configPath(), 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as ConfigFile) : {};
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new StatusError(1, `Error loading config file: ${configPath()}: ${(e as Error).message}`);
  }
}

function writeConfig(c: ConfigFile): void {
  const file = configPath();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(c, null, '\t') + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** registry.ConvertToHostname: "https://index.docker.io/v1/" → "index.docker.io". */
export function hostOf(server: string): string {
  let s = server.replace(/^https?:\/\//, '');
  const i = s.indexOf('/');
  if (i >= 0) s = s.slice(0, i);
  return s;
}

/** The key a registry's credentials are stored under. */
export function serverKey(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' || domain === 'registry-1.docker.io' ? INDEX_SERVER : domain;
}

function helperFor(c: ConfigFile, key: string): string | undefined {
  return c.credHelpers?.[hostOf(key)] ?? c.credHelpers?.[key] ?? (c.credsStore || undefined);
}

function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): { ok: boolean; out: string; err: string } {
  const r = childProcess().spawnSync(`docker-credential-${helper}`, [action], { input, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new StatusError(1, `error getting credentials - err: exec: "docker-credential-${helper}": executable file not found in $PATH, out: \`\``);
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.stdout ?? '') };
}

/** Stored credentials for a registry (config.json key), or undefined. */
export function getCredentials(key: string): AuthConfig | undefined {
  const c = readConfig();
  const helper = helperFor(c, key);
  if (helper) {
    const r = runHelper(helper, 'get', key);
    if (!r.ok) {
      if (/credentials not found/i.test(r.err)) return undefined;
      throw new StatusError(1, `error getting credentials - err: exit status 1, out: \`${r.err.trim()}\``);
    }
    const v = JSON.parse(r.out) as { Username?: string; Secret?: string };
    if (!v.Username && !v.Secret) return undefined;
    // Docker's convention: username "<token>" means the secret is an identity token.
    return v.Username === '<token>' ? { identitytoken: v.Secret ?? '', serveraddress: key } : { username: v.Username ?? '', password: v.Secret ?? '', serveraddress: key };
  }
  const e = c.auths?.[key] ?? c.auths?.[hostOf(key)] ?? Object.entries(c.auths ?? {}).find(([k]) => hostOf(k) === hostOf(key))?.[1];
  if (!e) return undefined;
  const a: AuthConfig = { serveraddress: key };
  if (e.auth) {
    const dec = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    a.username = i >= 0 ? dec.slice(0, i) : dec;
    a.password = i >= 0 ? dec.slice(i + 1) : '';
  }
  if (e.identitytoken) a.identitytoken = e.identitytoken;
  return a;
}

/**
 * ConfigFile.GetAllCredentials, for X-Registry-Config of a build: every
 * registry named in `auths` or `credHelpers`, with its resolved credentials.
 * (A credsStore's own `list` is not consulted.)
 */
export function allCredentials(): Record<string, AuthConfig> {
  const c = readConfig();
  const out: Record<string, AuthConfig> = {};
  for (const k of new Set([...Object.keys(c.auths ?? {}), ...Object.keys(c.credHelpers ?? {})])) {
    try {
      const a = getCredentials(k);
      if (a) out[k] = a;
    } catch {
      // A failing helper leaves that registry out, as Docker's build does.
    }
  }
  return out;
}

/** Stores credentials (in the helper if one is configured); returns where they went. */
export function storeCredentials(key: string, a: AuthConfig): 'helper' | 'file' {
  const c = readConfig();
  const helper = helperFor(c, key);
  if (helper) {
    const body = a.identitytoken ? { ServerURL: key, Username: '<token>', Secret: a.identitytoken } : { ServerURL: key, Username: a.username ?? '', Secret: a.password ?? '' };
    const r = runHelper(helper, 'store', JSON.stringify(body));
    if (!r.ok) throw new StatusError(1, `Error saving credentials: error storing credentials - err: exit status 1, out: \`${r.err.trim()}\``);
    return 'helper';
  }
  c.auths ??= {};
  const entry: { auth: string; identitytoken?: string } = { auth: Buffer.from(`${a.username ?? ''}:${a.identitytoken ? '' : (a.password ?? '')}`).toString('base64') };
  if (a.identitytoken) entry.identitytoken = a.identitytoken;
  c.auths[key] = entry;
  writeConfig(c);
  return 'file';
}

/** Removes stored credentials; false when there were none. */
export function eraseCredentials(key: string): boolean {
  const c = readConfig();
  const helper = helperFor(c, key);
  let found = false;
  if (helper) {
    const r = runHelper(helper, 'erase', key);
    found = r.ok;
  }
  if (c.auths) {
    for (const k of Object.keys(c.auths)) {
      if (k === key || hostOf(k) === hostOf(key)) {
        delete c.auths[k];
        found = true;
      }
    }
    writeConfig(c);
  }
  return found;
}

/** X-Registry-Auth: base64url of the AuthConfig JSON ("e30=" when there is none). */
export function encodeAuth(a: AuthConfig | undefined): string {
  if (!a) return 'e30=';
  const o: Record<string, string> = {};
  if (a.username) o['username'] = a.username;
  if (a.password) o['password'] = a.password;
  if (a.identitytoken) o['identitytoken'] = a.identitytoken;
  if (a.serveraddress) o['serveraddress'] = a.serveraddress;
  return Buffer.from(JSON.stringify(o)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** The X-Registry-Auth header for pulling or pushing an image reference. */
export function registryAuthFor(image: string): string {
  let domain = 'docker.io';
  try {
    domain = parseNormalizedNamed(image).domain;
  } catch {
    /* the daemon reports the bad reference */
  }
  const key = serverKey(domain);
  return encodeAuth(getCredentials(key));
}

/** JSONProgress.String() as the docker CLI renders it on a terminal of `width` columns. */
function progressText(p: { current?: number; total?: number }, width: number): string {
  const cur = p.current ?? 0;
  const total = p.total ?? 0;
  if (cur <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(cur).padStart(8);
  const pct = Math.min(50, Math.floor(Math.floor((cur / total) * 100) / 2));
  const bar = width > 110 ? `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] ` : '';
  return bar + (cur > total ? humanSize(cur).padStart(8) : `${humanSize(cur).padStart(8)}/${humanSize(total)}`);
}

/**
 * jsonmessage.DisplayJSONMessagesStream: on a terminal, one line per layer id
 * redrawn in place (cursor up/down, progress bars); elsewhere the plain
 * line-per-status flavour. Used by pull, push and load.
 */
export async function displayProgressStream(cli: Cli, body: NodeJS.ReadableStream, quiet = false): Promise<void> {
  if (quiet || !cli.outIsTTY) {
    await displayJSONStream(body, quiet ? () => undefined : (s) => cli.out(s));
    return;
  }
  const width = cli.ttySize()[1] || 80;
  const ids = new Map<string, number>();
  let failure: JSONStreamError | undefined;
  const handle = (m: JSONMessage): void => {
    if (m.errorDetail || m.error) {
      failure ??= new JSONStreamError(m.errorDetail?.code && m.errorDetail.code > 0 ? m.errorDetail.code : 1, m.errorDetail?.message ?? m.error ?? '');
      return;
    }
    if (m.aux !== undefined) return;
    let diff = 0;
    const hasProgress = m.progressDetail !== undefined;
    if (m.id && (hasProgress || m.progress)) {
      let line = ids.get(m.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(m.id, line);
        cli.out('\n');
      }
      diff = ids.size - line;
      if (diff > 0) cli.out(`\x1b[${diff}A`);
    } else ids.clear();
    let s = '';
    let endl = '';
    if (hasProgress && !m.stream) {
      s += '\x1b[2K\r';
      endl = '\r';
    }
    if (m.id) s += `${m.id}: `;
    if (hasProgress) s += `${m.status ?? ''} ${progressText(m.progressDetail ?? {}, width)}${endl}`;
    else if (m.stream) s += m.stream;
    else s += `${m.status ?? ''}\n`;
    cli.out(s);
    if (m.id && diff > 0) cli.out(`\x1b[${diff}B`);
  };
  let buf = '';
  for await (const c of body) {
    buf += c.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) {
        try {
          handle(JSON.parse(line) as JSONMessage);
        } catch {
          cli.out(line + '\n');
        }
      }
    }
  }
  if (buf.trim()) handle(JSON.parse(buf) as JSONMessage);
  if (failure) throw failure;
}

async function readLine(cli: Cli, prompt: string, hidden: boolean): Promise<string> {
  const input = cli.streams.in as NodeJS.ReadStream;
  cli.out(prompt);
  const tty = input.isTTY === true && hidden;
  if (tty) input.setRawMode(true);
  try {
    return await new Promise<string>((resolve) => {
      let buf = '';
      const onData = (d: Buffer | string): void => {
        for (const ch of d.toString()) {
          if (ch === '\n' || ch === '\r' || ch === '\u0004') {
            input.off('data', onData);
            input.pause();
            if (tty) cli.out('\n');
            resolve(buf);
            return;
          }
          if (ch === '\u0003') process.exit(130);
          if (ch === '\u007f') buf = buf.slice(0, -1);
          else buf += ch;
        }
      };
      input.on('data', onData);
      input.once('end', () => resolve(buf));
      input.resume();
    });
  } finally {
    if (tty) input.setRawMode(false);
  }
}

async function readAllStdin(cli: Cli): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of cli.streams.in) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  return Buffer.concat(chunks).toString('utf8');
}

async function postAuth(cli: Cli, a: AuthConfig): Promise<{ IdentityToken?: string; Status?: string }> {
  return cli.client.json('POST', '/auth', { json: a });
}

export const login: CommandSpec = {
  use: 'login [OPTIONS] [SERVER]',
  short: 'Log in to a registry',
  args: { max: 1 },
  flags: [
    { name: 'password', short: 'p', type: 'string', help: 'Password' },
    { name: 'password-stdin', type: 'bool', help: 'Take the password from stdin' },
    { name: 'username', short: 'u', type: 'string', help: 'Username' },
  ],
  async run(cli, fl, args) {
    const server = args[0] ?? INDEX_SERVER;
    const key = serverKey(hostOf(server) === 'docker.io' || server === INDEX_SERVER ? 'docker.io' : hostOf(server));
    let username = fl.string('username');
    let password = fl.string('password');
    if (password) cli.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (fl.bool('password-stdin')) {
      if (password) throw new StatusError(1, '--password and --password-stdin are mutually exclusive');
      if (!username) throw new StatusError(1, 'Must provide --username with --password-stdin');
      password = (await readAllStdin(cli)).replace(/\r?\n$/, '').replace(/\r$/, '');
    }
    const stored = getCredentials(key);
    if (!username && !password && stored) {
      // Docker first tries what is stored.
      try {
        cli.out('Authenticating with existing credentials...\n');
        const r = await postAuth(cli, { ...stored, serveraddress: key });
        if (r.IdentityToken) storeCredentials(key, { username: stored.username ?? '', identitytoken: r.IdentityToken });
        cli.out(`${r.Status ?? 'Login Succeeded'}\n`);
        return 0;
      } catch (e) {
        cli.err(`Login did not succeed, error: ${(e as Error).message}\n`);
      }
    }
    const interactive = (cli.streams.in as NodeJS.ReadStream).isTTY === true;
    if (!username) {
      if (!interactive) throw new StatusError(1, 'Error: Cannot perform an interactive login from a non TTY device');
      username = (await readLine(cli, `Username${stored?.username ? ` (${stored.username})` : ''}: `, false)).trim() || stored?.username || '';
      if (!username) throw new StatusError(1, 'Error: Non-null Username Required');
    }
    if (!password) {
      if (!interactive) throw new StatusError(1, 'Error: Cannot perform an interactive login from a non TTY device');
      password = await readLine(cli, 'Password: ', true);
      if (!password) throw new StatusError(1, 'Error: Password Required');
    }
    const r = await postAuth(cli, { username, password, serveraddress: key });
    const where = storeCredentials(key, r.IdentityToken ? { username, identitytoken: r.IdentityToken } : { username, password });
    if (where === 'file') {
      cli.err(`WARNING! Your password will be stored unencrypted in ${configPath()}.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n`);
    }
    cli.out(`${r.Status ?? 'Login Succeeded'}\n`);
    return 0;
  },
};

export const logout: CommandSpec = {
  use: 'logout [SERVER]',
  short: 'Log out from a registry',
  args: { max: 1 },
  flags: [],
  async run(cli, _fl, args) {
    const server = args[0] ?? INDEX_SERVER;
    const key = server === INDEX_SERVER ? INDEX_SERVER : serverKey(hostOf(server));
    const shown = args[0] ? hostOf(server) : INDEX_SERVER;
    if (!getCredentials(key) && !readConfig().auths?.[key]) {
      cli.out(`Not logged in to ${shown}\n`);
      return 0;
    }
    cli.out(`Removing login credentials for ${shown}\n`);
    eraseCredentials(key);
    return 0;
  },
};

export const push: CommandSpec = {
  use: 'push [OPTIONS] NAME[:TAG]',
  short: 'Upload an image to a registry',
  aliases: [`${PROG} image push`, `${PROG} push`],
  args: { exact: 1 },
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', help: 'Push all tags of an image to the repository' },
    { name: 'disable-content-trust', type: 'bool', default: true, help: 'Skip image signing' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
  ],
  async run(cli, fl, args) {
    let ref = parseNormalizedNamed(args[0]!);
    if (fl.bool('all-tags') && (ref.tag !== undefined || ref.digest !== undefined)) throw new StatusError(1, 'tag can\'t be used with --all-tags/-a');
    if (!fl.bool('all-tags') && ref.tag === undefined && ref.digest === undefined) {
      ref = tagNameOnly(ref);
      if (!fl.bool('quiet')) cli.out(`Using default tag: ${ref.tag}\n`);
    }
    const res = await cli.client.raw('POST', `/images/${ref.domain}/${ref.path}/push`, {
      query: { tag: ref.tag ?? undefined },
      headers: { 'X-Registry-Auth': encodeAuth(getCredentials(serverKey(ref.domain))) },
    });
    await displayProgressStream(cli, res.body, fl.bool('quiet'));
    if (fl.bool('quiet')) cli.out(`${referenceString(ref)}\n`);
    return 0;
  },
};

export const save: CommandSpec = {
  use: 'save [OPTIONS] IMAGE [IMAGE...]',
  short: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  aliases: [`${PROG} image save`, `${PROG} save`],
  args: { min: 1 },
  flags: [{ name: 'output', short: 'o', type: 'string', help: 'Write to a file, instead of STDOUT' }],
  async run(cli, fl, args) {
    const output = fl.string('output');
    if (!output && cli.outIsTTY) throw new StatusError(1, 'Cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const res = await cli.client.raw('GET', '/images/get', { query: { names: args } });
    if (!output) {
      await new Promise<void>((resolve, reject) => {
        res.body.on('error', reject);
        res.body.on('end', () => resolve());
        res.body.pipe(cli.streams.out as NodeJS.WritableStream, { end: false });
      });
      return 0;
    }
    // As the docker CLI: a temp file beside the target, renamed once complete.
    const dir = path.dirname(path.resolve(output));
    const tmp = path.join(dir, `.docker_temp_${randomBytes(6).toString('hex')}`);
    try {
      await new Promise<void>((resolve, reject) => {
        const f = fs.createWriteStream(tmp, { mode: 0o600 });
        res.body.on('error', reject);
        f.on('error', reject);
        f.on('finish', () => resolve());
        res.body.pipe(f);
      });
      fs.renameSync(tmp, output);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw new StatusError(1, `failed to save image: ${(e as Error).message}`);
    }
    return 0;
  },
};

export const load: CommandSpec = {
  use: 'load [OPTIONS]',
  short: 'Load an image from a tar archive or STDIN',
  aliases: [`${PROG} image load`, `${PROG} load`],
  args: { exact: 0 },
  flags: [
    { name: 'input', short: 'i', type: 'string', help: 'Read from tar archive file, instead of STDIN' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the load output' },
  ],
  async run(cli, fl) {
    const input = fl.string('input');
    let body: NodeJS.ReadableStream;
    if (input) {
      try {
        fs.accessSync(input, fs.constants.R_OK);
      } catch (e) {
        throw new StatusError(1, `open ${input}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
      }
      body = fs.createReadStream(input, { highWaterMark: 1 << 20 });
    } else {
      if ((cli.streams.in as NodeJS.ReadStream).isTTY) throw new StatusError(1, 'requested load from stdin, but stdin is empty');
      body = cli.streams.in;
    }
    const quiet = fl.bool('quiet') || !cli.outIsTTY;
    const res = await cli.client.raw('POST', '/images/load', { query: { quiet: quiet ? '1' : '0' }, body, contentType: 'application/x-tar' });
    if (String(res.headers['content-type'] ?? '') !== 'application/json') {
      res.body.pipe(cli.streams.out as NodeJS.WritableStream, { end: false });
      await new Promise<void>((r) => res.body.on('end', () => r()));
      return 0;
    }
    await displayProgressStream(cli, res.body);
    return 0;
  },
};
