// Docker's create-time checks and defaults for HostConfig and Config
// (moby daemon/container.go validateHostConfig, daemon_unix.go
// verifyPlatformContainerSettings / adaptContainerSettings), with Docker's
// error texts, so clients that skip the CLI's own checks (docker-py, raw API)
// get the same answers.
import * as fs from 'node:fs';
import { internal, invalid } from '../common/errors';
import { capNames, hostCapabilities } from '../runtime';
import type { HealthConfig } from './health';
import type { HostConfig } from './types';

/** Capability names Docker knows (moby oci/caps, from linux/capability.h). */
export const knownCapabilities = new Set(capNames.map((c) => 'CAP_' + c));

function checkCaps(list: string[] | null | undefined, field: string): void {
  for (const raw of list ?? []) {
    let c = raw.toUpperCase();
    if (c === 'ALL') continue;
    if (!c.startsWith('CAP_')) c = 'CAP_' + c;
    if (!knownCapabilities.has(c)) throw invalid(`invalid ${field}: unknown capability: ${JSON.stringify(c)}`);
    // Docker 28 refuses capabilities berthd itself lacks (here: outside its bounding set)
    if (!hostCapabilities().includes(c)) throw invalid(`invalid ${field}: capability not supported by your kernel or not available in the current environment: ${JSON.stringify(c)}`);
  }
}

const restartNames = ['no', 'always', 'on-failure', 'unless-stopped'];

function checkRestart(rp: { Name: string; MaximumRetryCount: number }): void {
  const n = rp.MaximumRetryCount;
  switch (rp.Name) {
    case '':
      return; // older clients send an empty name with any count
    case 'on-failure':
      if (n < 0) throw invalid('invalid restart policy: maximum retry count cannot be negative');
      return;
    case 'no': case 'always': case 'unless-stopped':
      if (n !== 0) throw invalid(`invalid restart policy: maximum retry count can only be used with 'on-failure'${n < 0 ? ' and cannot be negative' : ''}`);
      return;
    default:
      throw invalid(`invalid restart policy: unknown policy '${rp.Name}'; use one of ${restartNames.map((x) => `'${x}'`).join(', ').replace(/, ([^,]*)$/, ', or $1')}`);
  }
}

/** "container:<name>" → the name, else undefined. */
export function joinedContainer(mode: string | undefined): string | undefined {
  return mode?.startsWith('container:') ? mode.slice('container:'.length) : undefined;
}

const validIpc = (m: string): boolean => ['', 'private', 'shareable', 'host', 'none'].includes(m) || (joinedContainer(m) ?? '') !== '';
const validPid = (m: string): boolean => m === '' || m === 'host' || (joinedContainer(m) ?? '') !== '';

