// berthd's flags and config file, mirroring dockerd's names.
import * as fs from 'node:fs';
import { registrySettings, type RegistryConfig, type RegistryFlags } from '../distribution/config';
import type { DaemonNetFlags } from '../network';

export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  logLevel: string;
  runtimePath: string;
  conmonPath: string;
  group: string;
  tls: boolean;
  tlsVerify: boolean;
  tlsCaCert?: string;
  tlsCert?: string;
  tlsKey?: string;
  configFile?: string;
  network: DaemonNetFlags;
  /** Registry settings from flags and the config file (validated; unset keys keep their defaults). */
  registry: Partial<RegistryConfig>;
}

export const DEFAULT_SOCKET = 'unix:///run/berth/berth.sock';

const usage = `Usage:	berthd [OPTIONS]

A self-sufficient runtime for containers that speaks the Docker Engine API.

Options:
      --config-file string     Daemon configuration file (default "/etc/berth/daemon.json")
      --conmon string          Path to conmon (default "conmon")
      --data-root string       Root directory of persistent state (default "/var/lib/berth")
  -D, --debug                  Enable debug mode
      --default-runtime string Path or name of the OCI runtime (default "runc")
      --exec-root string       Root directory for execution state files (default "/run/berth")
      --bip string             Address and prefix of the default bridge (e.g. 172.17.0.1/16)
      --default-address-pool   Default address pools for new networks: base=CIDR,size=N (repeatable)
      --fixed-cidr string      IPv4 subnet for fixed IPs on the default bridge
      --fixed-cidr-v6 string   IPv6 subnet for the default bridge (with --ipv6)
      --icc                    Enable inter-container communication on the default bridge (default true)
      --ip ip                  Default IP when binding container ports (default 0.0.0.0)
      --ip-masq                Enable IP masquerading on the default bridge (default true)
      --ipv6                   Enable IPv6 on the default bridge
  -G, --group string           Group for the unix socket (default "berth")
  -H, --host list              Daemon socket(s) to connect to (default unix:///run/berth/berth.sock)
      --insecure-registry list Enable insecure registry communication (host:port or CIDR; repeatable)
  -l, --log-level string       Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
      --max-concurrent-downloads int  Set the max concurrent downloads for each pull (default 3)
      --max-concurrent-uploads int    Set the max concurrent uploads for each push (default 5)
      --max-download-attempts int     Set the max download attempts for each pull (default 5)
      --mtu int                Set the MTU of the default bridge
  -p, --pidfile string         Path to use for daemon PID file (default "/run/berth/berthd.pid")
      --registry-mirror list   Preferred Docker registry mirror (repeatable)
      --runtime string         Path of the OCI runtime binary (default "runc")
      --tls                    Use TLS; implied by --tlsverify
      --tlscacert string       Trust certs signed only by this CA
      --tlscert string         Path to TLS certificate file
      --tlskey string          Path to TLS key file
      --tlsverify              Use TLS and verify the remote
  -v, --version                Print version information and quit
`;

