// run, create, start, attach: the docker CLI's sequences (engine-api.md §2.1).
import { writeFileSync, existsSync } from 'node:fs';
import { isNotFound } from '../../client/errors';
import type { Hijacked } from '../../client/transport';
import type { ContainerInspect, WaitResponse } from '../../client/types';
import { flagValueError, PROG, StatusError, type Cli, type CommandSpec } from '../cli';
import type { Flags } from '../flags';
import { displayJSONStream } from '../jsonstream';
import { familiarString, parseNormalizedNamed, tagNameOnly, type Reference } from '../reference';
import { buildCreateConfig, CONTAINER_FLAGS, OptsError, RUN_FLAGS, type ContainerConfig } from '../run-opts';
import { registryAuthFor } from './registry';
import { checkTty, forwardSignals, monitorTtySize, streamHijacked, type HijackSession, type StreamEnd } from '../streams';

/** Wraps an error with "berth: ..." and the --help hint, exit 125. */
function withHelp(err: unknown, cmd: string, status = 125): StatusError {
  const msg = err instanceof Error ? err.message : String(err);
  return new StatusError(status, `${PROG}: ${msg}\n\nRun '${PROG} ${cmd} --help' for more information`);
}

/** toStatusError: 127 for missing executables, 126 for permission problems, else 125. */
export function startErrorStatus(msg: string): number {
  if (msg.includes('executable file not found') || msg.includes('no such file or directory') || msg.includes('system cannot find the file specified')) return 127;
  if (msg.includes('permission denied') || msg.includes('is a directory')) return 126;
  return 125;
}

function toStatusError(err: unknown): StatusError {
  const msg = err instanceof Error ? err.message : String(err);
  return withHelp(err, 'run', startErrorStatus(msg));
}

async function pullImage(cli: Cli, image: string, cfg: ContainerConfig): Promise<void> {
  const ref = tagNameOnly(parseNormalizedNamed(image));
  // The stored credentials go along, as `berth pull` sends them (RetrieveAuthTokenFromImage).
  const res = await cli.client.imagePull(`${ref.domain}/${ref.path}`, ref.digest ?? ref.tag ?? '', { platform: cfg.platform, auth: registryAuthFor(image) });
  const write = cfg.quiet ? () => undefined : (s: string) => cli.err(s);
  await displayJSONStream(res.body, write);
}

/** createContainer: create, pulling on 404 when --pull=missing; prints warnings; writes --cidfile. */
export async function createContainer(cli: Cli, cfg: ContainerConfig): Promise<string> {
  const body = cfg.body;
  const image = body.Image as string;
  const hostConfig = body.HostConfig as Record<string, unknown>;
  const cidfile = hostConfig.ContainerIDFile as string;
  if (cidfile && existsSync(cidfile)) {
    throw new Error(`container ID file found, make sure the other container isn't running or delete ${cidfile}`);
  }
  let named: Reference | undefined;
  if (!/^(sha256:)?[a-f0-9]{64}$/.test(image)) {
    try {
      named = tagNameOnly(parseNormalizedNamed(image));
    } catch (e) {
      throw new Error((e as Error).message);
    }
  }
  if (cfg.pull === 'always' && named) await pullImage(cli, image, cfg);
  let resp;
  try {
    resp = await cli.client.containerCreate(body, cfg.name, cfg.platform);
  } catch (e) {
    if (isNotFound(e) && named && cfg.pull === 'missing') {
      if (!cfg.quiet) cli.err(`Unable to find image '${familiarString(named)}' locally\n`);
      await pullImage(cli, image, cfg);
      resp = await cli.client.containerCreate(body, cfg.name, cfg.platform);
    } else throw e;
  }
  for (const w of resp.Warnings ?? []) cli.err(`WARNING: ${w}\n`);
  if (cidfile) {
    try {
      writeFileSync(cidfile, resp.Id, { flag: 'wx' });
    } catch (e) {
      throw new Error(`failed to write the container ID to the file: ${(e as Error).message}`);
    }
  }
  return resp.Id;
}

