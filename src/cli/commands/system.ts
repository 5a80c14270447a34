// version, info, system df, system prune, events
import { ApiError, ConnectionError } from '../../client/errors';
import { CLIENT_API_VERSION } from '../../client/client';
import type { ContainerSummary, ImageSummary, Json, VersionResponse } from '../../client/types';
import { FILTER_FLAG, FORMAT_FLAG, INSPECT_FORMAT_FLAG, parseFilterFlags, PROG, StatusError, VERSION, type Cli, type CommandSpec } from '../cli';
import { containerContext, headerContext, renderRows, TABLE, templateString } from '../formatter';
import { familiarName, parseNormalizedNamed, truncateId } from '../reference';
import { TabWriter } from '../tabwriter';
import { STRUCT, Template, TemplateError, type StructValue } from '../template';
import { getTimestamp, rfc3339NanoFixed } from '../timestamp';
import { bytesSize, humanSize, humanSizeWithPrecision, timeAgo } from '../units';
import { confirm } from './lifecycle';

function struct(type: string, fields: Record<string, unknown>, json?: () => unknown): StructValue {
  Object.defineProperty(fields, STRUCT, { value: type, enumerable: false });
  if (json) Object.defineProperty(fields, 'toJSON', { value: json, enumerable: false });
  return fields as StructValue;
}

function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}

/** time.ANSIC ("Mon Jan  2 15:04:05 2006") for RFC3339 build times, as reformatDate does. */
function reformatDate(s: string): string {
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(s) || Number.isNaN(t)) return s;
  const d = new Date(t);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

const VERSION_TEMPLATE = `{{with .Client -}}
Client:{{if ne .Platform nil}}{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}{{end}}
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Node version:\t{{.GoVersion}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- $detailsOrder := getDetailsOrder $component}}
  {{- range $key := $detailsOrder}}
  {{$key}}:\t{{index $component.Details $key}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}`;

function serverVersionValue(sv: VersionResponse): StructValue {
  const s = sv as Record<string, unknown>;
  const comps = ((sv.Components ?? []) as { Name: string; Version: string; Details?: Record<string, string> }[]).map((c) => {
    const details = { ...(c.Details ?? {}) };
    if (c.Name === 'Engine' && details.BuildTime) details.BuildTime = reformatDate(details.BuildTime);
    return struct('types.ComponentVersion', { Name: c.Name, Version: c.Version, Details: details }, () => ({ Name: c.Name, Version: c.Version, Details: details }));
  });
  if (!comps.some((c) => c.Name === 'Engine')) {
    const details = {
      ApiVersion: String(s.ApiVersion ?? ''), MinAPIVersion: String(s.MinAPIVersion ?? ''), GitCommit: String(s.GitCommit ?? ''),
      GoVersion: String(s.GoVersion ?? ''), Os: String(s.Os ?? ''), Arch: String(s.Arch ?? ''),
      BuildTime: reformatDate(String(s.BuildTime ?? '')), Experimental: String(Boolean(s.Experimental)),
    };
    comps.push(struct('types.ComponentVersion', { Name: 'Engine', Version: String(s.Version ?? ''), Details: details }, () => ({ Name: 'Engine', Version: s.Version, Details: details })));
  }
  const platform = struct('struct { Name string }', { Name: String((s.Platform as { Name?: string } | undefined)?.Name ?? '') });
  return struct('*types.Version', {
    Platform: platform,
    Components: comps,
    Version: s.Version ?? '',
    APIVersion: s.ApiVersion ?? '',
    MinAPIVersion: s.MinAPIVersion ?? '',
    GitCommit: s.GitCommit ?? '',
    GoVersion: s.GoVersion ?? '',
    Os: s.Os ?? '',
    Arch: s.Arch ?? '',
    KernelVersion: s.KernelVersion ?? '',
    Experimental: Boolean(s.Experimental),
    BuildTime: s.BuildTime ?? '',
  }, () => ({ ...s, Components: comps.map((c) => (c as unknown as { toJSON(): unknown }).toJSON()) }));
}

