// network and volume management commands, with the docker CLI's output.
import { encodeFilters, escapePath } from '../../client';
import { FILTER_FLAG, FORMAT_FLAG, INSPECT_FORMAT_FLAG, parseFilterFlags, PROG, StatusError, type Cli, type CommandSpec } from '../cli';
import { headerContext, renderRows, TABLE } from '../formatter';
import { humanSize } from '../units';
import { runInspect } from './inspect';
import { confirm } from './lifecycle';

interface NetworkSummary { Id: string; Name: string; Driver: string; Scope: string; Created?: string; Internal?: boolean; IPAM?: { Config?: Array<{ Subnet?: string }> }; Labels?: Record<string, string> | null }
interface VolumeSummary { Name: string; Driver: string; Scope?: string; Mountpoint?: string; Labels?: Record<string, string> | null }

/** "k=v" list flags → map; a bare "k" maps to "". */
function kvMap(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i < 0) out[v] = '';
    else out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

function labelsString(l: Record<string, string> | null | undefined): string {
  return Object.entries(l ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
}

function listFormat(source: string, quiet: boolean, table: string, quietField: string): string {
  if (quiet && (!source || source === TABLE)) return `{{${quietField}}}`;
  if (!source || source === TABLE) return table;
  if (source === 'json') return '{{json .}}';
  return source;
}

// ---------------- networks ----------------

export const networkLs: CommandSpec = {
  use: 'ls [OPTIONS]',
  short: 'List networks',
  aliases: [`${PROG} network ls`, `${PROG} network list`],
  args: { exact: 0 },
  flags: [FILTER_FLAG, FORMAT_FLAG, { name: 'no-trunc', type: 'bool', help: 'Do not truncate the output' }, { name: 'quiet', short: 'q', type: 'bool', help: 'Only display network IDs' }],
  async run(cli, fl) {
    const filters = parseFilterFlags(fl.list('filter'));
    const nets = await cli.client.json<NetworkSummary[]>('GET', '/networks', { query: { filters: encodeFilters(filters) } });
    nets.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
    const trunc = !fl.bool('no-trunc');
    const format = listFormat(fl.string('format'), fl.bool('quiet'), 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', '.ID');
    const rows = nets.map((n) => ({
      ID: trunc ? n.Id.slice(0, 12) : n.Id, Name: n.Name, Driver: n.Driver, Scope: n.Scope, IPv6: 'false',
      Internal: String(n.Internal ?? false), Labels: labelsString(n.Labels), CreatedAt: n.Created ?? '',
      Label: (k: string) => (n.Labels ?? {})[k] ?? '',
    }));
    cli.out(renderRows(format, headerContext({ ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT' }), rows));
  },
};

export const networkCreate: CommandSpec = {
  use: 'create [OPTIONS] NETWORK',
  short: 'Create a network',
  aliases: [`${PROG} network create`],
  args: { exact: 1 },
  flags: [
    { name: 'attachable', type: 'bool', help: 'Enable manual container attachment' },
    { name: 'driver', short: 'd', type: 'string', default: 'bridge', help: 'Driver to manage the Network' },
    { name: 'gateway', type: 'list', help: 'IPv4 or IPv6 Gateway for the master subnet' },
    { name: 'internal', type: 'bool', help: 'Restrict external access to the network' },
    { name: 'ip-range', type: 'list', help: 'Allocate container ip from a sub-range' },
    { name: 'ipam-driver', type: 'string', default: 'default', help: 'IP Address Management Driver' },
    { name: 'ipv6', type: 'bool', help: 'Enable or disable IPv6 networking' },
    { name: 'label', type: 'list', help: 'Set metadata on a network' },
    { name: 'opt', short: 'o', type: 'list', help: 'Set driver specific options' },
    { name: 'subnet', type: 'list', help: 'Subnet in CIDR format that represents a network segment' },
  ],
  async run(cli, fl, args) {
    const subnets = fl.list('subnet'), gateways = fl.list('gateway'), ranges = fl.list('ip-range');
    if (gateways.length > subnets.length || ranges.length > subnets.length) throw new StatusError(1, 'Error: every ip-range or gateway must have a corresponding subnet');
    const config = subnets.map((s, i) => ({ Subnet: s, ...(gateways[i] ? { Gateway: gateways[i] } : {}), ...(ranges[i] ? { IPRange: ranges[i] } : {}) }));
    const r = await cli.client.json<{ Id: string }>('POST', '/networks/create', {
      json: {
        Name: args[0], CheckDuplicate: true, Driver: fl.string('driver') || 'bridge', Internal: fl.bool('internal'), Attachable: fl.bool('attachable'),
        EnableIPv6: fl.bool('ipv6'), IPAM: { Driver: fl.string('ipam-driver') || 'default', Options: {}, Config: config },
        Options: kvMap(fl.list('opt')), Labels: kvMap(fl.list('label')),
      },
    });
    cli.out(r.Id + '\n');
  },
};

async function eachName(cli: Cli, names: string[], fn: (n: string) => Promise<void>): Promise<void> {
  let failed = false;
  for (const n of names) {
    try {
      await fn(n);
      cli.out(n + '\n');
    } catch (e) {
      failed = true;
      cli.err(`${(e as Error).message}\n`);
    }
  }
  if (failed) throw new StatusError(1, '');
}

export const networkRm: CommandSpec = {
  use: 'rm NETWORK [NETWORK...]',
  short: 'Remove one or more networks',
  aliases: [`${PROG} network rm`, `${PROG} network remove`],
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Do not error if the network does not exist' }],
  async run(cli, fl, args) {
    await eachName(cli, args, async (n) => {
      try {
        await cli.client.call('DELETE', `/networks/${escapePath(n)}`);
      } catch (e) {
        if (fl.bool('force') && /not found/.test((e as Error).message)) return;
        throw e;
      }
    });
  },
};

export const networkInspect: CommandSpec = {
  use: 'inspect [OPTIONS] NETWORK [NETWORK...]',
  short: 'Display detailed information on one or more networks',
  aliases: [`${PROG} network inspect`],
  args: { min: 1 },
  flags: [INSPECT_FORMAT_FLAG, { name: 'verbose', short: 'v', type: 'bool', help: 'Verbose output for diagnostics' }],
  async run(cli, fl, args) {
    await runInspect(cli, args, fl.string('format'), (r) => cli.client.networkInspectRaw(escapePath(r)));
  },
};

export const networkConnect: CommandSpec = {
  use: 'connect [OPTIONS] NETWORK CONTAINER',
  short: 'Connect a container to a network',
  aliases: [`${PROG} network connect`],
  args: { exact: 2 },
  flags: [
    { name: 'alias', type: 'list', help: 'Add network-scoped alias for the container' },
    { name: 'ip', type: 'string', help: 'IPv4 address (e.g., "172.30.100.104")' },
    { name: 'ip6', type: 'string', help: 'IPv6 address (e.g., "2001:db8::33")' },
    { name: 'link', type: 'list', help: 'Add link to another container' },
    { name: 'driver-opt', type: 'list', help: 'driver options for the network' },
  ],
  async run(cli, fl, args) {
    const ipam: Record<string, string> = {};
    if (fl.string('ip')) ipam['IPv4Address'] = fl.string('ip');
    if (fl.string('ip6')) ipam['IPv6Address'] = fl.string('ip6');
    await cli.client.call('POST', `/networks/${escapePath(args[0]!)}/connect`, {
      json: { Container: args[1], EndpointConfig: { IPAMConfig: ipam, Aliases: fl.list('alias'), Links: fl.list('link'), DriverOpts: kvMap(fl.list('driver-opt')) } },
    });
  },
};

export const networkDisconnect: CommandSpec = {
  use: 'disconnect [OPTIONS] NETWORK CONTAINER',
  short: 'Disconnect a container from a network',
  aliases: [`${PROG} network disconnect`],
  args: { exact: 2 },
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Force the container to disconnect from a network' }],
  async run(cli, fl, args) {
    await cli.client.call('POST', `/networks/${escapePath(args[0]!)}/disconnect`, { json: { Container: args[1], Force: fl.bool('force') } });
  },
};

export const networkPrune: CommandSpec = {
  use: 'prune [OPTIONS]',
  short: 'Remove all unused networks',
  aliases: [`${PROG} network prune`],
  args: { exact: 0 },
  flags: [{ ...FILTER_FLAG, short: undefined, help: 'Provide filter values (e.g. "until=<timestamp>")' }, { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' }],
  async run(cli, fl) {
    if (!fl.bool('force') && !(await confirm(cli, 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?'))) throw new StatusError(1, '');
    const r = await cli.client.json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters: encodeFilters(parseFilterFlags(fl.list('filter'))) } });
    const del = r.NetworksDeleted ?? [];
    if (del.length) cli.out(`Deleted Networks:\n${del.join('\n')}\n\n`);
  },
};

// ---------------- volumes ----------------

export const volumeLs: CommandSpec = {
  use: 'ls [OPTIONS]',
  short: 'List volumes',
  aliases: [`${PROG} volume ls`, `${PROG} volume list`],
  args: { exact: 0 },
  flags: [FILTER_FLAG, FORMAT_FLAG, { name: 'quiet', short: 'q', type: 'bool', help: 'Only display volume names' }],
  async run(cli, fl) {
    const r = await cli.client.json<{ Volumes: VolumeSummary[] | null }>('GET', '/volumes', { query: { filters: encodeFilters(parseFilterFlags(fl.list('filter'))) } });
    const vols = (r.Volumes ?? []).sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
    const format = listFormat(fl.string('format'), fl.bool('quiet'), 'table {{.Driver}}\t{{.Name}}', '.Name');
    const rows = vols.map((v) => ({
      Name: v.Name, Driver: v.Driver, Scope: v.Scope ?? 'local', Mountpoint: v.Mountpoint ?? '', Labels: labelsString(v.Labels),
      Links: 'N/A', Size: 'N/A', Label: (k: string) => (v.Labels ?? {})[k] ?? '',
    }));
    cli.out(renderRows(format, headerContext({ Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Links: 'LINKS', Size: 'SIZE' }), rows));
  },
};

export const volumeCreate: CommandSpec = {
  use: 'create [OPTIONS] [VOLUME]',
  short: 'Create a volume',
  aliases: [`${PROG} volume create`],
  args: { max: 1 },
  flags: [
    { name: 'driver', short: 'd', type: 'string', default: 'local', help: 'Specify volume driver name' },
    { name: 'label', type: 'list', help: 'Set metadata for a volume' },
    { name: 'name', type: 'string', hidden: true, help: 'Specify volume name' },
    { name: 'opt', short: 'o', type: 'list', help: 'Set driver specific options' },
  ],
  async run(cli, fl, args) {
    if (args[0] && fl.string('name')) throw new StatusError(1, `Conflicting options: either specify --name or provide positional arg, not both`);
    const v = await cli.client.json<VolumeSummary>('POST', '/volumes/create', {
      json: { Name: args[0] ?? fl.string('name'), Driver: fl.string('driver') || 'local', DriverOpts: kvMap(fl.list('opt')), Labels: kvMap(fl.list('label')) },
    });
    cli.out(v.Name + '\n');
  },
};

export const volumeRm: CommandSpec = {
  use: 'rm [OPTIONS] VOLUME [VOLUME...]',
  short: 'Remove one or more volumes',
  aliases: [`${PROG} volume rm`, `${PROG} volume remove`],
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Force the removal of one or more volumes' }],
  async run(cli, fl, args) {
    await eachName(cli, args, (n) => cli.client.call('DELETE', `/volumes/${escapePath(n)}`, { query: { force: fl.bool('force') ? '1' : undefined } }).then(() => undefined));
  },
};

export const volumeInspect: CommandSpec = {
  use: 'inspect [OPTIONS] VOLUME [VOLUME...]',
  short: 'Display detailed information on one or more volumes',
  aliases: [`${PROG} volume inspect`],
  args: { min: 1 },
  flags: [INSPECT_FORMAT_FLAG],
  async run(cli, fl, args) {
    await runInspect(cli, args, fl.string('format'), (r) => cli.client.volumeInspectRaw(escapePath(r)));
  },
};

export const volumePrune: CommandSpec = {
  use: 'prune [OPTIONS]',
  short: 'Remove unused local volumes',
  aliases: [`${PROG} volume prune`],
  args: { exact: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused volumes, not just anonymous ones' },
    { ...FILTER_FLAG, short: undefined, help: 'Provide filter values (e.g. "label=<label>")' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
  async run(cli, fl) {
    if (!fl.bool('force') && !(await confirm(cli, 'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?'))) throw new StatusError(1, '');
    const filters = parseFilterFlags(fl.list('filter'));
    if (fl.bool('all')) filters['all'] = ['true'];
    const r = await cli.client.json<{ VolumesDeleted: string[] | null; SpaceReclaimed?: number }>('POST', '/volumes/prune', { query: { filters: encodeFilters(filters) } });
    const del = r.VolumesDeleted ?? [];
    let out = '';
    if (del.length) out += `Deleted Volumes:\n${del.join('\n')}\n\n`;
    out += `Total reclaimed space: ${humanSize(Number(r.SpaceReclaimed ?? 0))}\n`;
    cli.out(out);
  },
};