/** waitExitOrRemoved: posts /wait (headers arrive at once) and yields the exit status (125 on errors). */
async function waitExitOrRemoved(cli: Cli, id: string, waitRemove: boolean): Promise<{ status: Promise<number>; cancel(): void }> {
  const w = await cli.client.containerWait(id, waitRemove ? 'removed' : 'next-exit');
  const status = w.result.then(
    (r: WaitResponse) => {
      if (r.Error?.Message) {
        cli.err(`time="${new Date().toISOString()}" level=error msg="Error waiting for container: ${r.Error.Message}"\n`);
        return 125;
      }
      return r.StatusCode;
    },
    (e: unknown) => {
      cli.err(`time="${new Date().toISOString()}" level=error msg="error waiting for container: ${(e as Error).message}"\n`);
      return 125;
    },
  );
  return { status, cancel: w.cancel };
}

function parseContainerFlags(cli: Cli, fl: Flags, args: string[], cmd: string): ContainerConfig {
  try {
    return buildCreateConfig(fl, args, cli.ttySize());
  } catch (e) {
    // a flag's own value check fails as pflag does (with the usage line); the rest as the CLI's later checks
    if (e instanceof OptsError) throw e.message.startsWith('invalid argument "') ? flagValueError(cmd === 'run' ? run : create, cli.commandPath, e.message) : withHelp(e, cmd);
    throw e;
  }
}

export const run: CommandSpec = {
  use: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create and run a new container from an image',
  aliases: [`${PROG} container run`, `${PROG} run`],
  interspersed: false,
  args: { min: 1 },
  flags: [...RUN_FLAGS, ...CONTAINER_FLAGS].sort((a, b) => (a.name < b.name ? -1 : 1)),
  async run(cli, fl, args) {
    const cfg = parseContainerFlags(cli, fl, args, 'run');
    const body = cfg.body;
    const detach = fl.bool('detach');
    if (!detach) {
      checkTty(cli, body.AttachStdin as boolean, body.Tty as boolean);
    } else {
      if (cfg.attachSet) throw new Error('conflicting options: cannot specify both --attach and --detach');
      body.AttachStdin = false;
      body.AttachStdout = false;
      body.AttachStderr = false;
      body.StdinOnce = false;
    }
    let id: string;
    try {
      id = await createContainer(cli, cfg);
    } catch (e) {
      throw toStatusError(e);
    }
    const cleanups: (() => void)[] = [];
    if (fl.bool('sig-proxy')) cleanups.push(forwardSignals((sig) => cli.client.containerKill(id, sig)));
    try {
      const attachStdin = body.AttachStdin as boolean;
      const attachStdout = body.AttachStdout as boolean;
      const attachStderr = body.AttachStderr as boolean;
      const tty = body.Tty as boolean;
      const attach = attachStdin || attachStdout || attachStderr;
      if (!attach) cli.out(`${id}\n`);
      let session: HijackSession | undefined;
      if (attach) {
        const conn: Hijacked = await cli.client.containerAttach(id, {
          stream: true, stdin: attachStdin, stdout: attachStdout, stderr: attachStderr, detachKeys: fl.string('detach-keys'),
        });
        session = streamHijacked(cli, {
          conn,
          tty,
          stdin: attachStdin,
          stdout: attachStdout ? cli.streams.out : null,
          stderr: attachStderr ? (tty ? cli.streams.out : cli.streams.err) : null,
          detachKeys: fl.string('detach-keys'),
        });
      }
      const waiter = await waitExitOrRemoved(cli, id, cfg.autoRemove);
      try {
        await cli.client.containerStart(id);
      } catch (e) {
        if (session) {
          session.cancel();
          await session.done.catch(() => undefined);
        }
        if (cfg.autoRemove) await waiter.status;
        throw toStatusError(e);
      }
      if (!attach || !session) {
        waiter.cancel();
        return 0;
      }
      if (tty && cli.outIsTTY) cleanups.push(monitorTtySize(cli, (h, w) => cli.client.containerResize(id, h, w)));
      return await finishAttached(cli, id, session, waiter.status, { attachStdin, attachOutput: attachStdout || attachStderr });
    } finally {
      for (const c of cleanups) c();
    }
  },
};

