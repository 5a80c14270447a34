// Container settings → OCI runtime spec (config.json), with Docker's defaults
// for mounts, masked paths, capabilities and devices.
import * as fs from 'node:fs';
import type { OciDevice, OciDeviceRule } from './devices';

export interface OciMount { destination: string; type?: string; source?: string; options?: string[] }

export interface SpecInput {
  id: string;
  rootfs: string;
  readonlyRootfs: boolean;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  hostname: string;
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  mounts: OciMount[];
  /** 'new' private namespace, 'host' none, or a path to join */
  network: 'new' | 'host' | { path: string };
  ipcHost: boolean;
  pidHost: boolean;
  utsHost: boolean;
  /** namespaces of another container to join (--pid/--ipc container:X) */
  pidPath?: string;
  ipcPath?: string;
  /** no /dev/shm at all (--ipc none) */
  noShm?: boolean;
  /** a private cgroup namespace (--cgroupns private) */
  cgroupns?: boolean;
  /** device nodes to create (--device, or the host's for --privileged) */
  devices?: OciDevice[];
  /** device cgroup rules after Docker's defaults (--device, --device-cgroup-rule) */
  deviceRules?: OciDeviceRule[];
  /** HostConfig.MaskedPaths / ReadonlyPaths; Docker's defaults when absent */
  maskedPaths?: string[];
  readonlyPaths?: string[];
  cgroupsPath: string;
  shmSize: number;
  sysctls: Record<string, string>;
  noNewPrivileges: boolean;
  annotations: Record<string, string>;
  /** OCI linux.resources besides devices (memory, cpu, pids, blockIO) */
  resources?: Record<string, unknown>;
  rlimits?: Array<{ type: string; hard: number; soft: number }>;
  oomScoreAdj?: number;
  seccomp?: unknown;
}

export const defaultCapabilities = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

// Capability names in bit order (linux/capability.h): the host's bounding set
// is read by these numbers, and they are the names Docker knows (moby oci/caps).
export const capNames = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
];

let hostCaps: string[] | undefined;
/** Capabilities in berthd's bounding set: --privileged gets exactly these. */
export function hostCapabilities(): string[] {
  if (hostCaps) return hostCaps;
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status);
  const bits = BigInt('0x' + (m?.[1] ?? '0'));
  hostCaps = capNames.filter((_, i) => (bits >> BigInt(i)) & 1n).map((n) => 'CAP_' + n);
  return hostCaps;
}

function normCap(c: string): string {
  const u = c.toUpperCase();
  return u.startsWith('CAP_') ? u : 'CAP_' + u;
}

export function effectiveCapabilities(privileged: boolean, add: string[], drop: string[]): string[] {
  const host = hostCapabilities();
  if (privileged) return host;
  let caps = new Set(defaultCapabilities);
  const adds = add.map(normCap), drops = drop.map(normCap);
  if (adds.includes('CAP_ALL')) caps = new Set(host);
  for (const c of adds) if (c !== 'CAP_ALL') caps.add(c);
  if (drops.includes('CAP_ALL')) caps = new Set(adds.filter((c) => c !== 'CAP_ALL'));
  for (const c of drops) if (c !== 'CAP_ALL' && !adds.includes(c)) caps.delete(c);
  return [...caps].filter((c) => host.includes(c));
}

const maskedPaths = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
const readonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

// Docker's default device cgroup rules.
const defaultDeviceRules = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

export function buildSpec(s: SpecInput): Record<string, unknown> {
  const caps = effectiveCapabilities(s.privileged, s.capAdd, s.capDrop);
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', s.privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', s.privileged ? 'rw' : 'ro'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  // --ipc host and container:X bring their /dev/shm in s.mounts; none has none.
  if (!s.ipcHost && !s.ipcPath && !s.noShm) mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${s.shmSize}`] });
  mounts.push(...s.mounts);

  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'mount' }];
  if (s.pidPath) namespaces.push({ type: 'pid', path: s.pidPath });
  else if (!s.pidHost) namespaces.push({ type: 'pid' });
  if (s.ipcPath) namespaces.push({ type: 'ipc', path: s.ipcPath });
  else if (!s.ipcHost) namespaces.push({ type: 'ipc' });
  if (!s.utsHost) namespaces.push({ type: 'uts' });
  if (s.cgroupns) namespaces.push({ type: 'cgroup' });
  if (s.network === 'new') namespaces.push({ type: 'network' });
  else if (s.network !== 'host') namespaces.push({ type: 'network', path: s.network.path });

  const process: Record<string, unknown> = {
    terminal: s.terminal,
    user: { uid: s.uid, gid: s.gid, additionalGids: s.additionalGids.length ? s.additionalGids : undefined },
    args: s.args,
    env: s.env,
    cwd: s.cwd,
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    noNewPrivileges: s.noNewPrivileges,
    oomScoreAdj: s.oomScoreAdj ?? 0,
  };
  if (s.rlimits?.length) process['rlimits'] = s.rlimits;
  if (s.terminal && s.consoleSize && s.consoleSize.height > 0) process['consoleSize'] = s.consoleSize;

  const linux: Record<string, unknown> = {
    namespaces,
    cgroupsPath: s.cgroupsPath,
    resources: { ...(s.resources ?? {}), devices: s.privileged ? [{ allow: true, access: 'rwm' }] : [...defaultDeviceRules, ...(s.deviceRules ?? [])] },
    sysctl: Object.keys(s.sysctls).length ? s.sysctls : undefined,
  };
  if (s.devices?.length) linux['devices'] = s.devices;
  if (s.seccomp && !s.privileged) linux['seccomp'] = s.seccomp;
  if (!s.privileged) {
    linux['maskedPaths'] = s.maskedPaths ?? maskedPaths;
    linux['readonlyPaths'] = s.readonlyPaths ?? readonlyPaths;
  }
  return {
    ociVersion: '1.0.2-dev',
    process,
    root: { path: s.rootfs, readonly: s.readonlyRootfs },
    hostname: s.utsHost ? undefined : s.hostname,
    mounts,
    linux,
    annotations: s.annotations,
  };
}

/** Process spec for runc exec (conmon --exec-process-spec). */
export function buildExecProcess(p: {
  args: string[]; env: string[]; cwd: string; uid: number; gid: number; additionalGids: number[]; terminal: boolean; caps: string[]; noNewPrivileges: boolean;
}): Record<string, unknown> {
  return {
    terminal: p.terminal,
    user: { uid: p.uid, gid: p.gid, additionalGids: p.additionalGids.length ? p.additionalGids : undefined },
    args: p.args,
    env: p.env,
    cwd: p.cwd,
    capabilities: { bounding: p.caps, effective: p.caps, permitted: p.caps },
    noNewPrivileges: p.noNewPrivileges,
  };
}
