// docker logs: inspect for Config.Tty, then the logs stream (demultiplexed unless TTY).
import { FrameDemuxer, STDERR, STDOUT } from '../../client/stdcopy';
import { PROG, type CommandSpec } from '../cli';
import { getTimestamp } from '../timestamp';

export const logs: CommandSpec = {
  use: 'logs [OPTIONS] CONTAINER',
  short: 'Fetch the logs of a container',
  aliases: [`${PROG} container logs`, `${PROG} logs`],
  args: { exact: 1 },
  flags: [
    { name: 'details', type: 'bool', help: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', type: 'bool', help: 'Follow log output' },
    { name: 'since', type: 'string', help: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    { name: 'tail', short: 'n', type: 'string', default: 'all', help: 'Number of lines to show from the end of the logs' },
    { name: 'timestamps', short: 't', type: 'bool', help: 'Show timestamps' },
    { name: 'until', type: 'string', help: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
  ],
  async run(cli, fl, args) {
    const c = await cli.client.containerInspect(args[0]!);
    const now = Date.now();
    const since = fl.string('since') ? getTimestamp(fl.string('since'), now) : undefined;
    const until = fl.string('until') ? getTimestamp(fl.string('until'), now) : undefined;
    const res = await cli.client.containerLogs(c.Id, {
      stdout: true,
      stderr: true,
      since,
      until,
      timestamps: fl.bool('timestamps'),
      follow: fl.bool('follow'),
      tail: fl.string('tail'),
      details: fl.bool('details'),
    });
    const out = cli.streams.out;
    const err = cli.streams.err;
    const demux = c.Config.Tty
      ? null
      : new FrameDemuxer((stream, payload) => {
        if (stream === STDOUT) out.write(payload);
        else if (stream === STDERR) err.write(payload);
      });
    await new Promise<void>((resolve, reject) => {
      res.body.on('data', (chunk: Buffer) => {
        try {
          if (demux) demux.push(chunk);
          else out.write(chunk);
        } catch (e) {
          res.body.destroy();
          reject(e as Error);
        }
      });
      res.body.on('end', () => resolve());
      res.body.on('error', (e) => reject(e));
      res.body.on('close', () => resolve());
    });
  },
};
