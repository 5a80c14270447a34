// `run`/`create` flags and their translation into the Docker create body
// (Config at top level + HostConfig + NetworkingConfig), following the docker
// CLI's container/opts.go field by field (same keys, same order, same
// defaults), so the daemon sees what it would see from `docker run`.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { FlagDef, Flags } from './flags';
import { parseSize } from './units';

const f = (name: string, type: FlagDef['type'], help: string, extra: Partial<FlagDef> = {}): FlagDef => ({ name, type, help, ...extra });

/** Flags shared by `run` and `create` (docker's addFlags). */
export const CONTAINER_FLAGS: FlagDef[] = [
  f('add-host', 'list', 'Add a custom host-to-IP mapping (host:ip)'),
  f('annotation', 'list', 'Add an annotation to the container (passed through to the OCI runtime)', { valueName: 'map' }),
  f('attach', 'list', 'Attach to STDIN, STDOUT or STDERR', { short: 'a' }),
  f('blkio-weight', 'int', 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)', { valueName: 'uint16' }),
  f('blkio-weight-device', 'list', 'Block IO weight (relative device weight)'),
  f('cap-add', 'list', 'Add Linux capabilities'),
  f('cap-drop', 'list', 'Drop Linux capabilities'),
  f('cgroup-parent', 'string', 'Optional parent cgroup for the container'),
  f('cgroupns', 'string', 'Cgroup namespace to use (host|private)'),
  f('cidfile', 'string', 'Write the container ID to the file'),
  f('cpu-count', 'int', 'CPU count (Windows only)', { hidden: true }),
  f('cpu-percent', 'int', 'CPU percent (Windows only)', { hidden: true }),
  f('cpu-period', 'int', 'Limit CPU CFS (Completely Fair Scheduler) period'),
  f('cpu-quota', 'int', 'Limit CPU CFS (Completely Fair Scheduler) quota'),
  f('cpu-rt-period', 'int', 'Limit CPU real-time period in microseconds'),
  f('cpu-rt-runtime', 'int', 'Limit CPU real-time runtime in microseconds'),
  f('cpu-shares', 'int', 'CPU shares (relative weight)', { short: 'c' }),
  f('cpus', 'string', 'Number of CPUs', { valueName: 'decimal' }),
  f('cpuset-cpus', 'string', 'CPUs in which to allow execution (0-3, 0,1)'),
  f('cpuset-mems', 'string', 'MEMs in which to allow execution (0-3, 0,1)'),
  f('device', 'list', 'Add a host device to the container'),
  f('device-cgroup-rule', 'list', 'Add a rule to the cgroup allowed devices list'),
  f('device-read-bps', 'list', 'Limit read rate (bytes per second) from a device'),
  f('device-read-iops', 'list', 'Limit read rate (IO per second) from a device'),
  f('device-write-bps', 'list', 'Limit write rate (bytes per second) to a device'),
  f('device-write-iops', 'list', 'Limit write rate (IO per second) to a device'),
  f('dns', 'list', 'Set custom DNS servers'),
  f('dns-opt', 'list', 'Set DNS options', { hidden: true }),
  f('dns-option', 'list', 'Set DNS options'),
  f('dns-search', 'list', 'Set custom DNS search domains'),
  f('domainname', 'string', 'Container NIS domain name'),
  f('entrypoint', 'string', 'Overwrite the default ENTRYPOINT of the image'),
  f('env', 'list', 'Set environment variables', { short: 'e' }),
  f('env-file', 'list', 'Read in a file of environment variables'),
  f('expose', 'list', 'Expose a port or a range of ports'),
  f('gpus', 'string', "GPU devices to add to the container ('all' to pass all GPUs)", { valueName: 'gpu-request' }),
  f('group-add', 'list', 'Add additional groups to join'),
  f('health-cmd', 'string', 'Command to run to check health'),
  f('health-interval', 'string', 'Time between running the check (ms|s|m|h) (default 0s)', { valueName: 'duration' }),
  f('health-retries', 'int', 'Consecutive failures needed to report unhealthy'),
  f('health-start-interval', 'string', 'Time between running the check during the start period (ms|s|m|h) (default 0s)', { valueName: 'duration' }),
  f('health-start-period', 'string', 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)', { valueName: 'duration' }),
  f('health-timeout', 'string', 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)', { valueName: 'duration' }),
  f('help', 'bool', 'Print usage'),
  f('hostname', 'string', 'Container host name', { short: 'h' }),
  f('init', 'bool', 'Run an init inside the container that forwards signals and reaps processes'),
  f('interactive', 'bool', 'Keep STDIN open even if not attached', { short: 'i' }),
  f('io-maxbandwidth', 'string', 'Maximum IO bandwidth limit for the system drive (Windows only)', { hidden: true }),
  f('io-maxiops', 'int', 'Maximum IOps limit for the system drive (Windows only)', { hidden: true }),
  f('ip', 'string', 'IPv4 address (e.g., 172.30.100.104)'),
  f('ip6', 'string', 'IPv6 address (e.g., 2001:db8::33)'),
  f('ipc', 'string', 'IPC mode to use'),
  f('isolation', 'string', 'Container isolation technology'),
  f('kernel-memory', 'string', 'Kernel memory limit', { valueName: 'bytes', hidden: true }),
  f('label', 'list', 'Set meta data on a container', { short: 'l' }),
  f('label-file', 'list', 'Read in a line delimited file of labels'),
  f('link', 'list', 'Add link to another container'),
  f('link-local-ip', 'list', 'Container IPv4/IPv6 link-local addresses'),
  f('log-driver', 'string', 'Logging driver for the container'),
  f('log-opt', 'list', 'Log driver options'),
  f('mac-address', 'string', 'Container MAC address (e.g., 92:d0:c6:0a:29:33)'),
  f('memory', 'string', 'Memory limit', { short: 'm', valueName: 'bytes' }),
  f('memory-reservation', 'string', 'Memory soft limit', { valueName: 'bytes' }),
  f('memory-swap', 'string', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", { valueName: 'bytes' }),
  f('memory-swappiness', 'int', 'Tune container memory swappiness (0 to 100)', { default: -1 }),
  f('mount', 'list', 'Attach a filesystem mount to the container', { valueName: 'mount' }),
  f('name', 'string', 'Assign a name to the container'),
  f('net', 'list', 'Connect a container to a network', { hidden: true, valueName: 'network' }),
  f('net-alias', 'list', 'Add network-scoped alias for the container', { hidden: true }),
  f('network', 'list', 'Connect a container to a network', { valueName: 'network' }),
  f('network-alias', 'list', 'Add network-scoped alias for the container'),
  f('no-healthcheck', 'bool', 'Disable any container-specified HEALTHCHECK'),
  f('oom-kill-disable', 'bool', 'Disable OOM Killer'),
  f('oom-score-adj', 'int', "Tune host's OOM preferences (-1000 to 1000)"),
  f('pid', 'string', 'PID namespace to use'),
  f('pids-limit', 'int', 'Tune container pids limit (set -1 for unlimited)'),
  f('platform', 'string', 'Set platform if server is multi-platform capable'),
  f('privileged', 'bool', 'Give extended privileges to this container'),
  f('publish', 'list', "Publish a container's port(s) to the host", { short: 'p' }),
  f('publish-all', 'bool', 'Publish all exposed ports to random ports', { short: 'P' }),
  f('pull', 'string', 'Pull image before running ("always", "missing", "never")', { default: 'missing' }),
  f('quiet', 'bool', 'Suppress the pull output', { short: 'q' }),
  f('read-only', 'bool', "Mount the container's root filesystem as read only"),
  f('restart', 'string', 'Restart policy to apply when a container exits', { default: 'no' }),
  f('rm', 'bool', 'Automatically remove the container and its associated anonymous volumes when it exits'),
  f('runtime', 'string', 'Runtime to use for this container'),
  f('security-opt', 'list', 'Security Options'),
  f('shm-size', 'string', 'Size of /dev/shm', { valueName: 'bytes' }),
  f('stop-signal', 'string', 'Signal to stop the container'),
  f('stop-timeout', 'int', 'Timeout (in seconds) to stop a container'),
  f('storage-opt', 'list', 'Storage driver options for the container'),
  f('sysctl', 'list', 'Sysctl options', { valueName: 'map' }),
  f('tmpfs', 'list', 'Mount a tmpfs directory'),
  f('tty', 'bool', 'Allocate a pseudo-TTY', { short: 't' }),
  f('ulimit', 'list', 'Ulimit options', { valueName: 'ulimit' }),
  f('user', 'string', 'Username or UID (format: <name|uid>[:<group|gid>])', { short: 'u' }),
  f('userns', 'string', 'User namespace to use'),
  f('uts', 'string', 'UTS namespace to use'),
  f('volume', 'list', 'Bind mount a volume', { short: 'v' }),
  f('volume-driver', 'string', 'Optional volume driver for the container'),
  f('volumes-from', 'list', 'Mount volumes from the specified container(s)'),
  f('workdir', 'string', 'Working directory inside the container', { short: 'w' }),
];

/** run-only flags. */
export const RUN_FLAGS: FlagDef[] = [
  f('detach', 'bool', 'Run container in background and print container ID', { short: 'd' }),
  f('detach-keys', 'string', 'Override the key sequence for detaching a container'),
  f('sig-proxy', 'bool', 'Proxy received signals to the process', { default: true }),
];

export class OptsError extends Error {}

function sortedMap<T>(entries: [string, T][]): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = v;
  return out;
}