/**
 * Waits for the stream and the exit status the way runContainer does. A
 * client-side detach exits 0; a stream the daemon closed while the container
 * keeps running (daemon-side detach) also exits 0.
 */
async function finishAttached(
  cli: Cli,
  id: string,
  session: HijackSession,
  status: Promise<number>,
  o: { attachStdin: boolean; attachOutput: boolean },
): Promise<number> {
  const first = await Promise.race([
    session.done.then((v): { kind: 'stream'; v: StreamEnd } => ({ kind: 'stream', v }), (e: unknown) => {
      throw e;
    }),
    status.then((s) => ({ kind: 'status' as const, s })),
  ]);
  if (first.kind === 'stream') {
    if (first.v === 'detached') return 0;
    if (o.attachStdin && (await detachedByDaemon(cli, id, status))) return 0;
    return await status;
  }
  if (!o.attachOutput) session.cancel();
  await session.done.catch(() => undefined);
  return first.s;
}

/**
 * After the attach stream ended without an exit status: did the daemon end it
 * because of its detach keys (container still running), or is the container
 * just finishing? Polls briefly so a slow exit is not mistaken for a detach.
 */
export async function detachedByDaemon(cli: Cli, id: string, status: Promise<unknown>): Promise<boolean> {
  const done = status.then(() => true, () => true);
  for (let i = 0; i < 5; i++) {
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([done, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 200)))]);
    clearTimeout(timer);
    if (exited) return false;
    try {
      if (!(await cli.client.containerInspect(id)).State.Running) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export const create: CommandSpec = {
  use: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create a new container',
  aliases: [`${PROG} container create`, `${PROG} create`],
  interspersed: false,
  args: { min: 1 },
  flags: CONTAINER_FLAGS,
  async run(cli, fl, args) {
    const cfg = parseContainerFlags(cli, fl, args, 'create');
    let id: string;
    try {
      id = await createContainer(cli, cfg);
    } catch (e) {
      // the contract: run/create fail with 125 on daemon errors (the message is printed as docker prints it)
      throw new StatusError(125, e instanceof Error ? e.message : String(e));
    }
    cli.out(`${id}\n`);
  },
};

export const start: CommandSpec = {
  use: 'start [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Start one or more stopped containers',
  aliases: [`${PROG} container start`, `${PROG} start`],
  args: { min: 1 },
  flags: [
    { name: 'attach', short: 'a', type: 'bool', help: 'Attach STDOUT/STDERR and forward signals' },
    { name: 'checkpoint', type: 'string', hidden: true, help: 'Restore from this checkpoint' },
    { name: 'checkpoint-dir', type: 'string', hidden: true, help: 'Use a custom checkpoint storage directory' },
    { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container' },
    { name: 'interactive', short: 'i', type: 'bool', help: "Attach container's STDIN" },
  ],
  async run(cli, fl, args) {
    if (fl.bool('attach') || fl.bool('interactive')) {
      if (args.length > 1) throw new Error('you cannot start and attach multiple containers at once');
      const c = await cli.client.containerInspect(args[0]!);
      const cleanups: (() => void)[] = [];
      if (!c.Config.Tty) cleanups.push(forwardSignals((sig) => cli.client.containerKill(c.Id, sig)));
      try {
        const stdin = fl.bool('interactive') && c.Config.OpenStdin;
        const conn = await cli.client.containerAttach(c.Id, { stream: true, stdin, stdout: true, stderr: true, detachKeys: fl.string('detach-keys') });
        const session = streamHijacked(cli, {
          conn, tty: c.Config.Tty, stdin, stdout: cli.streams.out, stderr: c.Config.Tty ? cli.streams.out : cli.streams.err,
          detachKeys: fl.string('detach-keys'),
        });
        const waiter = await waitExitOrRemoved(cli, c.Id, c.HostConfig.AutoRemove === true);
        try {
          await cli.client.containerStart(c.Id);
        } catch (e) {
          session.cancel();
          await session.done.catch(() => undefined);
          if (c.HostConfig.AutoRemove) await waiter.status;
          throw e;
        }
        if (c.Config.Tty && cli.outIsTTY) cleanups.push(monitorTtySize(cli, (h, w) => cli.client.containerResize(c.Id, h, w)));
        return await finishAttached(cli, c.Id, session, waiter.status, { attachStdin: stdin, attachOutput: true });
      } finally {
        for (const f of cleanups) f();
      }
    }
    const failed: string[] = [];
    for (const name of args) {
      try {
        await cli.client.containerStart(name);
        cli.out(`${name}\n`);
      } catch (e) {
        cli.err(`${(e as Error).message}\n`);
        failed.push(name);
      }
    }
    if (failed.length) throw new StatusError(1, `Error: failed to start containers: ${failed.join(', ')}`);
    return 0;
  },
};

function checkState(c: ContainerInspect): void {
  if (!c.State.Running) throw new Error('You cannot attach to a stopped container, start it first');
  if (c.State.Paused) throw new Error('You cannot attach to a paused container, unpause it first');
  if (c.State.Restarting) throw new Error('You cannot attach to a restarting container, wait until it is running');
}

export const attach: CommandSpec = {
  use: 'attach [OPTIONS] CONTAINER',
  short: 'Attach local standard input, output, and error streams to a running container',
  aliases: [`${PROG} container attach`, `${PROG} attach`],
  args: { exact: 1 },
  flags: [
    { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container' },
    { name: 'no-stdin', type: 'bool', help: 'Do not attach STDIN' },
    { name: 'sig-proxy', type: 'bool', default: true, help: 'Proxy all received signals to the process' },
  ],
  async run(cli, fl, args) {
    const name = args[0]!;
    const waitP = cli.client.containerWait(name).then((w) => w.result);
    waitP.catch(() => undefined);
    const c = await cli.client.containerInspect(name);
    checkState(c);
    checkTty(cli, !fl.bool('no-stdin'), c.Config.Tty);
    const stdin = !fl.bool('no-stdin') && c.Config.OpenStdin;
    const cleanups: (() => void)[] = [];
    if (fl.bool('sig-proxy') && !c.Config.Tty) cleanups.push(forwardSignals((sig) => cli.client.containerKill(name, sig)));
    try {
      const conn = await cli.client.containerAttach(name, { stream: true, stdin, stdout: true, stderr: true, detachKeys: fl.string('detach-keys') });
      try {
        checkState(await cli.client.containerInspect(name));
      } catch (e) {
        conn.close();
        throw e;
      }
      const session = streamHijacked(cli, {
        conn, tty: c.Config.Tty, stdin, stdout: cli.streams.out, stderr: cli.streams.err, detachKeys: fl.string('detach-keys'),
      });
      if (c.Config.Tty && cli.outIsTTY) {
        const [h, w] = cli.ttySize();
        // the docker CLI first resizes to h+1 x w+1 to force a SIGWINCH in the container
        await cli.client.containerResize(name, h + 1, w + 1).catch(() => undefined);
        cleanups.push(monitorTtySize(cli, (hh, ww) => cli.client.containerResize(name, hh, ww)));
      }
      const end = await session.done;
      // the docker CLI returns the term.EscapeError here: printed, exit 1
      if (end === 'detached') throw new StatusError(1, 'read escape sequence');
      if (stdin && (await detachedByDaemon(cli, name, waitP))) return 0;
      const r = await waitP;
      if (r.Error?.Message) throw new Error(r.Error.Message);
      return r.StatusCode;
    } finally {
      for (const f of cleanups) f();
    }
  },
};