export const version: CommandSpec = {
  use: 'version [OPTIONS]',
  short: 'Show the Docker version information',
  args: { exact: 0 },
  flags: [INSPECT_FORMAT_FLAG],
  async run(cli, fl) {
    let format = fl.string('format');
    if (format === '') format = VERSION_TEMPLATE;
    else if (format === 'json') format = '{{json .}}';
    let tmpl: Template;
    try {
      tmpl = Template.parse(format, { name: 'version', funcs: { getDetailsOrder: (c: unknown) => Object.keys(((c as { Details?: object }).Details) ?? {}).sort() } });
    } catch (e) {
      throw new StatusError(64, `template parsing error: ${(e as Error).message}`);
    }
    let apiVersion = CLIENT_API_VERSION;
    let server: StructValue | null = null;
    let err: Error | undefined;
    try {
      server = serverVersionValue(await cli.client.version());
      apiVersion = cli.client.currentVersion();
    } catch (e) {
      err = e as Error;
    }
    const clientFields = {
      Platform: null, Version: VERSION, APIVersion: apiVersion, DefaultAPIVersion: CLIENT_API_VERSION, GitCommit: '',
      GoVersion: `node ${process.version}`, Os: process.platform, Arch: goArch(), BuildTime: '', Context: 'default',
    };
    const clientV = struct('system.clientVersion', { ...clientFields }, () => ({
      Version: VERSION, ApiVersion: apiVersion, DefaultAPIVersion: CLIENT_API_VERSION, GoVersion: clientFields.GoVersion,
      Os: clientFields.Os, Arch: clientFields.Arch, Context: 'default',
    }));
    const data = struct('system.versionInfo', { Client: clientV, Server: server }, () => ({ Client: clientV, Server: server }));
    const r = tmpl.executePartial(data);
    const tw = new TabWriter(20, 1, 1, ' ');
    tw.write(r.out + '\n');
    cli.out(tw.flush());
    if (err) throw err;
    if (r.err) throw new Error(r.err.message);
  },
};

// ---------------------------------------------------------------------------
// info

function serverInfoLines(i: Json, debug: boolean, userName?: string): string {
  const lines: string[] = [];
  const ln = (...a: unknown[]): void => {
    lines.push(a.map((x) => (typeof x === 'string' ? x : String(x))).join(' '));
  };
  const nonEmpty = (label: string, v: unknown): void => {
    if (v !== undefined && v !== null && v !== '') ln(label, v);
  };
  const s = (k: string): string => (i[k] === undefined || i[k] === null ? '' : String(i[k]));
  const n = (k: string): number => Number(i[k] ?? 0);
  ln(' Containers:', n('Containers'));
  ln('  Running:', n('ContainersRunning'));
  ln('  Paused:', n('ContainersPaused'));
  ln('  Stopped:', n('ContainersStopped'));
  ln(' Images:', n('Images'));
  nonEmpty(' Server Version:', s('ServerVersion'));
  nonEmpty(' Storage Driver:', s('Driver'));
  for (const pair of (i.DriverStatus as string[][] | null) ?? []) lines.push(`  ${pair[0]}: ${pair[1]}`);
  for (const pair of (i.SystemStatus as string[][] | null) ?? []) lines.push(` ${pair[0]}: ${pair[1]}`);
  nonEmpty(' Logging Driver:', s('LoggingDriver'));
  nonEmpty(' Cgroup Driver:', s('CgroupDriver'));
  nonEmpty(' Cgroup Version:', s('CgroupVersion'));
  const plugins = (i.Plugins as Record<string, string[] | null> | undefined) ?? {};
  ln(' Plugins:');
  ln('  Volume:', (plugins.Volume ?? []).join(' '));
  ln('  Network:', (plugins.Network ?? []).join(' '));
  if ((plugins.Authorization ?? []).length) ln('  Authorization:', (plugins.Authorization ?? []).join(' '));
  ln('  Log:', (plugins.Log ?? []).join(' '));
  const swarm = (i.Swarm as Record<string, unknown> | undefined) ?? {};
  ln(' Swarm:', String(swarm.LocalNodeState ?? ''));
  const runtimes = Object.keys((i.Runtimes as object | undefined) ?? {});
  if (runtimes.length) {
    ln(' Runtimes:', runtimes.join(' '));
    ln(' Default Runtime:', s('DefaultRuntime'));
  }
  if (s('OSType') === 'linux') {
    const commit = (k: string): string => String(((i[k] as { ID?: string } | undefined) ?? {}).ID ?? '');
    ln(' Init Binary:', s('InitBinary'));
    ln(' containerd version:', commit('ContainerdCommit'));
    ln(' runc version:', commit('RuncCommit'));
    ln(' init version:', commit('InitCommit'));
    const so = (i.SecurityOptions as string[] | null) ?? [];
    if (so.length) {
      ln(' Security Options:');
      for (const opt of so) {
        const kv = Object.fromEntries(opt.split(',').map((p) => {
          const j = p.indexOf('=');
          return j < 0 ? [p, ''] : [p.slice(0, j), p.slice(j + 1)];
        }));
        lines.push('  ' + (kv.name ?? opt));
        if (kv.profile) ln('   Profile:', kv.profile);
      }
    }
  }
  nonEmpty(' Kernel Version:', s('KernelVersion'));
  nonEmpty(' Operating System:', s('OperatingSystem'));
  nonEmpty(' OSType:', s('OSType'));
  nonEmpty(' Architecture:', s('Architecture'));
  ln(' CPUs:', n('NCPU'));
  ln(' Total Memory:', bytesSize(n('MemTotal')));
  nonEmpty(' Name:', s('Name'));
  nonEmpty(' ID:', s('ID'));
  ln(' Docker Root Dir:', s('DockerRootDir'));
  ln(' Debug Mode:', Boolean(i.Debug));
  if (i.Debug || debug) {
    ln('  File Descriptors:', n('NFd'));
    ln('  Goroutines:', n('NGoroutines'));
    ln('  System Time:', s('SystemTime'));
    ln('  EventsListeners:', n('NEventsListener'));
  }
  nonEmpty(' HTTP Proxy:', s('HttpProxy'));
  nonEmpty(' HTTPS Proxy:', s('HttpsProxy'));
  nonEmpty(' No Proxy:', s('NoProxy'));
  nonEmpty(' Username:', userName ?? '');
  const labels = (i.Labels as string[] | null) ?? [];
  if (labels.length) {
    ln(' Labels:');
    for (const l of labels) lines.push('  ' + l);
  }
  ln(' Experimental:', Boolean(i.ExperimentalBuild));
  const reg = (i.RegistryConfig as { InsecureRegistryCIDRs?: string[] | null; IndexConfigs?: Record<string, { Name: string; Secure: boolean }> | null; Mirrors?: string[] | null } | undefined) ?? undefined;
  if (reg && ((reg.InsecureRegistryCIDRs ?? []).length || Object.keys(reg.IndexConfigs ?? {}).length)) {
    ln(' Insecure Registries:');
    for (const c of Object.values(reg.IndexConfigs ?? {})) if (!c.Secure) lines.push('  ' + c.Name);
    for (const c of reg.InsecureRegistryCIDRs ?? []) lines.push('  ' + c);
  }
  if (reg && (reg.Mirrors ?? []).length) {
    ln(' Registry Mirrors:');
    for (const m of reg.Mirrors ?? []) lines.push('  ' + m);
  }
  ln(' Live Restore Enabled:', Boolean(i.LiveRestoreEnabled));
  if (s('ProductLicense')) ln(' Product License:', s('ProductLicense'));
  return lines.join('\n') + '\n\n';
}

