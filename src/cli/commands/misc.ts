// top, port, stats
import { FORMAT_FLAG, PROG, StatusError, type Cli, type CommandSpec } from '../cli';
import { headerContext, renderRows, TABLE } from '../formatter';
import { truncateId } from '../reference';
import { tabulate } from '../tabwriter';
import { STRUCT, type StructValue } from '../template';
import { bytesSize, humanSizeWithPrecision } from '../units';

export const top: CommandSpec = {
  use: 'top CONTAINER [ps OPTIONS]',
  short: 'Display the running processes of a container',
  aliases: [`${PROG} container top`, `${PROG} top`],
  interspersed: false,
  args: { min: 1 },
  flags: [],
  async run(cli, _fl, args) {
    const r = await cli.client.containerTop(args[0]!, args.slice(1).join(' '));
    let text = (r.Titles ?? []).join('\t') + '\n';
    for (const p of r.Processes ?? []) text += p.join('\t') + '\n';
    cli.out(tabulate(text, 20, 3));
  },
};

/** sortorder.NaturalLess: digit runs compare numerically. */
export function naturalLess(a: string, b: string): boolean {
  const re = /(\d+|\D+)/g;
  const ca = a.match(re) ?? [];
  const cb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i]!;
    const y = cb[i]!;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = x.replace(/^0+/, '');
      const ny = y.replace(/^0+/, '');
      if (nx.length !== ny.length) return nx.length < ny.length;
      if (nx !== ny) return nx < ny;
      return x.length < y.length;
    }
    return x < y;
  }
  return ca.length < cb.length;
}