function which(cmd: string): string {
  if (cmd.includes('/')) return cmd;
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin', '/bin'])) {
    const p = `${dir}/${cmd}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  return cmd;
}

export function parseArgs(argv: string[]): DaemonConfig | 'help' | 'version' {
  const flags = new Map<string, string[]>();
  const bools = new Set(['tls', 'tlsverify', 'debug', 'D', 'help', 'h', 'version', 'v', 'icc', 'ip-masq', 'ipv6']);
  const alias: Record<string, string> = { H: 'host', l: 'log-level', p: 'pidfile', G: 'group', D: 'debug', h: 'help', v: 'version', g: 'data-root', 'graph': 'data-root', 'add-runtime': 'runtime' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`berthd takes no positional arguments: ${a}`);
    let name = m[1]!;
    name = alias[name] ?? name;
    let val = m[2];
    if (val === undefined) {
      if (bools.has(name) || bools.has(m[1]!)) val = 'true';
      else {
        val = argv[++i];
        if (val === undefined) throw new Error(`flag needs an argument: ${a}`);
      }
    }
    flags.set(name, [...(flags.get(name) ?? []), val]);
  }
  if (flags.has('help')) return 'help';
  if (flags.has('version')) return 'version';
  const known = ['bip', 'fixed-cidr', 'fixed-cidr-v6', 'icc', 'ip', 'ip-masq', 'ipv6', 'mtu', 'default-address-pool', 'host', 'data-root', 'exec-root', 'pidfile', 'log-level', 'config-file', 'default-runtime', 'runtime', 'conmon', 'group', 'tls', 'tlsverify', 'tlscacert', 'tlscert', 'tlskey', 'debug',
    'insecure-registry', 'registry-mirror', 'max-concurrent-downloads', 'max-concurrent-uploads', 'max-download-attempts'];
  for (const k of flags.keys()) if (!known.includes(k)) throw new Error(`unknown flag: --${k}`);
  const last = (k: string): string | undefined => flags.get(k)?.at(-1);

  const configFile = last('config-file');
  let file: Record<string, unknown> = {};
  const cfgPath = configFile ?? '/etc/berth/daemon.json';
  if (fs.existsSync(cfgPath)) {
    const parsed = JSON.parse(fs.readFileSync(cfgPath, 'utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${cfgPath}: not a JSON object`);
    file = parsed as Record<string, unknown>;
  } else if (configFile) {
    throw new Error(`unable to configure the daemon: open ${configFile}: no such file or directory`);
  }
  const fstr = (k: string): string | undefined => (typeof file[k] === 'string' ? (file[k] as string) : undefined);
  const fbool = (k: string): boolean | undefined => (typeof file[k] === 'boolean' ? (file[k] as boolean) : undefined);

  let runtime = last('runtime') ?? last('default-runtime') ?? fstr('default-runtime') ?? 'runc';
  const runtimes = file['runtimes'];
  if (runtimes && typeof runtimes === 'object' && runtime in (runtimes as Record<string, unknown>)) {
    const r = (runtimes as Record<string, { path?: string }>)[runtime];
    if (r?.path) runtime = r.path;
  }
  if (runtime.includes('=')) runtime = runtime.slice(runtime.indexOf('=') + 1);
  const hosts = flags.get('host') ?? (Array.isArray(file['hosts']) ? (file['hosts'] as string[]) : [DEFAULT_SOCKET]);
  const debug = flags.has('debug') || fbool('debug') === true;
  const tlsVerify = last('tlsverify') === 'true' || fbool('tlsverify') === true;
  const cfg: DaemonConfig = {
    hosts,
    dataRoot: last('data-root') ?? fstr('data-root') ?? '/var/lib/berth',
    execRoot: last('exec-root') ?? fstr('exec-root') ?? '/run/berth',
    pidfile: last('pidfile') ?? fstr('pidfile') ?? '/run/berth/berthd.pid',
    logLevel: debug ? 'debug' : (last('log-level') ?? fstr('log-level') ?? 'info'),
    runtimePath: which(runtime),
    conmonPath: which(last('conmon') ?? fstr('conmon') ?? 'conmon'),
    group: last('group') ?? fstr('group') ?? 'berth',
    tls: tlsVerify || last('tls') === 'true' || fbool('tls') === true,
    tlsVerify,
    network: {},
    registry: {},
  };
  const ca = last('tlscacert') ?? fstr('tlscacert'), cert = last('tlscert') ?? fstr('tlscert'), key = last('tlskey') ?? fstr('tlskey');
  if (ca) cfg.tlsCaCert = ca;
  if (cert) cfg.tlsCert = cert;
  if (key) cfg.tlsKey = key;
  if (configFile) cfg.configFile = configFile;
  const bip = last('bip'), fixedCidr = last('fixed-cidr'), mtu = last('mtu');
  if (bip) cfg.network.bip = bip;
  if (fixedCidr) cfg.network.fixedCidr = fixedCidr;
  if (mtu) {
    if (!/^\d+$/.test(mtu)) throw new Error(`invalid --mtu: ${mtu}`);
    cfg.network.mtu = Number(mtu);
  }
  // --default-address-pool base=172.30.0.0/16,size=24 (repeatable), as dockerd
  const pools = (flags.get('default-address-pool') ?? []).map((v) => {
    const kv = Object.fromEntries(v.split(',').map((p) => p.split('=', 2) as [string, string]));
    if (!kv['base'] || !kv['size'] || !/^\d+$/.test(kv['size'])) throw new Error(`invalid --default-address-pool: ${v}`);
    return { base: kv['base'], size: Number(kv['size']) };
  });
  if (pools.length) cfg.network.addressPools = pools;
  // Registry keys: a flag and the file naming the same key is an error, as with dockerd.
  const rf: RegistryFlags = {};
  const ins = flags.get('insecure-registry'), mir = flags.get('registry-mirror');
  const dls = last('max-concurrent-downloads'), uls = last('max-concurrent-uploads'), atts = last('max-download-attempts');
  if (ins) rf.insecureRegistries = ins;
  if (mir) rf.mirrors = mir;
  if (dls !== undefined) rf.maxConcurrentDownloads = dls;
  if (uls !== undefined) rf.maxConcurrentUploads = uls;
  if (atts !== undefined) rf.maxDownloadAttempts = atts;
  const reg = registrySettings(rf, file);
  if (reg.conflicts.length) {
    throw new Error(`unable to configure the Docker daemon with file ${cfgPath}: the following directives are specified both as a flag and in the configuration file: ${reg.conflicts.join(', ')}`);
  }
  cfg.registry = reg.cfg;
  // --icc=false, --ip-masq=false, --ipv6 (Go bool flags: true/false/1/0/t/f)
  for (const [flag, key] of [['icc', 'icc'], ['ip-masq', 'ipMasq'], ['ipv6', 'ipv6']] as const) {
    const v = last(flag);
    if (v === undefined) continue;
    if (!/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(v)) throw new Error(`invalid argument "${v}" for "--${flag}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
    cfg.network[key] = /^(1|t|T|TRUE|true|True)$/.test(v);
  }
  const ip = last('ip'), fixedCidrV6 = last('fixed-cidr-v6');
  if (ip && !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw new Error(`invalid argument "${ip}" for "--ip" flag: invalid IPv4 address`);
  if (ip) cfg.network.ip = ip;
  if (fixedCidrV6) cfg.network.fixedCidrV6 = fixedCidrV6;
  return cfg;
}

export { usage };