export const info: CommandSpec = {
  use: 'info [OPTIONS]',
  short: 'Display system-wide information',
  aliases: [`${PROG} system info`, `${PROG} info`],
  args: { exact: 0 },
  flags: [INSPECT_FORMAT_FLAG],
  async run(cli, fl) {
    const format = fl.string('format');
    let server: Json | null = null;
    const serverErrors: string[] = [];
    let apiVersion = CLIENT_API_VERSION;
    try {
      server = await cli.client.info();
      apiVersion = cli.client.currentVersion();
    } catch (e) {
      if (e instanceof ConnectionError && format === '') {
        cli.out(`Client:\n Version:    ${VERSION}\n Context:    default\n Debug Mode: ${cli.debug}\n\nServer:\n`);
        throw e;
      }
      if (e instanceof ConnectionError) throw e;
      serverErrors.push((e as Error).message);
      if (format) cli.err((e as Error).message + '\n');
    }
    const clientInfo = { Version: VERSION, GoVersion: `node ${process.version}`, GitCommit: '', BuildTime: '', Context: 'default', Debug: cli.debug, APIVersion: apiVersion };
    if (format === '') {
      let out = `Client:\n Version:    ${VERSION}\n Context:    default\n Debug Mode: ${cli.debug}\n\nServer:\n`;
      if (server) out += serverInfoLines(server, cli.debug);
      cli.out(out);
      for (const w of (server?.Warnings as string[] | null) ?? []) cli.err(w + '\n');
      if (serverErrors.length) {
        for (const e of serverErrors) cli.err(`ERROR: ${e}\n`);
        throw new Error('errors pretty printing info');
      }
      return;
    }
    const data: Record<string, unknown> = { ...(server ?? {}), ClientInfo: clientInfo };
    if (serverErrors.length) data.ServerErrors = serverErrors;
    const f = format === 'json' ? '{{json .}}' : format;
    let tmpl: Template;
    try {
      tmpl = Template.parse(templateString(f));
    } catch (e) {
      throw new StatusError(64, `template parsing error: ${(e as Error).message}`);
    }
    try {
      cli.out(tmpl.execute(data) + '\n');
    } catch (e) {
      if (e instanceof TemplateError) throw new Error(`template: ${e.message.replace(/^template: /, '')}`);
      throw e;
    }
  },
};