function joinHostPort(h: string, p: string): string {
  return h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`;
}

export const port: CommandSpec = {
  use: 'port CONTAINER [PRIVATE_PORT[/PROTO]]',
  short: 'List port mappings or a specific mapping for the container',
  aliases: [`${PROG} container port`, `${PROG} port`],
  args: { min: 1, max: 2 },
  flags: [],
  async run(cli, _fl, args) {
    const c = await cli.client.containerInspect(args[0]!);
    const ports = c.NetworkSettings?.Ports ?? {};
    const out: string[] = [];
    if (args[1] !== undefined) {
      const spec = args[1];
      const i = spec.indexOf('/');
      const p = i < 0 ? spec : spec.slice(0, i);
      const proto = i < 0 || spec.slice(i + 1) === '' ? 'tcp' : spec.slice(i + 1);
      if (!/^\d+$/.test(p) || Number(p) > 65535) {
        throw new Error(`Error: invalid port (${p}): strconv.ParseUint: parsing ${JSON.stringify(p)}: ${/^\d+$/.test(p) ? 'value out of range' : 'invalid syntax'}`);
      }
      const fronts = ports[`${p}/${proto}`];
      if (!fronts || fronts.length === 0) throw new Error(`Error: No public port '${spec}' published for ${args[0]}`);
      for (const f of fronts) out.push(joinHostPort(f.HostIp, f.HostPort));
    } else {
      for (const [from, fronts] of Object.entries(ports)) {
        for (const f of fronts ?? []) out.push(`${from} -> ${joinHostPort(f.HostIp, f.HostPort)}`);
      }
    }
    if (out.length) {
      out.sort((a, b) => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0));
      cli.out(out.join('\n') + '\n');
    }
  },
};

// ---------------------------------------------------------------------------
// stats

interface StatsEntry {
  container: string;
  name: string;
  id: string;
  cpu: number;
  mem: number;
  memLimit: number;
  memPerc: number;
  rx: number;
  tx: number;
  blkRead: number;
  blkWrite: number;
  pids: number;
  invalid: boolean;
}

type Num = number | undefined;
interface StatsJSON {
  id?: string;
  name?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: Num; percpu_usage?: number[] | null }; system_cpu_usage?: Num; online_cpus?: Num };
  precpu_stats?: { cpu_usage?: { total_usage?: Num }; system_cpu_usage?: Num };
  memory_stats?: { usage?: Num; limit?: Num; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: Num; tx_bytes?: Num }>;
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: Num }[] | null };
  pids_stats?: { current?: Num };
}

export function statsEntry(container: string, v: StatsJSON): StatsEntry {
  const prevCpu = v.precpu_stats?.cpu_usage?.total_usage ?? 0;
  const prevSys = v.precpu_stats?.system_cpu_usage ?? 0;
  const cpuDelta = (v.cpu_stats?.cpu_usage?.total_usage ?? 0) - prevCpu;
  const sysDelta = (v.cpu_stats?.system_cpu_usage ?? 0) - prevSys;
  let online = v.cpu_stats?.online_cpus ?? 0;
  if (online === 0) online = (v.cpu_stats?.cpu_usage?.percpu_usage ?? []).length;
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * online * 100 : 0;
  const m = v.memory_stats ?? {};
  const usage = m.usage ?? 0;
  const st = m.stats ?? {};
  let mem = usage;
  if ('total_inactive_file' in st && st.total_inactive_file! < usage) mem = usage - st.total_inactive_file!;
  else if ((st.inactive_file ?? 0) < usage) mem = usage - (st.inactive_file ?? 0);
  const limit = m.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(v.networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  let br = 0;
  let bw = 0;
  for (const e of v.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op ?? '';
    if (op[0] === 'r' || op[0] === 'R') br += e.value ?? 0;
    else if (op[0] === 'w' || op[0] === 'W') bw += e.value ?? 0;
  }
  return {
    container, name: v.name ?? '', id: v.id ?? '', cpu, mem, memLimit: limit, memPerc: limit !== 0 ? (mem / limit) * 100 : 0,
    rx, tx, blkRead: br, blkWrite: bw, pids: v.pids_stats?.current ?? 0, invalid: false,
  };
}

const pct = (v: number): string => v.toFixed(2) + '%';

function statsContext(s: StatsEntry, trunc: boolean): StructValue {
  const o: Record<string, unknown> = {
    Container: () => s.container,
    Name: () => (s.name.length > 1 ? s.name.slice(1) : '--'),
    ID: () => (trunc ? truncateId(s.id) : s.id),
    CPUPerc: () => (s.invalid ? '--' : pct(s.cpu)),
    MemUsage: () => (s.invalid ? '-- / --' : `${bytesSize(s.mem)} / ${bytesSize(s.memLimit)}`),
    MemPerc: () => (s.invalid ? '--' : pct(s.memPerc)),
    NetIO: () => (s.invalid ? '--' : `${humanSizeWithPrecision(s.rx, 3)} / ${humanSizeWithPrecision(s.tx, 3)}`),
    BlockIO: () => (s.invalid ? '--' : `${humanSizeWithPrecision(s.blkRead, 3)} / ${humanSizeWithPrecision(s.blkWrite, 3)}`),
    PIDs: () => (s.invalid ? '--' : String(s.pids)),
  };
  Object.defineProperty(o, STRUCT, { value: '*container.statsContext', enumerable: false });
  Object.defineProperty(o, 'toJSON', {
    value: () => Object.fromEntries(Object.keys(o).sort().map((k) => [k, (o[k] as () => unknown)()])),
    enumerable: false,
  });
  return o as StructValue;
}

const STATS_HEADER = {
  Container: 'CONTAINER', Name: 'NAME', ID: 'CONTAINER ID', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %',
  NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};

async function sampleOnce(cli: Cli, name: string): Promise<StatsEntry> {
  const res = await cli.client.containerStats(name, false);
  let text = '';
  for await (const c of res.body) text += (c as Buffer).toString();
  return statsEntry(name, JSON.parse(text.trim().split('\n')[0] || '{}') as StatsJSON);
}

export const stats: CommandSpec = {
  use: 'stats [OPTIONS] [CONTAINER...]',
  short: 'Display a live stream of container(s) resource usage statistics',
  aliases: [`${PROG} container stats`, `${PROG} stats`],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
    FORMAT_FLAG,
    { name: 'no-stream', type: 'bool', help: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
  ],
  async run(cli, fl, args) {
    let names = args;
    if (names.length === 0) {
      const list = await cli.client.containerList({ all: fl.bool('all') });
      names = list.map((c) => c.Id.slice(0, 12));
    }
    let format = fl.string('format') || TABLE;
    if (format === TABLE) format = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
    const trunc = !fl.bool('no-trunc');
    const render = (entries: StatsEntry[]): string => renderRows(format, headerContext(STATS_HEADER), entries.map((e) => statsContext(e, trunc)));
    if (fl.bool('no-stream')) {
      const results = await Promise.allSettled(names.map((n) => sampleOnce(cli, n)));
      const errs: string[] = [];
      const entries: StatsEntry[] = [];
      results.forEach((r) => {
        if (r.status === 'fulfilled') entries.push(r.value);
        else errs.push((r.reason as Error).message);
      });
      if (errs.length) throw new StatusError(1, errs.join('\n'));
      cli.out(render(entries));
      return 0;
    }
    // streaming: one stats stream per container, redraw every second
    const current = new Map<string, StatsEntry>();
    for (const n of names) current.set(n, { container: n, name: '', id: n, cpu: 0, mem: 0, memLimit: 0, memPerc: 0, rx: 0, tx: 0, blkRead: 0, blkWrite: 0, pids: 0, invalid: true });
    for (const n of names) {
      void cli.client.containerStats(n, true).then((res) => {
        let buf = '';
        res.body.on('data', (c: Buffer) => {
          buf += c.toString();
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (line) current.set(n, statsEntry(n, JSON.parse(line) as StatsJSON));
          }
        });
        res.body.on('end', () => current.delete(n));
      }, (e: unknown) => cli.err(`${(e as Error).message}\n`));
    }
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      if (cli.outIsTTY) cli.out('\x1b[2J\x1b[H');
      cli.out(render([...current.values()]));
      if (current.size === 0 && names.length > 0) return 0;
    }
  },
};