/** Go's time.ParseDuration, in nanoseconds. */
export function parseGoDurationNs(s: string): number {
  if (s === '0') return 0;
  const m = /^([+-])?((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (!m) throw new OptsError(`time: invalid duration "${s}"`);
  const unit: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  for (const part of s.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(part[1]) * unit[part[2]!]!;
  return Math.round(m[1] === '-' ? -total : total);
}

/** opts.ValidateEnv: "K" alone takes the value from the environment when set. */
export function validateEnv(val: string, env: NodeJS.ProcessEnv = process.env): string {
  const i = val.indexOf('=');
  const k = i < 0 ? val : val.slice(0, i);
  if (k === '') throw new OptsError(`invalid environment variable: ${val}`);
  if (i >= 0) return val;
  const v = env[k];
  return v !== undefined ? `${k}=${v}` : val;
}

/** kvfile.Parse: KEY=VALUE lines; comments and blank lines skipped; bare KEY from the environment (env files only). */
export function parseKVFile(path: string, fromEnv: boolean, env: NodeJS.ProcessEnv = process.env): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new OptsError(`open ${path}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
  }
  const out: string[] = [];
  let lineNo = 0;
  for (let line of text.split('\n')) {
    lineNo++;
    if (lineNo === 1) line = line.replace(/^\uFEFF/, '');
    line = line.replace(/\r$/, '').replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    const key = i < 0 ? line : line.slice(0, i);
    if (/\s/.test(key)) throw new OptsError(`variable '${key}' contains whitespaces`);
    if (i >= 0) out.push(line);
    else if (fromEnv) {
      const v = env[key];
      out.push(v !== undefined ? `${key}=${v}` : key);
    } else out.push(line);
  }
  return out;
}

function kvMap(values: string[]): Record<string, string> {
  return sortedMap(values.map((v) => {
    const i = v.indexOf('=');
    return i < 0 ? [v, ''] : [v.slice(0, i), v.slice(i + 1)];
  }));
}

export interface RestartPolicy {
  Name: string;
  MaximumRetryCount: number;
}

export function parseRestartPolicy(policy: string): RestartPolicy {
  if (policy === '') return { Name: '', MaximumRetryCount: 0 };
  const i = policy.indexOf(':');
  const k = i < 0 ? policy : policy.slice(0, i);
  const v = i < 0 ? '' : policy.slice(i + 1);
  if (i >= 0 && k === '') throw new OptsError('invalid restart policy format: no policy provided before colon');
  let count = 0;
  if (v !== '') {
    if (!/^[+-]?\d+$/.test(v)) throw new OptsError('invalid restart policy format: maximum retry count must be an integer');
    count = Number(v);
  }
  return { Name: k, MaximumRetryCount: count };
}

function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw.length === 0 || parts.length === 0 || parts[0]!.length === 0) return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if (parts[1]!.length === 0) return ['tcp', parts[0]!];
  return [parts[1]!, parts[0]!];
}

function parsePortRange(r: string, what: string): [number, number] {
  if (r === '') throw new OptsError('empty string specified for ports');
  const m = /^(\d+)(?:-(\d+))?$/.exec(r);
  if (!m) throw new OptsError(`invalid ${what}: ${r}`);
  const a = Number(m[1]);
  const b = m[2] !== undefined ? Number(m[2]) : a;
  if (a > 65535 || b > 65535) throw new OptsError(`invalid ${what}: ${r}`);
  if (b < a) throw new OptsError(`invalid range specified for ${what}: ${r}`);
  return [a, b];
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** nat.ParsePortSpecs for -p values. */
export function parsePortSpecs(specs: string[]): { exposed: Map<string, true>; bindings: Map<string, PortBinding[]> } {
  const exposed = new Map<string, true>();
  const bindings = new Map<string, PortBinding[]>();
  for (const raw of specs) {
    let spec = raw;
    let ip = '';
    let hostPort = '';
    let containerPort: string;
    // ip:hostPort:containerPort, ip::containerPort, hostPort:containerPort, containerPort; IPv6 in brackets
    const v6 = /^\[([^\]]+)\]:(.*)$/.exec(spec);
    if (v6) {
      ip = v6[1]!;
      const rest = v6[2]!;
      const j = rest.indexOf(':');
      if (j < 0) throw new OptsError(`invalid port format for --publish: ${raw}`);
      hostPort = rest.slice(0, j);
      containerPort = rest.slice(j + 1);
    } else {
      const parts = spec.split(':');
      if (parts.length === 1) containerPort = parts[0]!;
      else if (parts.length === 2) {
        hostPort = parts[0]!;
        containerPort = parts[1]!;
      } else if (parts.length === 3) {
        ip = parts[0]!;
        hostPort = parts[1]!;
        containerPort = parts[2]!;
      } else {
        // raw IPv6 without brackets: last two are host/container ports
        containerPort = parts.pop()!;
        hostPort = parts.pop()!;
        ip = parts.join(':');
      }
    }
    spec = containerPort;
    if (ip !== '' && !/^[0-9.]+$/.test(ip) && !ip.includes(':')) throw new OptsError(`invalid IP address: ${ip}`);
    const [proto, port] = splitProtoPort(spec);
    if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) throw new OptsError(`invalid proto: ${proto}`);
    const [startPort, endPort] = parsePortRange(port, 'containerPort');
    let startHost = 0;
    let endHost = 0;
    if (hostPort !== '') [startHost, endHost] = parsePortRange(hostPort, 'hostPort');
    if (hostPort !== '' && endPort - startPort !== endHost - startHost) {
      if (endPort !== startPort) throw new OptsError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
    }
    for (let i = 0; i <= endPort - startPort; i++) {
      const cp = `${startPort + i}/${proto.toLowerCase()}`;
      let hp = hostPort;
      if (hostPort !== '' && endHost - startHost === endPort - startPort) hp = String(startHost + i);
      else if (hostPort !== '' && endHost !== startHost) hp = `${startHost}-${endHost}`;
      exposed.set(cp, true);
      const list = bindings.get(cp) ?? [];
      list.push({ HostIp: ip, HostPort: hp });
      bindings.set(cp, list);
    }
  }
  return { exposed, bindings };
}

/** convertToStandardNotation: long-form "target=80,published=8080,protocol=udp". */
function convertPublish(values: string[]): string[] {
  return values.map((p) => {
    if (!p.includes('=')) return p;
    const params: Record<string, string> = { protocol: 'tcp' };
    for (const param of p.split(',')) {
      const i = param.indexOf('=');
      if (i <= 0) throw new OptsError(`invalid publish opts format (should be name=value but got '${param}')`);
      params[param.slice(0, i)] = param.slice(i + 1);
    }
    return `${params.published ?? ''}:${params.target ?? ''}/${params.protocol}`;
  });
}

/** The subset of loader.ParseVolume needed to split -v into Binds vs anonymous Volumes. */
export function splitVolume(spec: string): { source: string; target: string; mode: string } {
  const parts = spec.split(':');
  if (parts.length === 1) return { source: '', target: parts[0]!, mode: '' };
  if (parts.length === 2) {
    // "src:dst" or "dst:mode"
    if (/^(ro|rw|z|Z|nocopy|consistent|cached|delegated|shared|rshared|slave|rslave|private|rprivate)(,.*)?$/.test(parts[1]!) && parts[0]!.startsWith('/')) {
      return { source: '', target: parts[0]!, mode: parts[1]! };
    }
    return { source: parts[0]!, target: parts[1]!, mode: '' };
  }
  return { source: parts[0]!, target: parts[1]!, mode: parts.slice(2).join(':') };
}

interface Mount {
  Type: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: Record<string, unknown>;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; Subpath?: string; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

function parseCSV(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"' && cur === '') q = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** opts.MountOpt.Set */
export function parseMount(value: string): Mount {
  const m: Mount = { Type: 'volume' };
  const volOpts = (): NonNullable<Mount['VolumeOptions']> => {
    m.VolumeOptions ??= {};
    m.VolumeOptions.DriverConfig ??= {};
    return m.VolumeOptions;
  };
  const bindOpts = (): Record<string, unknown> => (m.BindOptions ??= {});
  const tmpfsOpts = (): NonNullable<Mount['TmpfsOptions']> => (m.TmpfsOptions ??= {});
  const bool = (key: string, val: string): boolean => {
    const b = { '1': true, t: true, T: true, true: true, TRUE: true, True: true, '0': false, f: false, F: false, false: false, FALSE: false, False: false }[val];
    if (b === undefined) throw new OptsError(`invalid value for ${key}: ${val}`);
    return b;
  };
  for (const field of parseCSV(value)) {
    const i = field.indexOf('=');
    const key = (i < 0 ? field : field.slice(0, i)).toLowerCase();
    const val = i < 0 ? '' : field.slice(i + 1);
    if (i < 0) {
      if (key === 'readonly' || key === 'ro') m.ReadOnly = true;
      else if (key === 'volume-nocopy') volOpts().NoCopy = true;
      else if (key === 'bind-nonrecursive') bindOpts().NonRecursive = true;
      else throw new OptsError(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type': m.Type = val.toLowerCase(); break;
      case 'source': case 'src':
        m.Source = !isAbsolute(val) && val.startsWith('.') ? resolvePath(val) : val;
        break;
      case 'target': case 'dst': case 'destination': m.Target = val; break;
      case 'readonly': case 'ro': m.ReadOnly = bool(key, val); break;
      case 'consistency': m.Consistency = val.toLowerCase(); break;
      case 'bind-propagation': bindOpts().Propagation = val.toLowerCase(); break;
      case 'bind-nonrecursive': bindOpts().NonRecursive = bool(key, val); break;
      case 'bind-recursive':
        if (val === 'disabled') bindOpts().NonRecursive = true;
        else if (val === 'writable') bindOpts().ReadOnlyNonRecursive = true;
        else if (val === 'readonly') bindOpts().ReadOnlyForceRecursive = true;
        else if (val !== 'enabled') throw new OptsError(`invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`);
        break;
      case 'volume-subpath': volOpts().Subpath = val; break;
      case 'volume-nocopy': volOpts().NoCopy = bool(key, val); break;
      case 'volume-label': {
        const j = val.indexOf('=');
        const k = j < 0 ? val : val.slice(0, j);
        if (k) (volOpts().Labels ??= {})[k] = j < 0 ? '' : val.slice(j + 1);
        break;
      }
      case 'volume-driver': volOpts().DriverConfig!.Name = val; break;
      case 'volume-opt': {
        const j = val.indexOf('=');
        const k = j < 0 ? val : val.slice(0, j);
        if (k) (volOpts().DriverConfig!.Options ??= {})[k] = j < 0 ? '' : val.slice(j + 1);
        break;
      }
      case 'tmpfs-size':
        try {
          tmpfsOpts().SizeBytes = parseSize(val);
        } catch {
          throw new OptsError(`invalid value for ${key}: ${val}`);
        }
        break;
      case 'tmpfs-mode':
        if (!/^[0-7]+$/.test(val)) throw new OptsError(`invalid value for ${key}: ${val}`);
        tmpfsOpts().Mode = parseInt(val, 8);
        break;
      default:
        throw new OptsError(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!m.Target) throw new OptsError('target is required');
  if (m.VolumeOptions && m.Type !== 'volume') throw new OptsError(`cannot mix 'volume-*' options with mount type '${m.Type}'`);
  if (m.BindOptions && m.Type !== 'bind') throw new OptsError(`cannot mix 'bind-*' options with mount type '${m.Type}'`);
  if (m.TmpfsOptions && m.Type !== 'tmpfs') throw new OptsError(`cannot mix 'tmpfs-*' options with mount type '${m.Type}'`);
  // JSON key order as Go marshals mount.Mount
  const out: Mount = { Type: m.Type };
  if (m.Source) out.Source = m.Source;
  out.Target = m.Target;
  if (m.ReadOnly) out.ReadOnly = true;
  if (m.Consistency) out.Consistency = m.Consistency;
  if (m.BindOptions) out.BindOptions = m.BindOptions;
  if (m.VolumeOptions) {
    const vo: NonNullable<Mount['VolumeOptions']> = {};
    if (m.VolumeOptions.NoCopy) vo.NoCopy = true;
    if (m.VolumeOptions.Labels && Object.keys(m.VolumeOptions.Labels).length) vo.Labels = m.VolumeOptions.Labels;
    if (m.VolumeOptions.Subpath) vo.Subpath = m.VolumeOptions.Subpath;
    const dc = m.VolumeOptions.DriverConfig;
    if (dc && (dc.Name || dc.Options)) {
      vo.DriverConfig = {};
      if (dc.Name) vo.DriverConfig.Name = dc.Name;
      if (dc.Options) vo.DriverConfig.Options = dc.Options;
    }
    out.VolumeOptions = vo;
  }
  if (m.TmpfsOptions) out.TmpfsOptions = m.TmpfsOptions;
  return out;
}

const ulimitNames = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

/** go-units ParseUlimit; its errors as the --ulimit flag's value errors. */
function parseUlimit(v: string): { Name: string; Hard: number; Soft: number } {
  const fail = (msg: string): never => { throw new OptsError(`invalid argument "${v}" for "--ulimit" flag: ${msg}`); };
  const i = v.indexOf('=');
  if (i < 0) fail(`invalid ulimit argument: ${v}`);
  const name = v.slice(0, i);
  if (!ulimitNames.includes(name)) fail(`invalid ulimit type: ${name}`);
  const lim = v.slice(i + 1).split(':');
  if (lim.length > 2) fail(`too many limit value arguments - ${v.slice(i + 1)}, can only have up to two, \`soft[:hard]\``);
  const num = (x: string): number => {
    if (!/^[+-]?\d+$/.test(x)) fail(`strconv.ParseInt: parsing ${JSON.stringify(x)}: invalid syntax`);
    return Number(x);
  };
  const hard = lim.length > 1 ? num(lim[1]!) : undefined;
  const soft = num(lim[0]!);
  const h = hard ?? soft;
  if (h !== -1) {
    if (soft === -1) fail(`ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: ${h}`);
    if (soft > h) fail(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${h}`);
  }
  return { Name: name, Hard: h, Soft: soft };
}

/** The docker CLI's validDeviceMode: r, w, m, each at most once. */
function validDeviceMode(mode: string): boolean {
  return mode !== '' && /^[rwm]+$/.test(mode) && new Set(mode).size === mode.length;
}

/** The docker CLI's validateLinuxPath for --device (its errors come before the daemon is asked). */
function validateDevice(d: string): void {
  const split = d.split(':');
  if (split.length > 3 || split[0] === '') throw new OptsError(`bad format for path: ${d}`);
  let containerPath = d;
  if (split.length === 2) containerPath = validDeviceMode(split[1]!) ? split[0]! : split[1]!;
  else if (split.length === 3) {
    containerPath = split[1]!;
    if (!validDeviceMode(split[2]!)) throw new OptsError(`bad mode specified: ${split[2]}`);
  }
  if (!containerPath.startsWith('/')) throw new OptsError(`${containerPath} is not an absolute path`);
}

function parseDevice(d: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  validateDevice(d);
  const parts = d.split(':');
  let src = parts[0]!;
  let dst = '';
  let perms = 'rwm';
  if (parts.length === 2) {
    if (validDeviceMode(parts[1]!)) perms = parts[1]!;
    else dst = parts[1]!;
  } else if (parts.length === 3) {
    dst = parts[1]!;
    perms = parts[2]!;
  } else if (parts.length > 3) throw new OptsError(`invalid device specification: ${d}`);
  if (!dst) dst = src;
  if (!src) throw new OptsError(`invalid device specification: ${d}`);
  src = src.trim();
  return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms };
}

export function nanoCpus(v: string): number {
  if (v === '') return 0;
  const n = Number(v);
  if (Number.isNaN(n)) throw new OptsError(`failed to parse ${v} as a rational number`);
  const ns = n * 1e9;
  if (Math.abs(ns - Math.round(ns)) > 1e-6) throw new OptsError(`value is too precise`);
  return Math.round(ns);
}

export function mem(v: string, what: string): number {
  if (v === '') return 0;
  try {
    return parseSize(v);
  } catch (e) {
    throw new OptsError(`invalid argument "${v}" for "${what}" flag: ${(e as Error).message}`);
  }
}

/** The docker CLI's opts.ValidateExtraHost: host:ip, host=ip, [v6] or host-gateway; sent as host:ip. */
export function validateExtraHost(v: string): string {
  let i = v.indexOf('=');
  if (i < 0) i = v.indexOf(':');
  const k = i < 0 ? '' : v.slice(0, i);
  let ip = i < 0 ? '' : v.slice(i + 1);
  if (i < 0 || k === '' || k.includes(':')) throw new OptsError(`invalid argument "${v}" for "--add-host" flag: bad format for add-host: ${JSON.stringify(v)}`);
  if (ip !== 'host-gateway') {
    if (ip.length > 2 && ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (isIP(ip.trim()) === 0) throw new OptsError(`invalid argument "${v}" for "--add-host" flag: invalid IP address in add-host: ${JSON.stringify(ip)}`);
  }
  return `${k}:${ip}`;
}

/** The docker CLI's GpuOpts.Set (one --gpus value). */
export function parseGpus(v: string): Record<string, unknown> {
  const fail = (msg: string): never => { throw new OptsError(`invalid argument "${v}" for "--gpus" flag: ${msg}`); };
  const count = (x: string): number => {
    if (x === 'all') return -1;
    if (!/^[+-]?\d+$/.test(x)) fail(`invalid count (${x}): value must be either "all" or an integer: invalid syntax`);
    return Number(x);
  };
  const req: { Driver: string; Count: number; DeviceIDs: string[] | null; Capabilities: string[][] | null; Options: Record<string, string> | null } =
    { Driver: '', Count: 0, DeviceIDs: null, Capabilities: null, Options: null };
  const seen = new Set<string>();
  // (the CLI reads the value as one CSV record; quoted fields are not needed for these keys)
  for (const field of v.split(',')) {
    const eq = field.indexOf('=');
    const key = eq < 0 ? field : field.slice(0, eq), val = eq < 0 ? '' : field.slice(eq + 1);
    if (seen.has(key)) fail(`gpu request key '${key}' can be specified only once`);
    seen.add(key);
    if (eq < 0) { seen.add('count'); req.Count = count(key); continue; }
    switch (key) {
      case 'driver': req.Driver = val; break;
      case 'count': req.Count = count(val); break;
      case 'device': req.DeviceIDs = val.split(','); break;
      case 'capabilities': req.Capabilities = [[...val.split(','), 'gpu']]; break;
      case 'options': req.Options = kvMap(val.split(',')); break;
      default: fail(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!seen.has('count') && req.DeviceIDs === null) req.Count = 1;
  req.Options ??= {};
  req.Capabilities ??= [['gpu']];
  return req;
}

const knownOS = ['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows', 'zos', 'macos'];
const knownArch = ['386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le',
  'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm', 'i386', 'x86_64', 'x86-64', 'aarch64', 'armhf', 'armel'];

/** The CLI checks --platform with containerd's platforms.Parse before asking the daemon. */
function checkPlatform(p: string): string {
  if (!p) return p;
  const parts = p.toLowerCase().split('/');
  const fail = (why: string): never => { throw new OptsError(`error parsing specified platform: ${JSON.stringify(p)}: ${why}: invalid argument`); };
  if (parts.length > 3) fail('cannot parse platform specifier');
  if (parts.some((x) => !/^[a-z0-9_.-]+$/.test(x)) || (parts.length === 1 && !knownOS.includes(parts[0]!) && !knownArch.includes(parts[0]!))) fail('unknown operating system or architecture');
  return p;
}

/** The docker CLI's opts.ValidateSysctl: only namespaced sysctls. */
export function validateSysctl(v: string): string {
  const eq = v.indexOf('=');
  const k = eq < 0 ? '' : v.slice(0, eq);
  const ipc = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];
  if (k && (ipc.includes(k) || k.startsWith('net.') || k.startsWith('fs.mqueue.'))) return v;
  throw new OptsError(`invalid argument "${v}" for "--sysctl" flag: sysctl '${v}' is not allowed`);
}

/** The docker CLI's validateDeviceCgroupRule. */
export function validateDeviceCgroupRule(v: string): string {
  if (/^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.test(v)) return v;
  throw new OptsError(`invalid argument "${v}" for "--device-cgroup-rule" flag: invalid device cgroup format '${v}'`);
}

/** Docker normalises capabilities client-side (API >= 1.40): upper-case, "CAP_" prefix, "ALL" kept. */
export function normalizeCaps(caps: string[]): string[] | null {
  if (caps.length === 0) return null;
  return caps.map((c) => {
    const u = c.trim().toUpperCase();
    return u === 'ALL' || u.startsWith('CAP_') ? u : `CAP_${u}`;
  });
}

function endpointSettings(aliases: string[] | null, ipv4: string, ipv6: string, linkLocal: string[], mac: string, links: string[] | null): Record<string, unknown> {
  const ipam = ipv4 || ipv6 || linkLocal.length
    ? { IPv4Address: ipv4 || undefined, IPv6Address: ipv6 || undefined, LinkLocalIPs: linkLocal.length ? linkLocal : undefined }
    : null;
  return {
    IPAMConfig: ipam,
    Links: links,
    Aliases: aliases,
    MacAddress: mac,
    DriverOpts: null,
    GwPriority: 0,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

function isUserDefinedNetwork(n: string): boolean {
  return !['default', 'bridge', 'host', 'none'].includes(n) && !n.startsWith('container:');
}

export interface ContainerConfig {
  body: Record<string, unknown>;
  name: string;
  platform: string;
  pull: string;
  quiet: boolean;
  autoRemove: boolean;
  tty: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  attachSet: boolean;
}

/**
 * Builds the create body from parsed flags and positional args (IMAGE [CMD...]).
 * consoleSize is the local terminal's [height, width] ([0, 0] without a TTY).
 */
export function buildCreateConfig(fl: Flags, args: string[], consoleSize: [number, number], env: NodeJS.ProcessEnv = process.env): ContainerConfig {
  const image = args[0]!;
  const cmd = args.length > 1 ? args.slice(1) : null;

  const attach = fl.list('attach').map((a) => {
    const l = a.toLowerCase();
    if (l !== 'stdin' && l !== 'stdout' && l !== 'stderr') throw new OptsError(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
    return l;
  });
  let attachStdin = attach.includes('stdin');
  let attachStdout = attach.includes('stdout');
  let attachStderr = attach.includes('stderr');
  const stdin = fl.bool('interactive');
  if (stdin) attachStdin = true;
  if (attach.length === 0) {
    attachStdout = true;
    attachStderr = true;
  }
  const mac = fl.string('mac-address');
  if (mac && !/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(mac)) throw new OptsError(`${mac} is not a valid mac address`);
  const swappiness = fl.int('memory-swappiness');
  if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) throw new OptsError(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);

  // -v: sources become Binds, plain paths anonymous Volumes
  const binds: string[] = [];
  const volumes: [string, Record<string, never>][] = [];
  const seen = new Set<string>();
  for (const v of fl.list('volume')) {
    if (seen.has(v)) continue;
    seen.add(v);
    const p = splitVolume(v);
    if (p.target === '') throw new OptsError(`invalid volume specification: '${v}'`);
    if (p.source !== '') {
      let bind = v;
      if (!isAbsolute(p.source) && p.source.startsWith('.')) bind = resolvePath(p.source) + v.slice(p.source.length);
      binds.push(bind);
    } else volumes.push([v, {}]);
  }

  const tmpfs: [string, string][] = fl.list('tmpfs').map((t) => {
    const i = t.indexOf(':');
    return i < 0 ? [t, ''] : [t.slice(0, i), t.slice(i + 1)];
  });

  let entrypoint: string[] | null = null;
  if (fl.string('entrypoint') !== '') entrypoint = [fl.string('entrypoint')];
  else if (fl.isSet('entrypoint')) entrypoint = [''];

  const { exposed, bindings } = parsePortSpecs(convertPublish(fl.list('publish')));
  for (const e of fl.list('expose')) {
    if (e.includes(':')) throw new OptsError(`invalid port format for --expose: ${e}`);
    const [proto, port] = splitProtoPort(e);
    let range: [number, number];
    try {
      range = parsePortRange(port, 'containerPort');
    } catch (err) {
      throw new OptsError(`invalid range format for --expose: ${e}, error: ${(err as Error).message}`);
    }
    for (let p = range[0]; p <= range[1]; p++) exposed.set(`${p}/${proto}`, true);
  }

  const devices = fl.list('device').map(parseDevice);

  const envVars: string[] = [];
  for (const file of fl.list('env-file')) envVars.push(...parseKVFile(file, true, env));
  for (const e of fl.list('env')) {
    try {
      envVars.push(validateEnv(e, env));
    } catch (err) {
      throw new OptsError(`invalid argument "${e}" for "-e, --env" flag: ${(err as Error).message}`);
    }
  }

  const labelList: string[] = [];
  for (const file of fl.list('label-file')) labelList.push(...parseKVFile(file, false, env));
  for (const l of fl.list('label')) {
    if (l.startsWith('=')) throw new OptsError(`invalid label '${l}': empty name`);
    labelList.push(l);
  }

  const restart = parseRestartPolicy(fl.string('restart'));
  const logDriver = fl.string('log-driver');
  const logOpts = fl.list('log-opt');
  if (logDriver === 'none' && logOpts.length > 0) throw new OptsError(`invalid logging opts for driver ${logDriver}`);

  const securityOpts: string[] = [];
  let maskedPaths: string[] | null = null;
  let readonlyPaths: string[] | null = null;
  for (const o of fl.list('security-opt')) {
    let i = o.indexOf('=');
    let k = i < 0 ? o : o.slice(0, i);
    let v = i < 0 ? '' : o.slice(i + 1);
    if (i < 0 && k !== 'no-new-privileges') {
      i = o.indexOf(':');
      k = i < 0 ? o : o.slice(0, i);
      v = i < 0 ? '' : o.slice(i + 1);
    }
    if ((i < 0 || v === '') && k !== 'no-new-privileges') throw new OptsError(`Invalid --security-opt: ${JSON.stringify(o)}`);
    if (k === 'seccomp' && v !== 'builtin' && v !== 'unconfined') {
      let profile: string;
      try {
        profile = JSON.stringify(JSON.parse(readFileSync(v, 'utf8')));
      } catch (e) {
        throw new OptsError(`opening seccomp profile (${v}) failed: ${(e as Error).message}`);
      }
      securityOpts.push(`seccomp=${profile}`);
      continue;
    }
    if (o === 'systempaths=unconfined') {
      maskedPaths = [];
      readonlyPaths = [];
      continue;
    }
    securityOpts.push(o);
  }

  const storageOpt: [string, string][] = fl.list('storage-opt').map((o) => {
    const i = o.indexOf('=');
    if (i < 0) throw new OptsError('invalid storage option');
    return [o.slice(0, i), o.slice(i + 1)];
  });

  // healthcheck
  let healthcheck: Record<string, unknown> | undefined;
  const dur = (name: string): number => {
    const v = fl.string(name);
    if (!v) return 0;
    try {
      return parseGoDurationNs(v);
    } catch (e) {
      throw new OptsError(`invalid argument "${v}" for "--${name}" flag: ${(e as Error).message}`);
    }
  };
  const hInterval = dur('health-interval');
  const hTimeout = dur('health-timeout');
  const hStart = dur('health-start-period');
  const hStartInterval = dur('health-start-interval');
  const hRetries = fl.int('health-retries');
  const hCmd = fl.string('health-cmd');
  const haveHealth = hCmd !== '' || hInterval !== 0 || hTimeout !== 0 || hStart !== 0 || hRetries !== 0 || hStartInterval !== 0;
  if (fl.bool('no-healthcheck')) {
    if (haveHealth) throw new OptsError('--no-healthcheck conflicts with --health-* options');
    healthcheck = { Test: ['NONE'] };
  } else if (haveHealth) {
    if (hInterval < 0) throw new OptsError('--health-interval cannot be negative');
    if (hTimeout < 0) throw new OptsError('--health-timeout cannot be negative');
    if (hRetries < 0) throw new OptsError('--health-retries cannot be negative');
    if (hStart < 0) throw new OptsError('--health-start-period cannot be negative');
    if (hStartInterval < 0) throw new OptsError('--health-start-interval cannot be negative');
    healthcheck = {};
    if (hCmd) healthcheck.Test = ['CMD-SHELL', hCmd];
    if (hInterval) healthcheck.Interval = hInterval;
    if (hTimeout) healthcheck.Timeout = hTimeout;
    if (hStart) healthcheck.StartPeriod = hStart;
    if (hStartInterval) healthcheck.StartInterval = hStartInterval;
    if (hRetries) healthcheck.Retries = hRetries;
  }

  const validMode = (flag: string, v: string, what: string): string => {
    // as the API types' Valid(): PID may name a container (not an empty one), UTS only host
    if (v === '' || v === 'host' || (flag === 'pid' && v.length > 'container:'.length && v.startsWith('container:'))) return v;
    throw new OptsError(`--${flag}: invalid ${what} mode`);
  };
  const pidMode = validMode('pid', fl.string('pid'), 'PID');
  const utsMode = validMode('uts', fl.string('uts'), 'UTS');
  const usernsMode = fl.string('userns');
  if (usernsMode !== '' && usernsMode !== 'host') throw new OptsError('--userns: invalid USER mode');
  const cgroupnsMode = fl.string('cgroupns');
  if (cgroupnsMode !== '' && cgroupnsMode !== 'host' && cgroupnsMode !== 'private') throw new OptsError('--cgroupns: invalid CGROUP mode');

  const memorySwap = fl.string('memory-swap') === '-1' ? -1 : mem(fl.string('memory-swap'), '--memory-swap');

  const config: Record<string, unknown> = {
    Hostname: fl.string('hostname'),
    Domainname: fl.string('domainname'),
    User: fl.string('user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
  };
  if (exposed.size > 0) config.ExposedPorts = sortedMap([...exposed.keys()].map((k) => [k, {}]));
  config.Tty = fl.bool('tty');
  config.OpenStdin = stdin;
  config.StdinOnce = false;
  config.Env = envVars.length ? envVars : null;
  config.Cmd = cmd;
  if (healthcheck) config.Healthcheck = healthcheck;
  config.Image = image;
  config.Volumes = sortedMap(volumes);
  config.WorkingDir = fl.string('workdir');
  config.Entrypoint = entrypoint;
  if (mac) config.MacAddress = mac;
  config.OnBuild = null;
  config.Labels = kvMap(labelList);
  if (fl.string('stop-signal')) config.StopSignal = fl.string('stop-signal');
  if (fl.isSet('stop-timeout')) config.StopTimeout = fl.int('stop-timeout');

  // networks
  const nets = [...fl.list('network'), ...fl.list('net')];
  const aliases = [...fl.list('network-alias'), ...fl.list('net-alias')];
  const links = fl.list('link');
  const ipv4 = fl.string('ip');
  const ipv6 = fl.string('ip6');
  const linkLocal = fl.list('link-local-ip');
  const endpoints: Record<string, unknown> = {};
  let networkMode = 'default';
  if (nets.length === 0) {
    if (aliases.length) throw new OptsError('network-scoped aliases are only supported for user-defined networks');
    endpoints.default = endpointSettings(null, ipv4, ipv6, linkLocal, mac, null);
  } else {
    let hasUser = false;
    let hasNonUser = false;
    nets.forEach((raw, i) => {
      const n = raw.includes('=') ? (/(?:^|,)name=([^,]*)/.exec(raw)?.[1] ?? raw) : raw;
      if (i === 0) networkMode = n;
      if (isUserDefinedNetwork(n)) hasUser = true;
      else hasNonUser = true;
      if (n.trim() === '') throw new OptsError('no name set for network');
      const first = i === 0;
      const al = first && aliases.length ? [...aliases] : null;
      if (!isUserDefinedNetwork(n) && al) throw new OptsError('network-scoped aliases are only supported for user-defined networks');
      const ln = first && isUserDefinedNetwork(n) && links.length ? [...links] : null;
      if (endpoints[n]) throw new OptsError(`network "${n}" is specified multiple times`);
      const ep = endpointSettings(al, first ? ipv4 : '', first ? ipv6 : '', first ? linkLocal : [], first ? mac : '', ln);
      const empty = !al && !ln && !(first && (ipv4 || ipv6 || linkLocal.length || mac));
      if (first && nets.length === 1 && empty) return;
      endpoints[n] = ep;
    });
    if (hasUser && hasNonUser) throw new OptsError('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
  }

  const hostConfig: Record<string, unknown> = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: fl.string('cidfile'),
    LogConfig: { Type: logDriver, Config: kvMap(logOpts) },
    NetworkMode: networkMode,
    PortBindings: sortedMap([...bindings.entries()]),
    RestartPolicy: restart,
    AutoRemove: fl.bool('rm'),
    VolumeDriver: fl.string('volume-driver'),
    VolumesFrom: fl.list('volumes-from').length ? fl.list('volumes-from') : null,
    ConsoleSize: consoleSize,
  };
  const annotations = fl.list('annotation');
  if (annotations.length) hostConfig.Annotations = kvMap(annotations);
  Object.assign(hostConfig, {
    CapAdd: normalizeCaps(fl.list('cap-add')),
    CapDrop: normalizeCaps(fl.list('cap-drop')),
    CgroupnsMode: cgroupnsMode,
    Dns: fl.list('dns'),
    DnsOptions: [...fl.list('dns-option'), ...fl.list('dns-opt')],
    DnsSearch: fl.list('dns-search'),
    ExtraHosts: fl.list('add-host').length ? fl.list('add-host').map(validateExtraHost) : null,
    GroupAdd: fl.list('group-add').length ? fl.list('group-add') : null,
    IpcMode: fl.string('ipc'),
    Cgroup: '',
    Links: links.length ? links : null,
    OomScoreAdj: fl.int('oom-score-adj'),
    PidMode: pidMode,
    Privileged: fl.bool('privileged'),
    PublishAllPorts: fl.bool('publish-all'),
    ReadonlyRootfs: fl.bool('read-only'),
    SecurityOpt: securityOpts.length ? securityOpts : null,
  });
  if (storageOpt.length) hostConfig.StorageOpt = sortedMap(storageOpt);
  if (tmpfs.length) hostConfig.Tmpfs = sortedMap(tmpfs);
  hostConfig.UTSMode = utsMode;
  hostConfig.UsernsMode = usernsMode;
  hostConfig.ShmSize = mem(fl.string('shm-size'), '--shm-size');
  const sysctls = fl.list('sysctl').map(validateSysctl);
  if (sysctls.length) hostConfig.Sysctls = kvMap(sysctls);
  if (fl.string('runtime')) hostConfig.Runtime = fl.string('runtime');
  const throttle = (name: string): { Path: string; Rate: number }[] => fl.list(name).map((v) => {
    const i = v.lastIndexOf(':');
    if (i < 0) throw new OptsError(`bad format: ${v}`);
    const rate = name.endsWith('bps') ? mem(v.slice(i + 1), `--${name}`) : Number(v.slice(i + 1));
    if (Number.isNaN(rate)) throw new OptsError(`invalid rate for device: ${v}. The correct format is <device-path>:<number>. Number must be a positive integer`);
    return { Path: v.slice(0, i), Rate: rate };
  });
  Object.assign(hostConfig, {
    Isolation: fl.string('isolation'),
    CpuShares: fl.int('cpu-shares'),
    Memory: mem(fl.string('memory'), '-m, --memory'),
    NanoCpus: nanoCpus(fl.string('cpus')),
    CgroupParent: fl.string('cgroup-parent'),
    BlkioWeight: fl.int('blkio-weight'),
    BlkioWeightDevice: fl.list('blkio-weight-device').map((v) => {
      const i = v.lastIndexOf(':');
      return { Path: v.slice(0, i), Weight: Number(v.slice(i + 1)) };
    }),
    BlkioDeviceReadBps: throttle('device-read-bps'),
    BlkioDeviceWriteBps: throttle('device-write-bps'),
    BlkioDeviceReadIOps: throttle('device-read-iops'),
    BlkioDeviceWriteIOps: throttle('device-write-iops'),
    CpuPeriod: fl.int('cpu-period'),
    CpuQuota: fl.int('cpu-quota'),
    CpuRealtimePeriod: fl.int('cpu-rt-period'),
    CpuRealtimeRuntime: fl.int('cpu-rt-runtime'),
    CpusetCpus: fl.string('cpuset-cpus'),
    CpusetMems: fl.string('cpuset-mems'),
    Devices: devices,
    DeviceCgroupRules: fl.list('device-cgroup-rule').length ? fl.list('device-cgroup-rule').map(validateDeviceCgroupRule) : null,
    DeviceRequests: fl.string('gpus') ? [parseGpus(fl.string('gpus'))] : null,
  });
  if (fl.string('kernel-memory')) hostConfig.KernelMemory = mem(fl.string('kernel-memory'), '--kernel-memory');
  Object.assign(hostConfig, {
    MemoryReservation: mem(fl.string('memory-reservation'), '--memory-reservation'),
    MemorySwap: memorySwap,
    MemorySwappiness: swappiness,
    OomKillDisable: fl.bool('oom-kill-disable'),
    PidsLimit: fl.int('pids-limit'),
    Ulimits: fl.list('ulimit').map(parseUlimit),
    CpuCount: fl.int('cpu-count'),
    CpuPercent: fl.int('cpu-percent'),
    IOMaximumIOps: fl.int('io-maxiops'),
    IOMaximumBandwidth: mem(fl.string('io-maxbandwidth'), '--io-maxbandwidth'),
  });
  const mounts = fl.list('mount').map(parseMount);
  if (mounts.length) hostConfig.Mounts = mounts;
  hostConfig.MaskedPaths = maskedPaths;
  hostConfig.ReadonlyPaths = readonlyPaths;
  if (fl.isSet('init')) hostConfig.Init = fl.bool('init');

  if (fl.bool('rm') && !(restart.Name === '' || restart.Name === 'no')) {
    throw new OptsError('conflicting options: cannot specify both --restart and --rm');
  }
  if (config.OpenStdin && config.AttachStdin) config.StdinOnce = true;

  const pull = fl.string('pull');
  if (!['always', 'missing', 'never', ''].includes(pull)) {
    throw new OptsError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  }

  return {
    body: { ...config, HostConfig: hostConfig, NetworkingConfig: { EndpointsConfig: endpoints } },
    name: fl.string('name'),
    platform: checkPlatform(fl.string('platform')),
    pull,
    quiet: fl.bool('quiet'),
    autoRemove: fl.bool('rm'),
    tty: fl.bool('tty'),
    attachStdin,
    attachStdout,
    attachStderr,
    attachSet: attach.length > 0,
  };
}