// ---------------------------------------------------------------------------
// system df

const DF_HEADER = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

function pctOf(reclaimable: number, total: number): string {
  return total > 0 ? `${humanSize(reclaimable)} (${Math.trunc((reclaimable * 100) / total)}%)` : humanSize(reclaimable);
}

export const df: CommandSpec = {
  use: 'df [OPTIONS]',
  short: 'Show docker disk usage',
  aliases: [`${PROG} system df`],
  args: { exact: 0 },
  flags: [FORMAT_FLAG, { name: 'verbose', short: 'v', type: 'bool', help: 'Show detailed information on space usage' }],
  async run(cli, fl) {
    const du = await cli.client.systemDf();
    const imgs = (du.Images as ImageSummary[] | null) ?? [];
    const ctrs = (du.Containers as ContainerSummary[] | null) ?? [];
    const vols = (du.Volumes as { Name: string; UsageData?: { Size: number; RefCount: number } | null }[] | null) ?? [];
    const cache = (du.BuildCache as { InUse?: boolean; Shared?: boolean; Size?: number }[] | null) ?? [];
    const layers = Number(du.LayersSize ?? 0);
    const builderSize = Number(du.BuilderSize ?? 0);
    const format = fl.string('format') || TABLE;
    if (fl.bool('verbose')) {
      cli.out(dfVerbose(imgs, ctrs, vols, builderSize));
      return;
    }
    const active = (c: ContainerSummary): boolean => ['running', 'paused', 'restarting'].includes(c.State);
    const mk = (type: string, total: number, act: number, size: string, recl: string): StructValue =>
      struct('*formatter.diskUsageContext', { Type: () => type, TotalCount: () => String(total), Active: () => String(act), Size: () => size, Reclaimable: () => recl },
        () => ({ Active: String(act), Reclaimable: recl, Size: size, TotalCount: String(total), Type: type }));
    let usedImg = 0;
    for (const i of imgs) if ((i.Containers ?? 0) !== 0 && i.Size !== -1 && (i.SharedSize ?? -1) !== -1) usedImg += i.Size - (i.SharedSize ?? 0);
    const ctrSize = ctrs.reduce((a, c) => a + (c.SizeRw ?? 0), 0);
    const ctrRecl = ctrs.filter((c) => !active(c)).reduce((a, c) => a + (c.SizeRw ?? 0), 0);
    let volSize = 0;
    let volRecl = 0;
    for (const v of vols) {
      const u = v.UsageData ?? { Size: -1, RefCount: 0 };
      if (u.Size !== -1) {
        if (u.RefCount === 0) volRecl += u.Size;
        volSize += u.Size;
      }
    }
    const inUse = cache.filter((b) => b.InUse && !b.Shared).reduce((a, b) => a + (b.Size ?? 0), 0);
    const rows = [
      mk('Images', imgs.length, imgs.filter((i) => (i.Containers ?? 0) > 0).length, humanSize(layers), pctOf(layers - usedImg, layers)),
      mk('Containers', ctrs.length, ctrs.filter(active).length, humanSize(ctrSize), pctOf(ctrRecl, ctrSize)),
      mk('Local Volumes', vols.length, vols.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length, humanSize(volSize), pctOf(volRecl, volSize)),
      mk('Build Cache', cache.length, cache.filter((b) => b.InUse).length, humanSize(builderSize), humanSize(builderSize - inUse)),
    ];
    const f = format === TABLE ? 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}' : format;
    cli.out(renderRows(f, headerContext(DF_HEADER), rows));
  },
};

