// stop, restart, kill, rm, pause, unpause, rename, wait, container prune
import { isNotFound } from '../../client/errors';
import { FILTER_FLAG, parseFilterFlags, PROG, StatusError, type Cli, type CommandSpec } from '../cli';
import { humanSize } from '../units';

/** One request per container, in parallel; print each name on success, errors joined (exit 1). */
async function eachContainer(cli: Cli, names: string[], op: (id: string) => Promise<unknown>, opts: { ignoreNotFound?: boolean } = {}): Promise<void> {
  const results = await Promise.allSettled(names.map((n) => op(n)));
  const errs: string[] = [];
  let out = '';
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') out += `${names[i]}\n`;
    else {
      const e = r.reason as Error;
      if (opts.ignoreNotFound && isNotFound(e)) {
        cli.out(out);
        out = '';
        cli.err(`${e.message}\n`);
        return;
      }
      errs.push(e.message);
    }
  });
  cli.out(out);
  if (errs.length) throw new StatusError(1, errs.join('\n'));
}

function timeoutOf(fl: { isSet(n: string): boolean; int(n: string): number }): number | undefined {
  if (fl.isSet('timeout') && fl.isSet('time')) throw new Error('conflicting options: cannot specify both --timeout and --time');
  if (fl.isSet('timeout')) return fl.int('timeout');
  if (fl.isSet('time')) return fl.int('time');
  return undefined;
}

export const stop: CommandSpec = {
  use: 'stop [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Stop one or more running containers',
  aliases: [`${PROG} container stop`, `${PROG} stop`],
  args: { min: 1 },
  flags: [
    { name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container' },
    { name: 'time', type: 'int', hidden: true, help: 'Seconds to wait before killing the container (deprecated: use --timeout)', deprecated: 'use --timeout instead' },
    { name: 'timeout', short: 't', type: 'int', help: 'Seconds to wait before killing the container' },
  ],
  async run(cli, fl, args) {
    const t = timeoutOf(fl);
    const signal = fl.string('signal');
    await eachContainer(cli, args, (id) => cli.client.containerStop(id, { timeout: t, signal }));
  },
};

export const restart: CommandSpec = {
  use: 'restart [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Restart one or more containers',
  aliases: [`${PROG} container restart`, `${PROG} restart`],
  args: { min: 1 },
  flags: stop.flags,
  async run(cli, fl, args) {
    const t = timeoutOf(fl);
    const signal = fl.string('signal');
    // docker restarts sequentially
    const errs: string[] = [];
    for (const id of args) {
      try {
        await cli.client.containerRestart(id, { timeout: t, signal });
        cli.out(`${id}\n`);
      } catch (e) {
        errs.push((e as Error).message);
      }
    }
    if (errs.length) throw new StatusError(1, errs.join('\n'));
  },
};

export const kill: CommandSpec = {
  use: 'kill [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Kill one or more running containers',
  aliases: [`${PROG} container kill`, `${PROG} kill`],
  args: { min: 1 },
  flags: [{ name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container' }],
  async run(cli, fl, args) {
    const signal = fl.string('signal');
    await eachContainer(cli, args, (id) => cli.client.containerKill(id, signal));
  },
};

export const rm: CommandSpec = {
  use: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Remove one or more containers',
  aliases: [`${PROG} container rm`, `${PROG} container remove`, `${PROG} rm`],
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Force the removal of a running container (uses SIGKILL)' },
    { name: 'link', short: 'l', type: 'bool', help: 'Remove the specified link' },
    { name: 'volumes', short: 'v', type: 'bool', help: 'Remove anonymous volumes associated with the container' },
  ],
  async run(cli, fl, args) {
    const force = fl.bool('force');
    await eachContainer(cli, args, async (name) => {
      const id = name.replace(/^\/+|\/+$/g, '');
      if (id === '') throw new Error('container name cannot be empty');
      return cli.client.containerRemove(id, { force, volumes: fl.bool('volumes'), link: fl.bool('link') });
    }, { ignoreNotFound: force });
  },
};

export const pause: CommandSpec = {
  use: 'pause CONTAINER [CONTAINER...]',
  short: 'Pause all processes within one or more containers',
  aliases: [`${PROG} container pause`, `${PROG} pause`],
  args: { min: 1 },
  flags: [],
  async run(cli, _fl, args) {
    await eachContainer(cli, args, (id) => cli.client.containerPause(id));
  },
};

export const unpause: CommandSpec = {
  use: 'unpause CONTAINER [CONTAINER...]',
  short: 'Unpause all processes within one or more containers',
  aliases: [`${PROG} container unpause`, `${PROG} unpause`],
  args: { min: 1 },
  flags: [],
  async run(cli, _fl, args) {
    await eachContainer(cli, args, (id) => cli.client.containerUnpause(id));
  },
};

export const rename: CommandSpec = {
  use: 'rename CONTAINER NEW_NAME',
  short: 'Rename a container',
  aliases: [`${PROG} container rename`, `${PROG} rename`],
  args: { exact: 2 },
  flags: [],
  async run(cli, _fl, args) {
    const oldName = args[0]!.trim();
    const newName = args[1]!.trim();
    if (oldName === '' || newName === '') throw new Error('Error: Neither old nor new names may be empty');
    try {
      await cli.client.containerRename(oldName, newName);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nError: failed to rename container named ${oldName}`);
    }
  },
};

export const wait: CommandSpec = {
  use: 'wait CONTAINER [CONTAINER...]',
  short: 'Block until one or more containers stop, then print their exit codes',
  aliases: [`${PROG} container wait`, `${PROG} wait`],
  args: { min: 1 },
  flags: [],
  async run(cli, _fl, args) {
    const errs: string[] = [];
    for (const id of args) {
      try {
        const w = await cli.client.containerWait(id);
        const r = await w.result;
        if (r.Error?.Message) throw new Error(r.Error.Message);
        cli.out(`${r.StatusCode}\n`);
      } catch (e) {
        errs.push((e as Error).message);
      }
    }
    if (errs.length) throw new StatusError(1, errs.join('\n'));
  },
};

export const containerPrune: CommandSpec = {
  use: 'prune [OPTIONS]',
  short: 'Remove all stopped containers',
  args: { exact: 0 },
  flags: [
    { ...FILTER_FLAG, short: undefined, help: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
  async run(cli, fl) {
    if (!fl.bool('force') && !(await confirm(cli, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) {
      throw new StatusError(1, '');
    }
    const r = await cli.client.containersPrune(parseFilterFlags(fl.list('filter')));
    const deleted = (r.ContainersDeleted as string[] | null) ?? [];
    let out = '';
    if (deleted.length) out += 'Deleted Containers:\n' + deleted.map((d) => d + '\n').join('') + '\n';
    out += `Total reclaimed space: ${humanSize(Number(r.SpaceReclaimed ?? 0))}\n`;
    cli.out(out);
  },
};

/** command.PromptForConfirmation: "[y/N]" on stdin. */
export async function confirm(cli: Cli, message: string): Promise<boolean> {
  cli.out(`${message} [y/N] `);
  const line = await new Promise<string>((resolve) => {
    const input = cli.streams.in as NodeJS.ReadStream;
    let buf = '';
    const onData = (c: Buffer | string): void => {
      buf += c.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        input.removeListener('data', onData);
        input.pause();
        resolve(buf.slice(0, i));
      }
    };
    input.on('data', onData);
    input.once('end', () => resolve(buf));
    input.resume();
  });
  const a = line.trim().toLowerCase();
  if (a !== 'y' && a !== 'yes') {
    cli.out('\n');
    return false;
  }
  return true;
}
