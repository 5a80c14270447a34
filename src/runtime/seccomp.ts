// The default seccomp profile. Docker ships an allow-list; berth uses the
// equivalent deny-list of the syscalls Docker's documentation names as
// blocked by default (kernel modules, clocks, keyrings, mounts, namespaces,
// reboot, swap, ...), which keeps new harmless syscalls working and makes
// the policy readable. Capabilities re-enable what Docker re-enables for them.

const EPERM = 1;
const ENOSYS = 38;

const blockedAlways = [
  'acct', 'add_key', 'bpf', 'clock_adjtime', 'clock_settime', 'create_module', 'delete_module', 'finit_module',
  'get_kernel_syms', 'get_mempolicy', 'init_module', 'ioperm', 'iopl', 'kexec_file_load', 'kexec_load', 'keyctl',
  'lookup_dcookie', 'mbind', 'move_pages', 'nfsservctl', 'open_by_handle_at', 'perf_event_open', 'query_module',
  'request_key', 'set_mempolicy', 'settimeofday', 'stime', 'swapon', 'swapoff', 'sysfs', '_sysctl', 'uselib',
  'userfaultfd', 'ustat', 'vm86', 'vm86old', 'quotactl', 'name_to_handle_at', 'fanotify_init',
  'fsconfig', 'fsmount', 'fsopen', 'fspick', 'move_mount', 'open_tree', 'mount_setattr',
];

/** Blocked unless the container holds the capability (as Docker's profile includes them per capability). */
const byCapability: Record<string, string[]> = {
  CAP_SYS_ADMIN: ['mount', 'umount', 'umount2', 'unshare', 'setns', 'pivot_root', 'lookup_dcookie', 'quotactl', 'name_to_handle_at', 'open_by_handle_at', 'fanotify_init', 'bpf', 'perf_event_open', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'move_mount', 'open_tree', 'mount_setattr'],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_MODULE: ['create_module', 'delete_module', 'finit_module', 'init_module', 'query_module', 'get_kernel_syms'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_adjtime'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_RAWIO: ['ioperm', 'iopl'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'move_pages'],
  CAP_SYSLOG: ['syslog'],
};

// clone flags that create namespaces: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
const namespaceFlags = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000];

export interface SeccompRule { names: string[]; action: string; errnoRet?: number; args?: Array<{ index: number; value: number; valueTwo: number; op: string }> }
export interface SeccompProfile { defaultAction: string; architectures: string[]; syscalls: SeccompRule[] }

export function defaultSeccompProfile(caps: string[]): SeccompProfile {
  const has = (c: string): boolean => caps.includes(c);
  const blocked = new Set(blockedAlways);
  blocked.add('syslog');
  for (const [cap, calls] of Object.entries(byCapability)) for (const c of calls) blocked.add(c);
  for (const [cap, calls] of Object.entries(byCapability)) if (has(cap)) for (const c of calls) blocked.delete(c);
  const syscalls: SeccompRule[] = [{ names: [...blocked].sort(), action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }];
  // clone3 cannot be filtered by flags; ENOSYS makes libc fall back to clone.
  if (!has('CAP_SYS_ADMIN')) {
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
    for (const f of namespaceFlags) {
      syscalls.push({ names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: f, valueTwo: f, op: 'SCMP_CMP_MASKED_EQ' }] });
    }
  }
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls };
}

/** A profile in Docker's JSON format (from --security-opt seccomp=<file>) → OCI linux.seccomp. */
export function fromDockerProfile(p: unknown, caps: string[]): SeccompProfile {
  if (typeof p !== 'object' || p === null) throw new Error('invalid seccomp profile');
  const o = p as { defaultAction?: string; architectures?: string[]; archMap?: Array<{ architecture: string; subArchitectures?: string[] }>; syscalls?: Array<Record<string, unknown>> };
  if (typeof o.defaultAction !== 'string') throw new Error('invalid seccomp profile: defaultAction missing');
  const arch = o.architectures ?? (o.archMap ?? []).flatMap((a) => [a.architecture, ...(a.subArchitectures ?? [])]);
  const syscalls: SeccompRule[] = [];
  for (const s of o.syscalls ?? []) {
    const inc = s['includes'] as { caps?: string[] } | undefined, exc = s['excludes'] as { caps?: string[] } | undefined;
    if (inc?.caps && !inc.caps.every((c) => caps.includes(c))) continue;
    if (exc?.caps && exc.caps.some((c) => caps.includes(c))) continue;
    const names = (s['names'] as string[] | undefined) ?? (typeof s['name'] === 'string' ? [s['name'] as string] : []);
    const rule: SeccompRule = { names, action: String(s['action']) };
    if (typeof s['errnoRet'] === 'number') rule.errnoRet = s['errnoRet'];
    if (Array.isArray(s['args'])) rule.args = s['args'] as SeccompRule['args'];
    syscalls.push(rule);
  }
  return { defaultAction: o.defaultAction, architectures: arch, syscalls };
}