function dfVerbose(imgs: ImageSummary[], ctrs: ContainerSummary[], vols: { Name: string; UsageData?: { Size: number; RefCount: number } | null }[], builderSize: number): string {
  let out = 'Images space usage:\n\n';
  const imgRows = imgs.map((i) => {
    let repo = '<none>';
    let tag = '<none>';
    const t = (i.RepoTags ?? [])[0];
    if (t && t !== '<none>:<none>') {
      try {
        const r = parseNormalizedNamed(t);
        if (r.tag !== undefined) {
          repo = familiarName(r);
          tag = r.tag;
        }
      } catch {
        // keep <none>
      }
    }
    return struct('*formatter.imageContext', {
      Repository: repo, Tag: tag, ID: truncateId(i.Id), CreatedSince: timeAgo(i.Created), Size: humanSizeWithPrecision(i.Size, 3),
      SharedSize: i.SharedSize === undefined || i.SharedSize === -1 ? 'N/A' : humanSize(i.SharedSize),
      UniqueSize: i.SharedSize === undefined || i.SharedSize === -1 || i.Size === -1 ? 'N/A' : humanSize(i.Size - i.SharedSize),
      Containers: i.Containers === undefined || i.Containers === -1 ? 'N/A' : String(i.Containers),
    });
  });
  out += renderRows('table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}',
    headerContext({ Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', Containers: 'CONTAINERS' }), imgRows);
  out += '\nContainers space usage:\n\n';
  out += renderRows('table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}',
    headerContext({ ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', LocalVolumes: 'LOCAL VOLUMES', Size: 'SIZE', RunningFor: 'CREATED', Status: 'STATUS', Names: 'NAMES' }),
    ctrs.map((c) => containerContext({ ...c, SizeRootFs: 0 }, { trunc: true })));
  out += '\nLocal Volumes space usage:\n\n';
  out += renderRows('table {{.Name}}\t{{.Links}}\t{{.Size}}', headerContext({ Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' }),
    vols.map((v) => struct('*formatter.volumeContext', {
      Name: v.Name, Links: v.UsageData ? String(v.UsageData.RefCount) : 'N/A',
      Size: v.UsageData && v.UsageData.Size !== -1 ? humanSize(v.UsageData.Size) : 'N/A',
    })));
  out += `\nBuild cache usage: ${humanSize(builderSize)}\n\n`;
  out += renderRows('table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}',
    headerContext({ ID: 'CACHE ID', CacheType: 'CACHE TYPE', Size: 'SIZE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE', Shared: 'SHARED' }), []);
  return out;
}

// ---------------------------------------------------------------------------
// system prune

export const systemPrune: CommandSpec = {
  use: 'prune [OPTIONS]',
  short: 'Remove unused data',
  aliases: [`${PROG} system prune`],
  args: { exact: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images not just dangling ones' },
    { ...FILTER_FLAG, short: undefined, help: 'Provide filter values (e.g. "label=<key>=<value>")' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
    { name: 'volumes', type: 'bool', help: 'Prune anonymous volumes' },
  ],
  async run(cli, fl) {
    const all = fl.bool('all');
    const vols = fl.bool('volumes');
    if (!fl.bool('force')) {
      const items = ['all stopped containers', 'all networks not used by at least one container'];
      if (vols) items.push('all anonymous volumes not used by at least one container');
      items.push(all ? 'all images without at least one container associated to them' : 'all dangling images');
      items.push(all ? 'all build cache' : 'unused build cache');
      const msg = `WARNING! This will remove:\n${items.map((i) => `  - ${i}\n`).join('')}\nAre you sure you want to continue?`;
      if (!(await confirm(cli, msg))) throw new StatusError(1, '');
    }
    const filters = parseFilterFlags(fl.list('filter'));
    let space = 0;
    let out = '';
    const c = await cli.client.containersPrune(filters);
    const cd = (c.ContainersDeleted as string[] | null) ?? [];
    if (cd.length) out += 'Deleted Containers:\n' + cd.map((x) => x + '\n').join('') + '\n';
    space += Number(c.SpaceReclaimed ?? 0);
    const n = await cli.client.networksPrune(filters).catch(ignore501);
    const nd = ((n?.NetworksDeleted as string[] | null) ?? []);
    if (nd.length) out += 'Deleted Networks:\n' + nd.map((x) => x + '\n').join('') + '\n';
    if (vols) {
      const v = await cli.client.volumesPrune(filters).catch(ignore501);
      const vd = (v?.VolumesDeleted as string[] | null) ?? [];
      if (vd.length) out += 'Deleted Volumes:\n' + vd.map((x) => x + '\n').join('') + '\n';
      space += Number(v?.SpaceReclaimed ?? 0);
    }
    const i = await cli.client.imagesPrune({ ...filters, dangling: [all ? 'false' : 'true'] });
    const id = (i.ImagesDeleted as { Untagged?: string; Deleted?: string }[] | null) ?? [];
    if (id.length) out += 'Deleted Images:\n' + id.map((d) => (d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted ?? ''}\n`)).join('') + '\n';
    space += Number(i.SpaceReclaimed ?? 0);
    const b = await cli.client.buildPrune({ all, filters }).catch(ignore501);
    const bd = (b?.CachesDeleted as string[] | null) ?? [];
    if (bd.length) out += 'Deleted build cache objects:\n' + bd.map((x) => x + '\n').join('') + '\n';
    space += Number(b?.SpaceReclaimed ?? 0);
    out += `Total reclaimed space: ${humanSize(space)}\n`;
    cli.out(out);
  },
};

function ignore501(e: unknown): null {
  if (e instanceof ApiError && (e.status === 501 || e.status === 404)) return null;
  throw e;
}

// ---------------------------------------------------------------------------
// events

function eventValue(raw: Json): StructValue {
  const actor = (raw.Actor as { ID?: string; Attributes?: Record<string, string> } | undefined) ?? {};
  return struct('events.Message', {
    Status: raw.status ?? '',
    ID: raw.id ?? '',
    From: raw.from ?? '',
    Type: raw.Type ?? '',
    Action: raw.Action ?? '',
    Actor: struct('events.Actor', { ID: actor.ID ?? '', Attributes: actor.Attributes ?? {} }),
    Scope: raw.scope ?? '',
    Time: raw.time ?? 0,
    TimeNano: raw.timeNano ?? 0,
  }, () => raw);
}

export function prettyEvent(raw: Json, timeNano: bigint | undefined): string {
  let out = '';
  if (timeNano !== undefined && timeNano !== 0n) out += rfc3339NanoFixed(timeNano) + ' ';
  else if (raw.time) out += rfc3339NanoFixed(BigInt(raw.time as number) * 1000000000n) + ' ';
  const actor = (raw.Actor as { ID?: string; Attributes?: Record<string, string> } | undefined) ?? {};
  out += `${String(raw.Type ?? '')} ${String(raw.Action ?? '')} ${actor.ID ?? ''}`;
  const attrs = actor.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length) out += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return out + '\n';
}

export const events: CommandSpec = {
  use: 'events [OPTIONS]',
  short: 'Get real time events from the server',
  aliases: [`${PROG} system events`, `${PROG} events`],
  args: { exact: 0 },
  flags: [
    FILTER_FLAG,
    { ...INSPECT_FORMAT_FLAG, short: undefined },
    { name: 'since', type: 'string', help: 'Show all events created since timestamp' },
    { name: 'until', type: 'string', help: 'Stream events until this timestamp' },
  ],
  async run(cli, fl) {
    let format = fl.string('format');
    if (format === 'json') format = '{{json .}}';
    let tmpl: Template | undefined;
    if (format) {
      try {
        tmpl = Template.parse(format);
        tmpl.execute(eventValue({}));
      } catch (e) {
        throw new Error((e as Error).message);
      }
    }
    const now = Date.now();
    const since = fl.string('since') ? getTimestamp(fl.string('since'), now) : undefined;
    const until = fl.string('until') ? getTimestamp(fl.string('until'), now) : undefined;
    const res = await cli.client.events({ since, until, filters: parseFilterFlags(fl.list('filter')) });
    let buf = '';
    const handle = (line: string): void => {
      if (!line.trim()) return;
      const raw = JSON.parse(line) as Json;
      if (tmpl) {
        cli.out(tmpl.execute(eventValue(raw)) + '\n');
        return;
      }
      const m = /"timeNano"\s*:\s*(\d+)/.exec(line);
      cli.out(prettyEvent(raw, m ? BigInt(m[1]!) : undefined));
    };
    await new Promise<void>((resolve, reject) => {
      res.body.on('data', (c: Buffer) => {
        buf += c.toString();
        let i: number;
        try {
          while ((i = buf.indexOf('\n')) >= 0) {
            handle(buf.slice(0, i));
            buf = buf.slice(i + 1);
          }
        } catch (e) {
          res.body.destroy();
          reject(e as Error);
        }
      });
      res.body.on('end', () => {
        try {
          handle(buf);
          resolve();
        } catch (e) {
          reject(e as Error);
        }
      });
      res.body.on('error', reject);
    });
  },
};


