// docker exec: inspect, exec create, start (hijacked unless -d), exit code from exec inspect.
import { ConnectionError } from '../../client/errors';
import { PROG, StatusError, type CommandSpec } from '../cli';
import { OptsError, parseKVFile, validateEnv } from '../run-opts';
import { checkTty, monitorTtySize, streamHijacked } from '../streams';

export const exec: CommandSpec = {
  use: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  short: 'Execute a command in a running container',
  aliases: [`${PROG} container exec`, `${PROG} exec`],
  interspersed: false,
  args: { min: 2 },
  flags: [
    { name: 'detach', short: 'd', type: 'bool', help: 'Detached mode: run command in the background' },
    { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container' },
    { name: 'env', short: 'e', type: 'list', help: 'Set environment variables' },
    { name: 'env-file', type: 'list', help: 'Read in a file of environment variables' },
    { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open even if not attached' },
    { name: 'privileged', type: 'bool', help: 'Give extended privileges to the command' },
    { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', type: 'string', help: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    { name: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container' },
  ],
  async run(cli, fl, args) {
    const container = args[0]!;
    const detach = fl.bool('detach');
    const tty = fl.bool('tty');
    let env: string[];
    try {
      env = [];
      for (const file of fl.list('env-file')) env.push(...parseKVFile(file, true));
      for (const e of fl.list('env')) env.push(validateEnv(e));
    } catch (e) {
      if (e instanceof OptsError) throw new StatusError(125, e.message);
      throw e;
    }
    const attachStdin = !detach && fl.bool('interactive');
    const body = {
      User: fl.string('user'),
      Privileged: fl.bool('privileged'),
      Tty: tty,
      AttachStdin: attachStdin,
      AttachStderr: !detach,
      AttachStdout: !detach,
      Detach: detach,
      DetachKeys: fl.string('detach-keys'),
      Env: env.length ? env : null,
      WorkingDir: fl.string('workdir'),
      Cmd: args.slice(1),
    };
    await cli.client.containerInspect(container);
    if (!detach) checkTty(cli, attachStdin, tty);
    const created = await cli.client.execCreate(container, body);
    const execId = created?.Id;
    if (!execId) throw new Error('exec ID empty');
    if (detach) {
      await cli.client.execStartDetached(execId, tty);
      return 0;
    }
    const conn = await cli.client.execStartAttached(execId, tty);
    const session = streamHijacked(cli, {
      conn,
      tty,
      stdin: attachStdin,
      stdout: cli.streams.out,
      stderr: tty ? cli.streams.out : cli.streams.err,
      detachKeys: fl.string('detach-keys'),
    });
    let stopResize: (() => void) | undefined;
    if (tty && cli.inIsTTY) stopResize = monitorTtySize(cli, (h, w) => cli.client.execResize(execId, h, w));
    try {
      // a client-side detach surfaces as term.EscapeError, printed by the docker CLI (exit 1)
      if ((await session.done) === 'detached') throw new StatusError(1, 'read escape sequence');
    } finally {
      stopResize?.();
    }
    try {
      const info = await cli.client.execInspect(execId);
      return info.ExitCode ?? 0;
    } catch (e) {
      if (e instanceof ConnectionError) return 255;
      throw e;
    }
  },
};