/** Parses SecurityOpt as Docker's parseSecurityOpt does; throws its errors. */
export interface SecurityOptions { noNewPrivileges: boolean; seccomp?: string; apparmor?: string; labels: string[] }
export function parseSecurityOpt(opts: string[] | null | undefined): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, labels: [] };
  for (const opt of opts ?? []) {
    if (opt === 'no-new-privileges') { out.noNewPrivileges = true; continue; }
    if (opt === 'disable') { out.labels.push('disable'); continue; }
    if (opt === 'writable-cgroups') continue;
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : undefined;
    if (!sep) throw invalid(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const i = opt.indexOf(sep);
    const k = opt.slice(0, i), v = opt.slice(i + 1);
    switch (k) {
      case 'label': out.labels.push(v); break;
      case 'apparmor': out.apparmor = v; break;
      case 'seccomp': out.seccomp = v; break;
      case 'no-new-privileges':
      case 'writable-cgroups': {
        const b = parseGoBool(v);
        if (b === undefined) throw invalid(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        if (k === 'no-new-privileges') out.noNewPrivileges = b;
        break;
      }
      default:
        throw invalid(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return out;
}

/** Go's strconv.ParseBool. */
function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

const deviceRuleRe = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;
export interface DeviceRule { allow: boolean; type: string; major: number; minor: number; access: string }
/** --device-cgroup-rule "c 1:3 rwm" → an OCI device cgroup rule (-1 = any). */
export function parseDeviceCgroupRule(rule: string): DeviceRule {
  const m = deviceRuleRe.exec(rule);
  if (!m) throw invalid(`invalid device cgroup rule format: '${rule}'`);
  return { allow: true, type: m[1]!, major: m[2] === '*' ? -1 : Number(m[2]), minor: m[3] === '*' ? -1 : Number(m[3]), access: m[4]! };
}

const MIN_DURATION_NS = 1e6; // containertypes.MinimumDuration (1 ms)
function checkHealth(h: HealthConfig | undefined): void {
  if (!h) return;
  const field = (v: unknown, name: string): void => {
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw invalid(`json: cannot unmarshal ${typeof v} into Go struct field HealthConfig.Healthcheck.${name} of type time.Duration`);
  };
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) field(h[k], k);
  const below = (v: number | undefined): boolean => v !== undefined && v !== 0 && v < MIN_DURATION_NS;
  if (below(h.Interval)) throw invalid('Interval in Healthcheck cannot be less than 1ms');
  if (below(h.Timeout)) throw invalid('Timeout in Healthcheck cannot be less than 1ms');
  if ((h.Retries ?? 0) < 0) throw invalid('Retries in Healthcheck cannot be negative');
  if (below(h.StartPeriod)) throw invalid('StartPeriod in Healthcheck cannot be less than 1ms');
  if (below(h.StartInterval)) throw invalid('StartInterval in Healthcheck cannot be less than 1ms');
}

export interface ConfigToCheck {
  Hostname: string;
  Env: string[];
  Healthcheck?: HealthConfig | undefined;
  /** the Hostname the client sent (before the default), and whether it exposed ports */
  requestedHostname?: string;
  exposesPorts?: boolean;
}

/** moby runconfig validateNetMode: what cannot go with container:<x> networking or the host's UTS namespace. */
function checkNetMode(c: ConfigToCheck, hc: HostConfig): void {
  const hostname = c.requestedHostname ?? '';
  if (hc.NetworkMode === 'container' || hc.NetworkMode.startsWith('container:')) {
    if (!joinedContainer(hc.NetworkMode)) throw invalid('invalid network mode: invalid container format container:<name|id>');
    if (hostname) throw invalid('conflicting options: hostname and the network mode');
    if ((hc.Links ?? []).length) throw invalid("conflicting options: container type network can't be used with links. This would result in undefined behavior");
    if ((hc.Dns ?? []).length) throw invalid('conflicting options: dns and the network mode');
    if ((hc.ExtraHosts ?? []).length) throw invalid('conflicting options: custom host-to-IP mapping and the network mode');
    if (Object.keys(hc.PortBindings ?? {}).length || hc.PublishAllPorts) throw invalid('conflicting options: port publishing and the container type network mode');
    if (c.exposesPorts) throw invalid('conflicting options: port exposing and the container type network mode');
  }
  if (hc.UTSMode === 'host' && hostname) throw invalid('conflicting options: hostname and the UTS mode');
  if (hc.NetworkMode === 'host' && (hc.Links ?? []).length) throw invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
}

/** moby logger.ValidateLogOpts: nothing for none; mode and max-buffer-size; each driver's own keys. */
export function validateLogOpts(driver: string, cfg: Record<string, string>): void {
  if (driver === 'none') return;
  const mode = cfg['mode'] ?? '';
  if (!['', 'blocking', 'non-blocking'].includes(mode)) throw invalid(`logger: logging mode not supported: ${mode}`);
  if ('max-buffer-size' in cfg && mode !== 'non-blocking') throw invalid("logger: max-buffer-size option is only supported with 'mode=non-blocking'");
  const own = Object.keys(cfg).filter((k) => k !== 'mode' && k !== 'max-buffer-size');
  if (driver === 'local') {
    for (const k of own) if (!['max-file', 'max-size', 'compress'].includes(k)) throw invalid(`unknown log opt '${k}' for log driver local`);
  } else {
    for (const k of own) if (!['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'].includes(k)) throw invalid(`unknown log opt '${k}' for ${driver} log driver`);
  }
}

/** Runtimes berthd can run: its runc, under Docker's names for it. */
const runtimes = new Set(['runc', 'io.containerd.runc.v2']);

/** Docker's create-time validation (errors are 400 with Docker's texts). */
export function validateCreate(c: ConfigToCheck, hc: HostConfig): void {
  // first what moby checks while decoding the request (runconfig)
  checkNetMode(c, hc);
  const iso = String(hc.Isolation ?? '');
  if (iso !== '' && iso.toLowerCase() !== 'default') throw invalid(`invalid isolation (${iso}): linux only supports 'default'`);
  if (Number(hc['IOMaximumBandwidth'] ?? 0) !== 0) throw invalid('invalid option: QoS maximum bandwidth configuration is not supported on linux');
  if (Number(hc['IOMaximumIOps'] ?? 0) !== 0) throw invalid('invalid option: QoS maximum IOPs configuration is not supported on linux');
  const rtPeriod = Number(hc['CpuRealtimePeriod'] ?? 0), rtRuntime = Number(hc['CpuRealtimeRuntime'] ?? 0);
  if (rtPeriod !== 0 && rtRuntime !== 0 && rtRuntime > rtPeriod) throw invalid('cpu real-time runtime cannot be higher than cpu real-time period');
  if (Number(hc['CpuShares'] ?? 0) < 0) throw invalid(`invalid CPU shares (${Number(hc['CpuShares'])}): value must be a positive integer`);
  // then the daemon's own checks
  if (c.Hostname.length > 64) throw invalid(`hostname ${JSON.stringify(c.Hostname)} is too long (maximum 64 bytes)`);
  for (const e of c.Env) if (e.split('=')[0] === '') throw invalid(`invalid environment variable: ${e}`);
  checkHealth(c.Healthcheck);
  checkRestart(hc.RestartPolicy);
  checkCaps(hc.CapAdd, 'CapAdd');
  checkCaps(hc.CapDrop, 'CapDrop');
  if (!validIpc(hc.IpcMode)) throw invalid(`invalid IPC mode: ${hc.IpcMode}`);
  if (!validPid(hc.PidMode)) throw invalid(`invalid PID mode: ${hc.PidMode}`);
  if (hc.ShmSize < 0) throw invalid('SHM size can not be less than 0');
  if (hc.UTSMode !== '' && hc.UTSMode !== 'host') throw invalid(`invalid UTS mode: ${hc.UTSMode}`);
  const oom = Number(hc.OomScoreAdj ?? 0);
  if (oom < -1000 || oom > 1000) throw invalid(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  if (hc.Runtime && !runtimes.has(hc.Runtime)) throw invalid(`unknown or invalid runtime name: ${hc.Runtime}`);
  const cgns = hc.CgroupnsMode ?? '';
  if (!['', 'host', 'private'].includes(cgns)) throw invalid(`invalid cgroup namespace mode: ${cgns}`);
  parseSecurityOpt(hc.SecurityOpt);
  // overlay2 without xfs project quotas (moby answers these from the layer store, as a 500)
  for (const k of Object.keys((hc['StorageOpt'] as Record<string, string> | null | undefined) ?? {})) {
    if (k === 'size') throw internal("--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
    throw internal(`Unknown option ${k}`);
  }
  for (const r of (hc['DeviceCgroupRules'] as string[] | null | undefined) ?? []) parseDeviceCgroupRule(String(r));
  // No device drivers (GPUs, CDI) on this engine: Docker's answer when none matches.
  const reqs = hc['DeviceRequests'];
  if (Array.isArray(reqs)) {
    for (const r of reqs as Array<{ Driver?: string; Capabilities?: string[][] | null }>) {
      const caps = (r.Capabilities ?? []).map((set) => `[${set.join(' ')}]`).join(' ');
      throw invalid(`could not select device driver ${JSON.stringify(r.Driver ?? '')} with capabilities: [${caps}]`);
    }
  }
}

/**
 * HostConfig fields as Docker's Go struct always renders them (zero values;
 * null for nil slices, maps and pointers), so a container made by a client
 * that sends a sparse HostConfig (docker-py, raw API) inspects the same.
 */
export const hostConfigZero: Readonly<Record<string, unknown>> = {
  Binds: null, ContainerIDFile: '', VolumeDriver: '', VolumesFrom: null, ConsoleSize: [0, 0], CapAdd: null, CapDrop: null,
  CgroupnsMode: '', Dns: null, DnsOptions: null, DnsSearch: null, ExtraHosts: null, GroupAdd: null, IpcMode: '', Cgroup: '', Links: null,
  OomScoreAdj: 0, PidMode: '', Privileged: false, PublishAllPorts: false, ReadonlyRootfs: false, SecurityOpt: null, UTSMode: '', UsernsMode: '',
  ShmSize: 0, Isolation: '', CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: '', BlkioWeight: 0, BlkioWeightDevice: null,
  BlkioDeviceReadBps: null, BlkioDeviceWriteBps: null, BlkioDeviceReadIOps: null, BlkioDeviceWriteIOps: null, CpuPeriod: 0, CpuQuota: 0,
  CpuRealtimePeriod: 0, CpuRealtimeRuntime: 0, CpusetCpus: '', CpusetMems: '', Devices: null, DeviceCgroupRules: null, DeviceRequests: null,
  MemoryReservation: 0, MemorySwap: 0, MemorySwappiness: null, OomKillDisable: null, PidsLimit: null, Ulimits: null, CpuCount: 0,
  CpuPercent: 0, IOMaximumIOps: 0, IOMaximumBandwidth: 0, MaskedPaths: null, ReadonlyPaths: null,
};

/** The mode Docker picks when CgroupnsMode is empty: private on cgroup v2, host on v1 (and for privileged on v1). */
export function defaultCgroupns(): string {
  return fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'private' : 'host';
}

export const defaultMaskedPaths = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const defaultReadonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * Docker's create-time defaults (adaptContainerSettings and
 * createContainerOSSpecificSettings); `resolve` maps a container name to
 * its ID for the container:<name> modes.
 */
export function applyDefaults(hc: HostConfig, resolve: (ref: string) => string | undefined): void {
  if (hc.RestartPolicy.Name === '') hc.RestartPolicy.Name = 'no';
  if (!hc.CgroupnsMode) hc.CgroupnsMode = defaultCgroupns();
  if (Number(hc['Memory'] ?? 0) > 0 && Number(hc['MemorySwap'] ?? 0) === 0) hc['MemorySwap'] = Number(hc['Memory']) * 2;
  if (hc['OomKillDisable'] === undefined || hc['OomKillDisable'] === null) hc['OomKillDisable'] = false;
  for (const key of ['PidMode', 'IpcMode', 'NetworkMode'] as const) {
    const ref = joinedContainer(hc[key]);
    const id = ref ? resolve(ref) : undefined;
    if (id) hc[key] = `container:${id}`;
  }
  // Docker adds label=disable (SELinux) when sharing host namespaces or privileged, unless labels were given.
  const sec = hc.SecurityOpt ?? [];
  if (!sec.some((o) => o.split('=')[0] === 'label') && (hc.IpcMode === 'host' || hc.PidMode === 'host' || hc.Privileged)) {
    hc.SecurityOpt = [...sec, 'label=disable'];
  }
  if (!hc.Privileged) {
    if (hc['MaskedPaths'] === undefined || hc['MaskedPaths'] === null) hc['MaskedPaths'] = [...defaultMaskedPaths];
    if (hc['ReadonlyPaths'] === undefined || hc['ReadonlyPaths'] === null) hc['ReadonlyPaths'] = [...defaultReadonlyPaths];
  }
}

/**
 * Docker's ReplaceOrAppendEnvValues: overrides replace same-named defaults;
 * an override without "=" unsets the name and is itself dropped.
 */
export function replaceOrAppendEnv(defaults: string[], overrides: string[]): string[] {
  const out: Array<string | undefined> = [...defaults];
  const index = new Map<string, number>();
  out.forEach((e, i) => index.set(e!.split('=')[0]!, i));
  for (const v of overrides) {
    const eq = v.indexOf('=');
    const k = eq < 0 ? v : v.slice(0, eq);
    const i = index.get(k);
    if (eq < 0) {
      if (i !== undefined) out[i] = undefined;
      continue;
    }
    if (i !== undefined && out[i] !== undefined) out[i] = v;
    else { index.set(k, out.length); out.push(v); }
  }
  return out.filter((e): e is string => e !== undefined);
}

/** Docker's merge of Config.Env with the image's: the container's entries first, then image entries it does not name. */
export function mergeImageEnv(user: string[], image: string[]): string[] {
  if (!user.length) return [...image];
  const keys = new Set(user.map((e) => e.split('=')[0]));
  return [...user, ...image.filter((e) => !keys.has(e.split('=')[0]))];
}
