// docker ps / container ls
import { FILTER_FLAG, FORMAT_FLAG, parseFilterFlags, PROG, type CommandSpec } from '../cli';
import { CONTAINER_HEADER, containerContext, containerFormat, headerContext, renderRows } from '../formatter';
import { Template } from '../template';
import type { ContainerSummary } from '../../client/types';

export const ps: CommandSpec = {
  use: 'ps [OPTIONS]',
  short: 'List containers',
  aliases: [`${PROG} container ls`, `${PROG} container list`, `${PROG} container ps`, `${PROG} ps`],
  args: { exact: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
    FILTER_FLAG,
    FORMAT_FLAG,
    { name: 'last', short: 'n', type: 'int', default: -1, help: 'Show n last created containers (includes all states)' },
    { name: 'latest', short: 'l', type: 'bool', help: 'Show the latest created container (includes all states)' },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only display container IDs' },
    { name: 'size', short: 's', type: 'bool', help: 'Display total file sizes' },
  ],
  async run(cli, fl) {
    const quiet = fl.bool('quiet');
    let format = fl.string('format');
    if (format && quiet) cli.err('WARNING: Ignoring custom format, because both --format and --quiet are set.\n');
    let limit = fl.int('last');
    if (fl.bool('latest') && limit === -1) limit = 1;
    let size = fl.bool('size');
    const filters = parseFilterFlags(fl.list('filter'));
    if (format.length > 0) {
      // like buildContainerListOptions: a template that uses .Size turns on size=1
      let tmpl: Template;
      try {
        tmpl = Template.parse(format);
      } catch (e) {
        throw new Error(`failed to parse template: ${(e as Error).message}`);
      }
      const used = new Set<string>();
      const probe = containerContext({ Id: '', Names: [], Image: '', ImageID: '', Command: '', Created: 0, State: '', Status: '', Ports: [], Labels: {} } as ContainerSummary, { trunc: true, used });
      const r = tmpl.executePartial(probe);
      if (r.err) throw new Error(`failed to execute template: ${r.err.message}`);
      if (!quiet && !size && !fl.isSet('size') && used.has('Size')) size = true;
    }
    const containers = await cli.client.containerList({ all: fl.bool('all'), limit, size, filters });
    format = containerFormat(format, quiet, size);
    const trunc = !fl.bool('no-trunc');
    const now = Date.now();
    const rows = containers.map((c) => containerContext(c, { trunc, now }));
    cli.out(renderRows(format, headerContext(CONTAINER_HEADER), rows));
  },
};
