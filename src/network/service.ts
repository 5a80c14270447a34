// The network service: networks (default bridge, user-defined bridges, host,
// none), their IPAM, and every running container's endpoints, published
// ports and DNS records. It is the container service's NetworkProvider
// (prepare/attach/detach/release/restore/inspect) and the backend of the
// /networks API.
import { randomBytes, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { conflict, EngineError, errorMessage, forbidden, internal, invalid, notFound } from '../common/errors';
import type { EventSink } from '../common/events';
import { checkFilterKeys, matchLabels, parseTimestamp, type Filters } from '../common/filters';
import { log } from '../common/log';
import { type Answer, aaaaRecord, aRecord, ptrRecord, type Question, TYPE_A, TYPE_AAAA, TYPE_ANY, TYPE_PTR } from './dns/codec';
import { EmbeddedDns, type LocalAnswer } from './dns/server';
import { embeddedResolv, hostResolvers, hostsContent, parseResolvConf, resolvContent, writeInPlace } from './etc';
import { setSysctl } from './exec';
import { ip6Ruleset, ip6Update, bridgeRuleset, bridgeUpdate, containerDnsRemove, containerDnsRules, type FwLinkPort, type FwNetwork, type FwPort, hostRuleset, linkElements, networkUpdate, Nft, portElements } from './firewall';
import { AddressPool, checkOverlap, defaultAddressPools, parseAddressPools, parseProcNetRoute, pickSubnet, type PoolBase, validateIpamEntry } from './ipam';
import { type Cidr, cidrContains, formatCidr, formatIPv4, macFromIPv4, parseCidr, parseIPv4, parseMac, parseReverseName } from './ipv4';
import { bridgeLines, type EndpointLinks, hostEndpointLines, innerEndpointLines, ipBatch, ipBatchIn, listLinks, type LinkInfo, nftIn } from './kernel';
import { AddressPool6, type Cidr6, cidr6Contains, cidr6Overlaps, formatCidr6, formatIPv6, parseCidr6, parseIPv6, validateIpam6Entry } from './ipv6';
import { type LinkRef, linkEnv, parseLink } from './links';
import { PortHolders } from './portmap';
import { type BoundPort, parsePortKey, parsePortRangeSysctl, portList, portMap, portRequests, PortTable, validateExposed } from './ports';
import { NetStore } from './store';
import type { ContainerHost, ContainerLike, ContainerNet, EndpointRequest, EndpointState, EtcPaths, IpamConfigEntry, NetworkRecord, SandboxState } from './types';

export interface NetworkServiceOptions {
  /** <data-root>/network */
  root: string;
  events: EventSink;
  /** daemon.json: bip, fixed-cidr, default-address-pools, mtu are read from it */
  configFile?: string;
  /** name of the default bridge (default berth0) */
  defaultBridge?: string;
  /** berthd flags (--bip, --fixed-cidr, --mtu, --default-address-pool, --icc, --ip-masq, --ip); they win over daemon.json */
  flags?: DaemonNetFlags;
}

export interface DaemonNetFlags {
  bip?: string; fixedCidr?: string; mtu?: number; addressPools?: Array<{ base: string; size: number }>;
  icc?: boolean; ipMasq?: boolean; ip?: string; ipv6?: boolean; fixedCidrV6?: string;
}

const DEFAULT_BRIDGE = 'berth0';
const OPT_BRIDGE_NAME = 'com.docker.network.bridge.name';
const OPT_MTU = 'com.docker.network.driver.mtu';
const OPT_MASQ = 'com.docker.network.bridge.enable_ip_masquerade';
const OPT_HOST_IP = 'com.docker.network.bridge.host_binding_ipv4';
const OPT_ICC = 'com.docker.network.bridge.enable_icc';

/** Go's strconv.ParseBool; undefined when it would fail. */
function parseGoBool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

class Net {
  pool: AddressPool | undefined;
  subnet: Cidr | undefined;
  gateway = 0;
  subnets: Array<{ subnet: Cidr; gateway: number; pool: AddressPool }> = [];
  /** IPv6 (EnableIPv6 with a v6 subnet) */
  pool6: AddressPool6 | undefined;
  subnet6: Cidr6 | undefined;
  gateway6 = 0n;
  endpoints = new Map<string, Ep>();
  /** endpoints being set up (a network in that state cannot be removed) */
  pending = 0;
  constructor(public rec: NetworkRecord) {
    const c = rec.IPAM.Config.find((x) => !x.Subnet.includes(':'));
    const c6 = rec.EnableIPv6 ? rec.IPAM.Config.find((x) => x.Subnet.includes(':')) : undefined;
    if (rec.Driver === 'bridge' && c6) {
      const subnet = parseCidr6(c6.Subnet);
      const gw = parseIPv6(c6.Gateway);
      const range = c6.IPRange ? parseCidr6(c6.IPRange) : undefined;
      if (subnet && gw !== undefined) {
        this.subnet6 = subnet;
        this.gateway6 = gw;
        this.pool6 = new AddressPool6({ subnet, gateway: gw, ...(range ? { ipRange: range } : {}) });
        for (const a of Object.values(c6.AuxiliaryAddresses ?? {})) { const x = parseIPv6(a); if (x !== undefined) this.pool6.claim(x); }
      }
    }
    // every IPv4 subnet (docker network create --subnet a --subnet b): addresses come from the first with room
    for (const x of rec.Driver === 'bridge' ? rec.IPAM.Config.filter((y) => !y.Subnet.includes(':')) : []) {
      const subnet = parseCidr(x.Subnet);
      const gw = parseIPv4(x.Gateway);
      const range = x.IPRange ? parseCidr(x.IPRange) : undefined;
      if (!subnet || gw === undefined) continue;
      const pool = new AddressPool({ subnet, gateway: gw, ...(range ? { ipRange: range } : {}) });
      // --aux-address: reserved for devices outside berth, never handed out
      for (const a of Object.values(x.AuxiliaryAddresses ?? {})) { const ip = parseIPv4(a); if (ip !== undefined) pool.claim(ip); }
      this.subnets.push({ subnet, gateway: gw, pool });
    }
    const first = this.subnets[0];
    if (c && first) {
      this.subnet = first.subnet;
      this.gateway = first.gateway;
      this.pool = first.pool;
    }
  }
  /** the subnet entry an address belongs to */
  subnetOf(ip: number): { subnet: Cidr; gateway: number; pool: AddressPool } | undefined {
    return this.subnets.find((x) => cidrContains(x.subnet, ip));
  }
  claim(ip: number): void { this.subnetOf(ip)?.pool.claim(ip); }
  release(ip: number): void { this.subnetOf(ip)?.pool.release(ip); }
  /** An address: the preferred one, or the next free one of the first subnet with room. */
  allocate(preferred: number | undefined, what: string): { ip: number; subnet: Cidr; gateway: number } {
    if (preferred !== undefined) {
      const s = this.subnetOf(preferred);
      if (!s) throw invalid(`no configured subnet or ip-range contain the IP address ${formatIPv4(preferred)}`);
      return { ip: s.pool.allocate(preferred, what), subnet: s.subnet, gateway: s.gateway };
    }
    let last: unknown;
    for (const s of this.subnets) {
      try { return { ip: s.pool.allocate(undefined, what), subnet: s.subnet, gateway: s.gateway }; } catch (e) { last = e; }
    }
    throw last instanceof Error ? last : internal(`network ${what} has no address pool`);
  }
  /** nft text for the network's IPv4 subnets: one block, or an anonymous set of them */
  get subnetsText(): string {
    return this.subnets.length === 1 ? formatCidr(this.subnets[0]!.subnet) : `{ ${this.subnets.map((x) => formatCidr(x.subnet)).join(', ')} }`;
  }
  get id(): string { return this.rec.Id; }
  get name(): string { return this.rec.Name; }
  get isBridge(): boolean { return this.rec.Driver === 'bridge' && !!this.pool; }
  get isDefault(): boolean { return this.rec.builtin && this.rec.Driver === 'bridge'; }
  /** user-defined networks resolve container names */
  get hasDns(): boolean { return this.isBridge && !this.rec.builtin; }
  get bridge(): string { return this.rec.bridge ?? ''; }
  get mtu(): number { return Number(this.rec.Options[OPT_MTU] ?? 1500) || 1500; }
  get internal(): boolean { return this.rec.Internal; }
  get masquerade(): boolean { return parseGoBool(this.rec.Options[OPT_MASQ]) !== false; }
  get icc(): boolean { return parseGoBool(this.rec.Options[OPT_ICC]) !== false; }
  get hostIp(): string { return this.rec.Options[OPT_HOST_IP] || '0.0.0.0'; }
}

interface Ep { net: Net; sb: Sandbox; st: EndpointState; ip: number; ip6?: bigint }

/** The endpoint that carries the IPv6 default route: the first with a way out and a v6 gateway. */
function gw6Of(eps: Ep[]): Ep | undefined {
  return eps.find((e) => !e.net.internal && e.st.ip6 && e.st.gateway6);
}

/** Gives an endpoint's addresses back to its network's pools. */
function releaseAddrs(e: Ep): void {
  e.net.release(e.ip);
  if (e.ip6 !== undefined) e.net.pool6?.release(e.ip6);
}

interface Sandbox {
  id: string;
  rec: ContainerLike;
  st: SandboxState;
  eps: Ep[];
}

/** A unique local /64 (fdXX:XXXX:XXXX::/64) from a seed, as Docker picks one for --ipv6 without a subnet. */
function ulaFor(seed: string): Cidr6 {
  const h = createHash('sha256').update(`berth-ula/${seed}`).digest();
  let net = 0xfdn;
  for (let i = 0; i < 5; i++) net = (net << 8n) | BigInt(h[i]!);
  return { net: net << 80n, len: 64 };
}

/** IPAM.Config[].AuxiliaryAddresses, validated (Docker's wording); undefined when absent or empty. */
function auxAddresses(v: unknown, inSubnet: (a: string) => boolean, subnet: string): Record<string, string> | undefined {
  const m = strMap(v, 'IPAM.Config.AuxiliaryAddresses');
  for (const [k, a] of Object.entries(m)) {
    if (!inSubnet(a)) throw invalid(`invalid network config:\ninvalid auxiliary address ${k}: parent subnet ${subnet} doesn't contain this address`);
  }
  return Object.keys(m).length ? m : undefined;
}

function hex(n: number): string {
  return randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
}

function strList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalid(`json: cannot unmarshal ${what}: expected a list of strings`);
  return v as string[];
}

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function strMap(v: unknown, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`json: cannot unmarshal ${what}: expected an object of strings`);
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') throw invalid(`json: cannot unmarshal ${what}.${k}: expected a string`);
    out[k] = x;
  }
  return out;
}

function cname(rec: ContainerLike): string {
  return rec.Name.replace(/^\//, '');
}

function validIfname(s: string): boolean {
  return /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/.test(s);
}

function emptyEndpoint(): Record<string, unknown> {
  return {
    IPAMConfig: null, Links: null, Aliases: null, NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0,
    IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '', DriverOpts: null,
  };
}

export class NetworkService {
  private readonly store: NetStore;
  private nets = new Map<string, Net>();
  private sandboxes = new Map<string, Sandbox>();
  private byIp = new Map<string, Ep>();
  /** sandboxes read from disk at start-up, until their container is restored or found dead */
  private loaded = new Map<string, SandboxState>();
  private pendingVeths = new Set<string>();
  private holders = new PortHolders();
  private ports = new PortTable();
  private nft = new Nft();
  private dns: EmbeddedDns;
  private host: ContainerHost | undefined;
  private rotation = new Map<string, number>();
  private restoreJobs: Array<Promise<unknown>> = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private pools: PoolBase[] = defaultAddressPools();
  private daemonCfg: Omit<DaemonNetFlags, 'addressPools'> = {};
  private firewallReady = false;
  /** the bridge-family table (icc=false, links under it) is in place */
  private bridgeFwReady = false;
  /** the ip6 table (masquerading and isolation of IPv6 networks) is in place */
  private ip6FwReady = false;
  private netLock: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: NetworkServiceOptions) {
    this.store = new NetStore(o.root);
    this.dns = new EmbeddedDns({
      lookup: (src, q) => this.dnsLookup(src, q),
      upstream: (src) => {
        const sb = this.byIp.get(src)?.sb;
        if (!sb) return hostResolvers();
        // a container only on internal networks has no way out: no relaying for it either
        return sb.eps.some((e) => !e.net.internal) ? sb.st.upstream : [];
      },
    });
  }

  /** The container service hands over access to its records (connect/disconnect of stopped containers, locks). */
  bind(host: ContainerHost): void {
    this.host = host;
  }

  // ================= start-up =================

  async init(): Promise<void> {
    this.store.init();
    this.readDaemonConfig();
    try {
      const r = parsePortRangeSysctl(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'));
      if (r) this.ports = new PortTable(r);
    } catch { /* default range */ }
    for (const r of this.store.loadNetworks()) this.nets.set(r.Id, new Net(r));
    // Leases of the containers that were running: held until they are restored or found dead.
    this.loaded = this.store.loadSandboxes();
    this.ensurePredefined();
    for (const st of this.loaded.values()) {
      for (const e of st.endpoints) {
        const ip = parseIPv4(e.ip);
        const n = this.nets.get(e.networkId);
        if (ip !== undefined && n) n.claim(ip);
        const ip6 = e.ip6 ? parseIPv6(e.ip6) : undefined;
        if (ip6 !== undefined && n?.pool6) n.pool6.claim(ip6);
      }
    }
    setSysctl('net/ipv4/ip_forward', '1');
    // The rulesets name interfaces (iifname/oifname), so they load while the bridges are made: both at once.
    const firewall = this.setUpFirewall();
    const links = await listLinks().catch((e: unknown) => { log.error('cannot list links', { err: e }); return [] as LinkInfo[]; });
    const lines: string[] = [];
    for (const n of this.bridges()) lines.push(...bridgeLines(n.bridge, this.bridgeMac(n), this.gatewayCidrs(n), n.mtu, links.find((l) => l.ifname === n.bridge)));
    if (lines.length) await ipBatch(lines).catch((e: unknown) => log.error('cannot set up bridges', { err: e }));
    for (const n of this.bridges()) this.bridgeSysctls(n);
    const lines6 = this.bridges().flatMap((n) => this.bridgeLines6(n));
    if (lines6.length) await ipBatch(lines6).catch((e: unknown) => log.error('cannot set up IPv6 on the bridges', { err: e }));
    await firewall;
    for (const n of this.bridges()) if (n.hasDns) await this.startDns(n);
  }

  /** Loads the three tables; queued together, they go to nft in one transaction (one by one only if that fails). */
  private async setUpFirewall(): Promise<void> {
    const nets = this.fwNets();
    const [host, bridge, ip6] = await Promise.allSettled([
      this.nft.apply(hostRuleset(nets, [])),
      this.nft.apply(bridgeRuleset(nets)),
      this.nft.apply(ip6Ruleset(nets)),
    ]);
    if (host.status === 'fulfilled') this.firewallReady = true;
    else log.error('nftables unavailable: published ports fall back to the in-process proxy (TCP only), no masquerading', { err: host.reason });
    if (bridge.status === 'fulfilled') this.bridgeFwReady = true;
    else log.error('nftables bridge family unavailable: networks with enable_icc=false cannot be isolated', { err: bridge.reason });
    if (ip6.status === 'fulfilled') this.ip6FwReady = true;
    else log.error('nftables ip6 family unavailable: IPv6 networks are neither masqueraded nor isolated', { err: ip6.reason });
  }

  /** After the container service restored the running containers: drop what nobody claimed. */
  async afterRestore(): Promise<void> {
    await Promise.allSettled(this.restoreJobs);
    this.restoreJobs = [];
    for (const [id, st] of this.loaded) {
      this.releaseLoaded(st);
      this.store.removeSandbox(id);
    }
    this.loaded.clear();
    await this.sweep().catch((e: unknown) => log.warn('veth sweep failed', { err: e }));
  }

  close(): void {
    this.dns.closeAll();
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
  }

  private readDaemonConfig(): void {
    const file = this.o.configFile;
    this.applyFlags();
    if (!file || !fs.existsSync(file)) return;
    let cfg: Record<string, unknown>;
    try {
      cfg = obj(JSON.parse(fs.readFileSync(file, 'utf8')));
    } catch {
      return; // the daemon's own config parser reports it
    }
    if (typeof cfg['bip'] === 'string') this.daemonCfg.bip = cfg['bip'];
    if (typeof cfg['fixed-cidr'] === 'string') this.daemonCfg.fixedCidr = cfg['fixed-cidr'];
    if (typeof cfg['mtu'] === 'number') this.daemonCfg.mtu = cfg['mtu'];
    if (typeof cfg['icc'] === 'boolean') this.daemonCfg.icc = cfg['icc'];
    if (typeof cfg['ip-masq'] === 'boolean') this.daemonCfg.ipMasq = cfg['ip-masq'];
    if (typeof cfg['ip'] === 'string') this.daemonCfg.ip = cfg['ip'];
    if (typeof cfg['ipv6'] === 'boolean') this.daemonCfg.ipv6 = cfg['ipv6'];
    if (typeof cfg['fixed-cidr-v6'] === 'string') this.daemonCfg.fixedCidrV6 = cfg['fixed-cidr-v6'];
    if (cfg['default-address-pools'] !== undefined) this.pools = parseAddressPools(cfg['default-address-pools']);
    this.applyFlags();
  }

  private applyFlags(): void {
    const f = this.o.flags;
    if (!f) return;
    if (f.bip) this.daemonCfg.bip = f.bip;
    if (f.fixedCidr) this.daemonCfg.fixedCidr = f.fixedCidr;
    if (f.mtu) this.daemonCfg.mtu = f.mtu;
    for (const k of ['icc', 'ipMasq', 'ipv6'] as const) if (f[k] !== undefined) this.daemonCfg[k] = f[k];
    if (f.ip) this.daemonCfg.ip = f.ip;
    if (f.fixedCidrV6) this.daemonCfg.fixedCidrV6 = f.fixedCidrV6;
    if (f.addressPools?.length) this.pools = parseAddressPools(f.addressPools);
  }

  private ensurePredefined(): void {
    const byName = (name: string): Net | undefined => [...this.nets.values()].find((n) => n.rec.builtin && n.name === name);
    for (const [name, driver] of [['bridge', 'bridge'], ['host', 'host'], ['none', 'null']] as const) {
      const have = byName(name);
      const rec: NetworkRecord = have?.rec ?? {
        Name: name, Id: hex(64), Created: new Date().toISOString(), Scope: 'local', Driver: driver, EnableIPv6: false,
        IPAM: { Driver: 'default', Options: null, Config: [] }, Internal: false, Attachable: false, Ingress: false,
        ConfigFrom: { Network: '' }, ConfigOnly: false, Options: {}, Labels: {}, builtin: true, userSubnet: false,
      };
      if (name === 'bridge') {
        const want = this.defaultBridgeConfig(rec.Id);
        if (JSON.stringify(want.IPAM) !== JSON.stringify(rec.IPAM) || JSON.stringify(want.Options) !== JSON.stringify(rec.Options) || rec.bridge !== want.bridge || rec.EnableIPv6 !== want.EnableIPv6) {
          // bip / fixed-cidr changed: only while nothing holds an address of the old subnet
          const busy = [...this.loaded.values()].some((s) => s.endpoints.some((e) => e.networkId === rec.Id));
          if (!busy) Object.assign(rec, want);
        }
      }
      if (!have || name === 'bridge') {
        this.store.saveNetwork(rec);
        this.nets.set(rec.Id, new Net(rec));
      }
    }
  }

  private defaultBridgeConfig(id: string): Pick<NetworkRecord, 'IPAM' | 'Options' | 'bridge' | 'EnableIPv6'> {
    let subnet = '172.17.0.0/16', gateway = '172.17.0.1';
    if (this.daemonCfg.bip) {
      const c = parseCidr(this.daemonCfg.bip);
      const gw = parseIPv4(this.daemonCfg.bip.split('/')[0] ?? '');
      if (c && gw !== undefined) { subnet = formatCidr(c); gateway = formatIPv4(gw); } else log.warn('ignoring malformed bip', { bip: this.daemonCfg.bip });
    }
    const cfg: { Subnet: string; Gateway: string; IPRange?: string } = { Subnet: subnet, Gateway: gateway };
    if (this.daemonCfg.fixedCidr) {
      const r = parseCidr(this.daemonCfg.fixedCidr);
      if (r && cidrContains(parseCidr(subnet)!, r.net)) cfg.IPRange = formatCidr(r);
    }
    const configs: NetworkRecord['IPAM']['Config'] = [cfg];
    let v6 = false;
    if (this.daemonCfg.ipv6) {
      // --ipv6 --fixed-cidr-v6 (without a prefix: a ULA /64 derived from the network's ID, stable across restarts)
      let c6 = this.daemonCfg.fixedCidrV6 ? parseCidr6(this.daemonCfg.fixedCidrV6) : undefined;
      if (this.daemonCfg.fixedCidrV6 && !c6) log.warn('ignoring malformed fixed-cidr-v6', { fixedCidrV6: this.daemonCfg.fixedCidrV6 });
      c6 ??= ulaFor(id);
      configs.push({ Subnet: formatCidr6(c6), Gateway: formatIPv6(c6.net + 1n) });
      v6 = true;
    }
    const bridge = this.o.defaultBridge ?? DEFAULT_BRIDGE;
    return {
      EnableIPv6: v6,
      IPAM: { Driver: 'default', Options: null, Config: configs },
      Options: {
        'com.docker.network.bridge.default_bridge': 'true', [OPT_ICC]: String(this.daemonCfg.icc ?? true),
        [OPT_MASQ]: String(this.daemonCfg.ipMasq ?? true), [OPT_HOST_IP]: this.daemonCfg.ip && parseIPv4(this.daemonCfg.ip) !== undefined ? this.daemonCfg.ip : '0.0.0.0',
        [OPT_BRIDGE_NAME]: bridge, [OPT_MTU]: String(this.daemonCfg.mtu ?? 1500),
      },
      bridge,
    };
  }

  /** Bridge networks, oldest first (a stable order for the firewall rules). */
  private bridges(): Net[] {
    return [...this.nets.values()].filter((n) => n.isBridge).sort((a, b) => (a.rec.Created < b.rec.Created ? -1 : a.rec.Created > b.rec.Created ? 1 : a.id < b.id ? -1 : 1));
  }

  private bridgeMac(n: Net): string {
    const h = createHash('sha256').update(n.id).digest();
    return ['02', '42', ...[...h.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
  }

  private bridgeSysctls(n: Net): void {
    // loopback-published ports are DNATed onto the bridge: the kernel must route 127/8 sources there
    setSysctl(`net/ipv4/conf/${n.bridge}/route_localnet`, '1');
    if (n.pool6) {
      setSysctl(`net/ipv6/conf/${n.bridge}/disable_ipv6`, '0');
      // the gateway routes v6 between its networks and out (as Docker does when it has IPv6 networks)
      setSysctl('net/ipv6/conf/all/forwarding', '1');
    }
  }

  /** The bridge's IPv4 addresses: the gateway of every subnet. */
  private gatewayCidrs(n: Net): string[] {
    return n.subnets.map((x) => `${formatIPv4(x.gateway)}/${x.subnet.len}`);
  }

  /** The bridge's IPv6 gateway address (replace: idempotent at every start). */
  private bridgeLines6(n: Net): string[] {
    return n.pool6 && n.subnet6 ? [`addr replace ${formatIPv6(n.gateway6)}/${n.subnet6.len} dev ${n.bridge} nodad`] : [];
  }

  private fwNets(): FwNetwork[] {
    return this.bridges().map((n) => ({ bridge: n.bridge, subnet: n.subnetsText, internal: n.internal, masquerade: n.masquerade, icc: n.icc, ...(n.subnet6 ? { subnet6: formatCidr6(n.subnet6) } : {}) }));
  }

  /** The firewall text after the set of networks changed. */
  private fwUpdateText(): string {
    const nets = this.fwNets();
    return networkUpdate(nets) + (this.bridgeFwReady ? bridgeUpdate(nets) : '') + (this.ip6FwReady ? ip6Update(nets) : '');
  }

  private async startDns(n: Net): Promise<void> {
    try {
      await this.dns.listen(formatIPv4(n.gateway), 53);
    } catch (e) {
      log.error('embedded DNS cannot listen', { network: n.name, err: e });
    }
  }

  // ================= lookup =================

  private findNet(ref: string): Net | undefined {
    const byId = this.nets.get(ref);
    if (byId) return byId;
    for (const n of this.nets.values()) if (n.name === ref) return n;
    if (/^[0-9a-f]+$/.test(ref)) {
      const m = [...this.nets.values()].filter((n) => n.id.startsWith(ref));
      if (m.length > 1) throw new EngineError('invalid_argument', `network ${ref} is ambiguous (${m.length} matches found based on ID prefix)`);
      return m[0];
    }
    return undefined;
  }

  private getNet(ref: string): Net {
    const n = this.findNet(ref);
    if (!n) throw notFound(`network ${ref} not found`);
    return n;
  }

  private modeNetwork(rec: ContainerLike): string {
    const m = rec.HostConfig.NetworkMode || 'default';
    return m === 'default' ? 'bridge' : m;
  }

  /** rec.Network, created from NetworkMode for records that predate it. */
  private cnet(rec: ContainerLike): ContainerNet {
    const v = rec.Network as ContainerNet | undefined;
    if (v && Array.isArray(v.requested)) return v;
    const mode = this.modeNetwork(rec);
    const requested: EndpointRequest[] = /^(none|host|container:.*)$/.test(mode) ? [] : [{ network: mode, aliases: [] }];
    const c: ContainerNet = { requested };
    rec.Network = c;
    return c;
  }

  // ================= NetworkProvider =================

  prepare(rec: ContainerLike, networkingConfig: unknown): void {
    const mode = this.modeNetwork(rec);
    const hc = rec.HostConfig;
    const userHostname = rec.Config.Hostname !== rec.Id.slice(0, 12);
    const shared = mode.startsWith('container:');
    if (shared || mode === 'host') {
      if (shared && userHostname) throw invalid('conflicting options: hostname and the network mode');
      if (rec.Config.MacAddress) throw invalid('conflicting options: mac-address and the network mode');
    }
    if (shared) {
      if ((hc.Dns ?? []).length || (hc.DnsSearch ?? []).length || (hc.DnsOptions ?? []).length) throw invalid('conflicting options: dns and the network mode');
      if ((hc.ExtraHosts ?? []).length) throw invalid('conflicting options: custom host-to-IP mapping and the network mode');
      if (hc.PortBindings && Object.keys(obj(hc.PortBindings)).length || hc.PublishAllPorts) throw invalid('conflicting options: port publishing and the container type network mode');
    }
    if (rec.Config.MacAddress && !parseMac(rec.Config.MacAddress)) throw invalid(`${rec.Config.MacAddress} is not a valid mac address`);
    for (const h of hc.ExtraHosts ?? []) {
      const i = h.indexOf(':');
      const ip = h.slice(i + 1);
      if (i <= 0 || (ip !== 'host-gateway' && parseIPv4(ip) === undefined && !ip.includes(':'))) throw invalid(`invalid IP address in add-host: "${ip}"`);
    }
    for (const d of hc.Dns ?? []) if (parseIPv4(d) === undefined && !d.includes(':')) throw invalid(`${d} is not an ip address`);
    const linkSpecs = strList(hc.Links, 'HostConfig.Links');
    if (linkSpecs.length && mode === 'host') throw invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    if (linkSpecs.length && shared) throw invalid("conflicting options: container type network can't be used with links. This would result in undefined behavior");
    validateExposed(rec.Config.ExposedPorts);
    portRequests(hc.PortBindings, rec.Config.ExposedPorts, !!hc.PublishAllPorts);

    const nc = obj(networkingConfig);
    const ec = obj(nc['EndpointsConfig']);
    const requested: EndpointRequest[] = [];
    const names = /^(none|host|container:.*)$/.test(mode) ? [] : [mode, ...Object.keys(ec).filter((k) => k !== mode && !(mode === 'bridge' && k === 'default'))];
    for (const name of names) {
      const es = obj(ec[name] ?? (mode === 'bridge' && name === 'bridge' ? ec['default'] : undefined));
      const req = this.endpointRequest(name, es);
      const n = this.findNetQuiet(name);
      if (n) this.validateRequest(n, req);
      requested.push(req);
    }
    const c: ContainerNet = { requested };
    if (linkSpecs.length) {
      if (mode === 'bridge') {
        // legacy links: the targets must exist now; inspect shows them as Docker's link graph does
        c.links = linkSpecs.map((l) => this.resolveLink(l));
        hc.Links = c.links.map((l) => `/${cname(this.needHost().get(l.id))}:/${cname(rec)}/${l.alias}`);
      } else {
        // on a user-defined network a link is only an alias the container resolves (EndpointSettings.Links)
        for (const l of linkSpecs) parseLink(l);
        const first = requested[0];
        if (first && !first.links?.length) first.links = [...linkSpecs];
        hc.Links = null;
      }
    }
    rec.Network = c;
  }

  /** A --link target by name, followed through container:<x> modes (Docker's registerLinks). */
  private resolveLink(spec: string): LinkRef {
    const { name, alias } = parseLink(spec);
    const get = (ref: string): ContainerLike => {
      try {
        return this.needHost().get(ref);
      } catch (e) {
        // invalid, not not-found: a 404 would make the CLI try to pull the image
        if (e instanceof EngineError && e.kind === 'not_found') throw invalid(`could not get container for ${ref}: No such container: ${ref}`);
        throw e;
      }
    };
    let child = get(name);
    for (let hops = 0; child.HostConfig.NetworkMode.startsWith('container:') && hops < 16; hops++) child = get(child.HostConfig.NetworkMode.slice(10));
    if (child.HostConfig.NetworkMode === 'host') throw invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    return { id: child.Id, alias };
  }

  /** The running target of a link and its endpoint on the default bridge; throws Docker's errors. */
  private linkTarget(rec: ContainerLike, l: LinkRef): { child: ContainerLike; ep: Ep } {
    const host = this.needHost();
    let child: ContainerLike | undefined;
    try { child = host.get(l.id); } catch { /* removed since: not running either */ }
    const linkName = `/${cname(rec)}/${l.alias}`;
    const sb = child?.State.Running ? this.sandboxes.get(child.Id) : undefined;
    if (!child || !child.State.Running) throw new EngineError('failed_precondition', `Cannot link to a non running container: /${child ? cname(child) : l.alias} AS ${linkName}`);
    const ep = sb?.eps.find((e) => e.net.isDefault);
    if (!ep) throw new EngineError('failed_precondition', `Cannot link to /${cname(child)}, as it does not belong to the default network`);
    return { child, ep };
  }

  linkEnv(rec: ContainerLike, strict = true): string[] {
    const links = (rec.Network as ContainerNet | undefined)?.links ?? [];
    if (!links.length || this.modeNetwork(rec) !== 'bridge') return [];
    const env: string[] = [];
    for (const l of links) {
      let t: { child: ContainerLike; ep: Ep };
      try {
        t = this.linkTarget(rec, l);
      } catch (e) {
        if (strict) throw e;
        continue;
      }
      env.push(...linkEnv(`/${cname(rec)}/${l.alias}`, t.ep.st.ip, t.child.Config.Env ?? [], t.child.Config.ExposedPorts));
    }
    return env;
  }

  /** /etc/hosts lines for rec's legacy links: "ip alias hostname [name]" per running target. */
  private linkHosts(rec: ContainerLike): Array<{ ip: string; names: string }> {
    const links = (rec.Network as ContainerNet | undefined)?.links ?? [];
    const out: Array<{ ip: string; names: string }> = [];
    for (const l of links) {
      const sb = this.sandboxes.get(l.id);
      const ep = sb?.eps.find((e) => e.net.isDefault);
      if (!sb || !ep) continue;
      const name = cname(sb.rec);
      out.push({ ip: ep.st.ip, names: [l.alias, sb.rec.Config.Hostname, ...(l.alias !== name ? [name] : [])].join(' ') });
    }
    return out;
  }

  private findNetQuiet(ref: string): Net | undefined {
    try { return this.findNet(ref); } catch { return undefined; }
  }

  private endpointRequest(network: string, es: Record<string, unknown>): EndpointRequest {
    const ipam = obj(es['IPAMConfig']);
    const ipv4 = typeof ipam['IPv4Address'] === 'string' ? ipam['IPv4Address'] : '';
    if (ipv4 && parseIPv4(ipv4) === undefined) throw invalid(`invalid IPv4 address: ${ipv4}`);
    const ipv6 = typeof ipam['IPv6Address'] === 'string' ? ipam['IPv6Address'] : '';
    if (ipv6 && parseIPv6(ipv6) === undefined) throw invalid(`invalid IPv6 address: ${ipv6}`);
    const aliases = strList(es['Aliases'], 'Aliases');
    const links = strList(es['Links'], 'Links');
    const mac = typeof es['MacAddress'] === 'string' ? es['MacAddress'] : '';
    if (mac && !parseMac(mac)) throw invalid(`${mac} is not a valid mac address`);
    const req: EndpointRequest = { network, aliases };
    if (ipv4) req.ipv4 = ipv4;
    if (ipv6) req.ipv6 = formatIPv6(parseIPv6(ipv6)!);
    if (mac) req.mac = mac;
    if (links.length) req.links = links;
    return req;
  }

  private validateRequest(n: Net, req: EndpointRequest): void {
    if (n.rec.Driver !== 'bridge') {
      if (req.ipv4 || req.ipv6 || req.aliases.length) throw invalid(`network-scoped alias is supported only for containers in user defined networks`);
      return;
    }
    if (n.isDefault) {
      if (req.ipv4 || req.ipv6) throw invalid('user specified IP address is supported on user defined networks only');
      if (req.aliases.length) throw invalid('network-scoped alias is supported only for containers in user defined networks');
      return;
    }
    if (req.ipv4) {
      if (!n.rec.userSubnet) throw invalid('user specified IP address is supported only when connecting to networks with user configured subnets');
      // a static address may lie outside the ip-range (which is for automatic ones), not outside the subnet
      if (!n.subnetOf(parseIPv4(req.ipv4)!)) throw invalid(`no configured subnet or ip-range contain the IP address ${req.ipv4}`);
    }
    if (req.ipv6) {
      if (!n.rec.userSubnet && !n.subnet6) throw invalid('user specified IP address is supported only when connecting to networks with user configured subnets');
      if (!n.subnet6 || !cidr6Contains(n.subnet6, parseIPv6(req.ipv6)!)) throw invalid(`no configured subnet or ip-range contain the IP address ${req.ipv6}`);
    }
  }

  async attach(rec: ContainerLike, pid: number, etc: EtcPaths): Promise<void> {
    const mode = this.modeNetwork(rec);
    if (mode === 'none' || mode === 'host' || mode.startsWith('container:')) return;
    const t0 = performance.now();
    const cn = this.cnet(rec);
    const plan: Array<{ net: Net; req: EndpointRequest }> = [];
    for (const req of cn.requested) {
      const net = this.getNet(req.network);
      if (net.rec.Driver === 'host') throw invalid('container cannot be disconnected from host network or connected to host network');
      if (net.rec.Driver === 'null') throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
      if (plan.some((p) => p.net === net)) continue;
      this.validateRequest(net, req);
      plan.push({ net, req });
    }
    // stale state of an earlier run (a missed exit): drop it first
    if (this.sandboxes.has(rec.Id) || this.loaded.has(rec.Id)) await this.detach(rec);
    const sb: Sandbox = {
      id: rec.Id, rec, eps: [],
      st: { pid, sandboxId: hex(64), etc, endpoints: [], ports: [], upstream: this.upstreamFor(rec) },
    };
    const eps: Ep[] = [];
    let portsHeld: BoundPort[] = [];
    let portsNat = false;
    let kernel = false;
    try {
      for (const p of plan) {
        const ep = this.allocate(sb, p.net, p.req, p.req.mac || (eps.length === 0 ? rec.Config.MacAddress : undefined), eps.length);
        eps.push(ep);
      }
      // the default route goes through the first network that has one; names resolve through the first user-defined one
      const gwEp = eps.find((e) => !e.net.internal);
      const dnsEp = eps.find((e) => e.net.hasDns);
      // published ports: on the first network with a way out
      if (gwEp) {
        sb.st.ports = await this.reservePorts(rec, gwEp);
        portsHeld = sb.st.ports;
        sb.st.gatewayNetwork = gwEp.net.id;
      }
      const hostLines: string[] = [];
      const inner: string[] = [];
      for (const e of eps) {
        const l = this.links(e, e === gwEp && sb.st.ports.length > 0);
        hostLines.push(...hostEndpointLines(pid, l));
        inner.push(...innerEndpointLines(l));
      }
      if (gwEp) inner.push(`route add default via ${gwEp.st.gateway || formatIPv4(gwEp.net.gateway)} dev ${gwEp.st.ifname}`);
      const gw6 = gw6Of(eps);
      if (gw6) inner.push(`route add default via ${gw6.st.gateway6} dev ${gw6.st.ifname}`);
      if (dnsEp) {
        const server = formatIPv4(dnsEp.net.gateway);
        sb.st.dns = { networkId: dnsEp.net.id, server, port: this.dns.port(server) ?? 53 };
        inner.push(`route replace local 127.0.0.11 dev lo table local src ${dnsEp.st.ip}`);
      }
      sb.eps = eps;
      sb.st.endpoints = eps.map((e) => e.st);
      // kernel work, as parallel as it goes: the pairs then their inside; the DNS redirect; NAT of the ports
      kernel = true;
      const jobs: Array<Promise<void>> = [ipBatch(hostLines).then(() => ipBatchIn(pid, inner))];
      if (sb.st.dns) jobs.push(nftIn(pid, containerDnsRules(sb.st.dns.server, sb.st.dns.port)));
      if (sb.st.ports.length && this.firewallReady) {
        jobs.push(this.nft.apply(portElements('add', this.fwPorts(sb))).then(() => { portsNat = true; }));
      }
      const linkFw = this.linkPorts(sb);
      if (linkFw.length && this.bridgeFwReady) {
        sb.st.linkFw = linkFw;
        jobs.push(this.nft.apply(linkElements('add', linkFw)));
      }
      const settled = Promise.allSettled(jobs);
      // the lease is on disk before the container runs
      this.store.saveSandbox(rec.Id, sb.st);
      const results = await settled;
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      this.register(sb);
      this.writeEtc(sb);
      this.updateLinkParents(rec.Id);
    } catch (e) {
      this.unregister(sb);
      for (const ep of eps) releaseAddrs(ep);
      this.releasePorts(rec.Id, portsHeld);
      if (portsNat) await this.nft.apply(portElements('delete', this.fwPortsOf(portsHeld, eps.find((x) => !x.net.internal)))).catch(() => undefined);
      this.store.removeSandbox(rec.Id);
      if (sb.st.linkFw?.length) await this.nft.apply(linkElements('delete', sb.st.linkFw)).catch(() => undefined);
      if (kernel && eps.length) await ipBatch(eps.map((x) => `link del ${x.st.hostVeth}`), true).catch(() => undefined);
      throw e;
    } finally {
      for (const ep of eps) { this.pendingVeths.delete(ep.st.hostVeth); ep.net.pending--; }
    }
    cn.attached = sb.st;
    log.debug('network attach', { id: rec.Id, ms: Math.round((performance.now() - t0) * 10) / 10 });
  }

  /** icc=false on the default bridge: the exposed ports of sb's link targets stay reachable from sb (Docker's link rules). */
  private linkPorts(sb: Sandbox): FwLinkPort[] {
    const me = sb.eps.find((e) => e.net.isDefault);
    if (!me || me.net.icc) return [];
    const out: FwLinkPort[] = [];
    for (const l of (sb.rec.Network as ContainerNet | undefined)?.links ?? []) {
      const t = this.sandboxes.get(l.id);
      const ep = t?.eps.find((e) => e.net.isDefault);
      if (!t || !ep) continue;
      for (const key of Object.keys(t.rec.Config.ExposedPorts ?? {})) {
        let k: ReturnType<typeof parsePortKey>;
        try { k = parsePortKey(key); } catch { continue; }
        for (let p = k.lo; p <= k.hi && p - k.lo < 1024; p++) out.push({ parent: me.st.ip, child: ep.st.ip, proto: k.proto, port: p });
      }
    }
    return out;
  }

  /** Containers linked to id get its new address in their /etc/hosts (as Docker's parent updates). */
  private updateLinkParents(id: string): void {
    for (const p of this.sandboxes.values()) {
      if (p.id !== id && ((p.rec.Network as ContainerNet | undefined)?.links ?? []).some((l) => l.id === id)) this.writeEtc(p);
    }
  }

  private upstreamFor(rec: ContainerLike): string[] {
    const dns = (rec.HostConfig.Dns ?? []).filter((d) => !d.includes(':'));
    return dns.length ? dns : hostResolvers();
  }

  /** Takes an address, a MAC, names for both ends of the veth pair. */
  private allocate(sb: Sandbox, net: Net, req: EndpointRequest, mac: string | undefined, index: number): Ep {
    if (!net.pool || !net.subnet) throw internal(`network ${net.name} has no address pool`);
    const got = net.allocate(req.ipv4 ? parseIPv4(req.ipv4) : undefined, `${net.name} (${net.id})`);
    const ip = got.ip;
    let ip6: bigint | undefined;
    if (net.pool6) {
      try {
        ip6 = net.pool6.allocate(req.ipv6 ? parseIPv6(req.ipv6) : undefined, `${net.name} (${net.id})`);
      } catch (e) {
        net.release(ip);
        throw e;
      }
    }
    let hostVeth = '';
    do hostVeth = `veth${hex(7)}`; while (this.pendingVeths.has(hostVeth));
    this.pendingVeths.add(hostVeth);
    net.pending++;
    const used = new Set(sb.eps.map((e) => e.st.ifname));
    let i = index;
    while (used.has(`eth${i}`)) i++;
    const st: EndpointState = {
      networkId: net.id,
      ifname: `eth${i}`,
      hostVeth,
      ip: formatIPv4(ip),
      prefixLen: got.subnet.len,
      gateway: net.internal && net.rec.builtin ? '' : formatIPv4(got.gateway),
      mac: (mac && parseMac(mac)) || macFromIPv4(ip),
      endpointId: hex(64),
      aliases: net.isDefault ? [] : [...req.aliases, sb.id.slice(0, 12)],
    };
    if (!net.isDefault && req.links?.length) st.links = [...req.links];
    if (ip6 !== undefined && net.subnet6) {
      st.ip6 = formatIPv6(ip6);
      st.prefixLen6 = net.subnet6.len;
      st.gateway6 = net.internal && net.rec.builtin ? '' : formatIPv6(net.gateway6);
      return { net, sb, st, ip, ip6 };
    }
    return { net, sb, st, ip };
  }

  private links(e: Ep, hairpin: boolean): EndpointLinks {
    return {
      ifname: e.st.ifname, hostVeth: e.st.hostVeth, mac: e.st.mac, cidr: `${e.st.ip}/${e.st.prefixLen}`, mtu: e.net.mtu, bridge: e.net.bridge, hairpin,
      ...(e.st.ip6 ? { cidr6: `${e.st.ip6}/${e.st.prefixLen6 ?? 64}` } : {}),
    };
  }

  private portError(rec: ContainerLike, ep: Ep, msg: string): EngineError {
    return conflict(`driver failed programming external connectivity on endpoint ${cname(rec)} (${ep.st.endpointId}): ${msg}`);
  }

  /** Picks and holds the host ports; all or nothing. */
  private async reservePorts(rec: ContainerLike, ep: Ep): Promise<BoundPort[]> {
    const reqs = portRequests(rec.HostConfig.PortBindings, rec.Config.ExposedPorts, !!rec.HostConfig.PublishAllPorts, ep.net.hostIp);
    const bound: BoundPort[] = [];
    try {
      for (const r of reqs) {
        const fixed = r.hostPortLo !== 0;
        const where = `${r.hostIp}:${fixed ? (r.hostPortLo === r.hostPortHi ? r.hostPortLo : `${r.hostPortLo}-${r.hostPortHi}`) : 0}`;
        // a container with IPv6 gets the port on [::] too, the same number (as Docker maps both families)
        const hosts = r.hostIp === '0.0.0.0' && ep.st.ip6 ? ['0.0.0.0', '::'] : [r.hostIp];
        let got: BoundPort[] | undefined;
        let lastErr: unknown;
        let lastFamily = r.hostIp.includes(':') ? 6 : 4;
        let tableConflict = false;
        for (const port of this.ports.candidates(r)) {
          if (hosts.some((h) => this.ports.conflicts(r.proto, h, port))) { tableConflict = true; continue; }
          const held: BoundPort[] = [];
          for (const h of hosts) {
            const b: BoundPort = { proto: r.proto, containerPort: r.containerPort, hostIp: h, hostPort: port };
            try {
              await this.holders.hold(b, { ip: h.includes(':') ? ep.st.ip6 ?? ep.st.ip : ep.st.ip, port: r.containerPort });
              held.push(b);
            } catch (e) {
              lastErr = e;
              lastFamily = h.includes(':') ? 6 : 4;
              break;
            }
          }
          if (held.length < hosts.length) {
            for (const b of held) this.holders.release(b);
            continue;
          }
          for (const b of held) this.ports.take(r.proto, b.hostIp, port, rec.Id);
          if (!fixed) this.ports.advance(r.proto, port);
          got = held;
          break;
        }
        if (!got) {
          if (lastErr && (!tableConflict || !fixed)) {
            const code = (lastErr as { code?: string }).code;
            const why = code === 'EADDRINUSE' ? 'bind: address already in use' : code === 'EADDRNOTAVAIL' ? 'bind: cannot assign requested address' : errorMessage(lastErr);
            throw this.portError(rec, ep, `Error starting userland proxy: listen ${r.proto}${lastFamily} ${where}: ${why}`);
          }
          throw this.portError(rec, ep, `Bind for ${where} failed: port is already allocated`);
        }
        bound.push(...got);
      }
    } catch (e) {
      this.releasePorts(rec.Id, bound);
      throw e;
    }
    return bound;
  }

  private releasePorts(owner: string, ports: BoundPort[]): void {
    for (const b of ports) {
      this.holders.release(b);
      this.ports.release(b.proto, b.hostIp, b.hostPort, owner);
    }
  }

  private fwPorts(sb: Sandbox): FwPort[] {
    const ep = sb.eps.find((e) => e.net.id === sb.st.gatewayNetwork);
    return this.fwPortsOf(sb.st.ports, ep);
  }

  private fwPortsOf(ports: BoundPort[], ep: Ep | undefined): FwPort[] {
    if (!ep) return [];
    const out: FwPort[] = [];
    for (const b of ports) {
      if (!b.hostIp.includes(':')) { out.push({ proto: b.proto, hostIp: b.hostIp, hostPort: b.hostPort, ip: ep.st.ip, containerPort: b.containerPort }); continue; }
      // IPv6 host addresses: NAT only to a v6 container address, never from ::1 (v6 has no route_localnet);
      // the rest goes through the held socket's relay (TCP), as Docker's userland proxy
      if (ep.st.ip6 && b.hostIp !== '::1' && this.ip6FwReady) out.push({ proto: b.proto, hostIp: b.hostIp, hostPort: b.hostPort, ip: ep.st.ip6, containerPort: b.containerPort });
    }
    return out;
  }

  private register(sb: Sandbox): void {
    this.sandboxes.set(sb.id, sb);
    for (const e of sb.eps) {
      e.net.endpoints.set(sb.id, e);
      this.byIp.set(e.st.ip, e);
    }
  }

  private unregister(sb: Sandbox): void {
    if (this.sandboxes.get(sb.id) === sb) this.sandboxes.delete(sb.id);
    for (const e of sb.eps) {
      if (e.net.endpoints.get(sb.id) === e) e.net.endpoints.delete(sb.id);
      if (this.byIp.get(e.st.ip) === e) this.byIp.delete(e.st.ip);
    }
  }

  /** /etc/hosts with the container's addresses; resolv.conf pointing at the embedded server on user-defined networks. */
  private writeEtc(sb: Sandbox): void {
    const rec = sb.rec;
    const def = [...this.nets.values()].find((n) => n.isDefault);
    try {
      writeInPlace(sb.st.etc.hosts, hostsContent({
        hostname: rec.Config.Hostname, domainname: rec.Config.Domainname, ips: [...sb.eps.map((e) => e.st.ip), ...sb.eps.flatMap((e) => (e.st.ip6 ? [e.st.ip6] : []))],
        extraHosts: rec.HostConfig.ExtraHosts ?? [], links: sb.eps.some((e) => e.net.isDefault) ? this.linkHosts(rec) : [],
        ...(def ? { hostGateway: formatIPv4(def.gateway) } : {}),
      }));
    } catch (e) {
      log.warn('cannot write hosts file', { id: rec.Id, err: e });
    }
    try {
      const current = parseResolvConf(fs.existsSync(sb.st.etc.resolvConf) ? fs.readFileSync(sb.st.etc.resolvConf, 'utf8') : '');
      if (sb.st.dns) {
        writeInPlace(sb.st.etc.resolvConf, embeddedResolv(current, rec.HostConfig.DnsOptions ?? []));
      } else if (current.nameservers.includes('127.0.0.11')) {
        // no longer on a user-defined network: back to the real resolvers
        const ns = (rec.HostConfig.Dns ?? []).length ? rec.HostConfig.Dns! : hostResolvers().filter((n) => !/^127\./.test(n));
        const options = (rec.HostConfig.DnsOptions ?? []).length ? rec.HostConfig.DnsOptions! : current.options.filter((o) => o !== 'ndots:0');
        writeInPlace(sb.st.etc.resolvConf, resolvContent({ nameservers: ns.length ? ns : ['8.8.8.8', '8.8.4.4'], search: current.search, options }));
      }
    } catch (e) {
      log.warn('cannot write resolv.conf', { id: rec.Id, err: e });
    }
  }

  async detach(rec: ContainerLike): Promise<void> {
    try {
      const st = this.loaded.get(rec.Id);
      if (st) {
        this.loaded.delete(rec.Id);
        this.releaseLoaded(st);
        this.store.removeSandbox(rec.Id);
      }
      const sb = this.sandboxes.get(rec.Id);
      if (sb) {
        this.unregister(sb);
        for (const e of sb.eps) releaseAddrs(e);
        const fw = this.fwPorts(sb);
        this.releasePorts(rec.Id, sb.st.ports);
        if (fw.length && this.firewallReady) await this.nft.apply(portElements('delete', fw)).catch((e: unknown) => log.warn('cannot remove port NAT', { id: rec.Id, err: e }));
        if (sb.st.linkFw?.length) await this.nft.apply(linkElements('delete', sb.st.linkFw)).catch((e: unknown) => log.warn('cannot remove link rules', { id: rec.Id, err: e }));
        this.store.removeSandbox(rec.Id);
        // the veth pairs die with the container's namespace; a sweep catches any that outlive it
        this.scheduleSweep();
      }
      const cn = rec.Network as ContainerNet | undefined;
      if (cn && cn.attached) delete cn.attached;
    } catch (e) {
      log.warn('network detach failed', { id: rec.Id, err: e });
    }
  }

  private releaseLoaded(st: SandboxState): void {
    for (const e of st.endpoints) {
      const ip = parseIPv4(e.ip);
      const n = this.nets.get(e.networkId);
      if (ip !== undefined && n && ![...n.endpoints.values()].some((x) => x.ip === ip)) n.release(ip);
      const ip6 = e.ip6 ? parseIPv6(e.ip6) : undefined;
      if (ip6 !== undefined && n?.pool6 && ![...n.endpoints.values()].some((x) => x.ip6 === ip6)) n.pool6.release(ip6);
    }
  }

  async release(rec: ContainerLike): Promise<void> {
    await this.detach(rec);
    delete rec.Network;
  }

  async restore(rec: ContainerLike): Promise<void> {
    const st = this.loaded.get(rec.Id) ?? (rec.Network as ContainerNet | undefined)?.attached;
    this.loaded.delete(rec.Id);
    if (!st) return;
    const sb: Sandbox = { id: rec.Id, rec, st: { ...st, pid: rec.State.Pid || st.pid }, eps: [] };
    for (const e of st.endpoints) {
      const net = this.nets.get(e.networkId);
      const ip = parseIPv4(e.ip);
      if (!net || ip === undefined) { log.warn('restored endpoint of an unknown network', { id: rec.Id, network: e.networkId }); continue; }
      net.claim(ip);
      const ip6 = e.ip6 ? parseIPv6(e.ip6) : undefined;
      if (ip6 !== undefined) net.pool6?.claim(ip6);
      sb.eps.push({ net, sb, st: e, ip, ...(ip6 !== undefined ? { ip6 } : {}) });
    }
    sb.st.endpoints = sb.eps.map((e) => e.st);
    const gwEp = sb.eps.find((e) => e.net.id === sb.st.gatewayNetwork);
    const held: BoundPort[] = [];
    for (const b of st.ports) {
      try {
        await this.holders.hold(b, { ip: gwEp?.st.ip ?? '', port: b.containerPort });
      } catch (e) {
        log.warn('published port taken while berthd was down; NAT kept', { id: rec.Id, port: `${b.hostIp}:${b.hostPort}/${b.proto}`, err: e });
      }
      this.ports.take(b.proto, b.hostIp, b.hostPort, rec.Id);
      held.push(b);
    }
    this.register(sb);
    const cn = this.cnet(rec);
    cn.attached = sb.st;
    if (this.bridgeFwReady && st.linkFw?.length) this.restoreJobs.push(this.nft.apply(linkElements('add', st.linkFw)).catch((e: unknown) => log.warn('cannot restore link rules', { id: rec.Id, err: e })));
    if (this.firewallReady && st.ports.length) this.restoreJobs.push(this.nft.apply(portElements('add', this.fwPorts(sb))).catch((e: unknown) => log.warn('cannot restore port NAT', { id: rec.Id, err: e })));
    // the embedded server's port may have changed with the restart
    if (st.dns) {
      const port = this.dns.port(st.dns.server);
      if (port !== undefined && port !== st.dns.port && sb.st.pid) {
        sb.st.dns = { ...st.dns, port };
        this.restoreJobs.push(nftIn(sb.st.pid, containerDnsRules(st.dns.server, port)).catch((e: unknown) => log.warn('cannot restore DNS redirect', { id: rec.Id, err: e })));
      }
    }
    if (sb.st.pid !== st.pid || sb.st.dns?.port !== st.dns?.port || !this.store.hasSandbox(rec.Id)) this.store.saveSandbox(rec.Id, sb.st);
  }

  networkNames(rec: ContainerLike): string[] {
    const mode = this.modeNetwork(rec);
    if (mode.startsWith('container:')) return [];
    const out: string[] = [];
    const refs = mode === 'host' || mode === 'none' ? [mode] : this.cnet(rec).requested.map((r) => r.network);
    for (const r of refs) {
      const n = this.findNetQuiet(r);
      if (n) out.push(n.name, n.id);
      else out.push(r);
    }
    return out;
  }

  /** NetworkSettings.Networks of a container. */
  private endpointsView(rec: ContainerLike): Record<string, Record<string, unknown>> {
    const mode = this.modeNetwork(rec);
    if (mode.startsWith('container:')) return {};
    if (mode === 'host' || mode === 'none') {
      const n = this.findNetQuiet(mode);
      return { [mode]: { ...emptyEndpoint(), NetworkID: n?.id ?? '' } };
    }
    const out: Record<string, Record<string, unknown>> = {};
    const sb = rec.State.Running ? this.sandboxes.get(rec.Id) : undefined;
    for (const req of this.cnet(rec).requested) {
      const n = this.findNetQuiet(req.network);
      const name = n?.name ?? req.network;
      const e: Record<string, unknown> = { ...emptyEndpoint(), NetworkID: n?.id ?? req.networkId ?? '' };
      if (req.ipv4 || req.ipv6) e['IPAMConfig'] = { ...(req.ipv4 ? { IPv4Address: req.ipv4 } : {}), ...(req.ipv6 ? { IPv6Address: req.ipv6 } : {}) };
      if (req.links?.length) e['Links'] = req.links;
      if (n && !n.rec.builtin) e['Aliases'] = req.aliases.length ? [...req.aliases] : null;
      const ep = sb?.eps.find((x) => x.net === n);
      if (ep) {
        Object.assign(e, {
          EndpointID: ep.st.endpointId, Gateway: ep.st.gateway, IPAddress: ep.st.ip, IPPrefixLen: ep.st.prefixLen, MacAddress: ep.st.mac,
          IPv6Gateway: ep.st.gateway6 ?? '', GlobalIPv6Address: ep.st.ip6 ?? '', GlobalIPv6PrefixLen: ep.st.ip6 ? ep.st.prefixLen6 ?? 64 : 0,
          Aliases: ep.net.isDefault ? null : ep.st.aliases,
        });
      }
      out[name] = e;
    }
    return out;
  }

  summary(rec: ContainerLike): { Ports: unknown[]; Networks: Record<string, unknown> } {
    const sb = rec.State.Running ? this.sandboxes.get(rec.Id) : undefined;
    return { Ports: rec.State.Running ? portList(rec.Config.ExposedPorts, sb?.st.ports ?? []) : [], Networks: this.endpointsView(rec) };
  }

  inspect(rec: ContainerLike): Record<string, unknown> {
    const sb = rec.State.Running ? this.sandboxes.get(rec.Id) : undefined;
    const nets = this.endpointsView(rec);
    const defEp = sb?.eps.find((e) => e.net.isDefault);
    const mode = this.modeNetwork(rec);
    return {
      Bridge: '', SandboxID: sb?.st.sandboxId ?? '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
      Ports: rec.State.Running ? portMap(rec.Config.ExposedPorts, sb?.st.ports ?? []) : {},
      SandboxKey: rec.State.Running && mode !== 'host' ? `/proc/${rec.State.Pid}/ns/net` : '',
      SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
      EndpointID: defEp?.st.endpointId ?? '', Gateway: defEp?.st.gateway ?? '', GlobalIPv6Address: defEp?.st.ip6 ?? '', GlobalIPv6PrefixLen: defEp?.st.ip6 ? defEp.st.prefixLen6 ?? 64 : 0,
      IPAddress: defEp?.st.ip ?? '', IPPrefixLen: defEp?.st.prefixLen ?? 0, IPv6Gateway: defEp?.st.gateway6 ?? '', MacAddress: defEp?.st.mac ?? '',
      Networks: nets,
    };
  }

  // ================= embedded DNS =================

  private namesOf(e: Ep): string[] {
    const rec = e.sb.rec;
    const names = [cname(rec), rec.Id, rec.Id.slice(0, 12), rec.Config.Hostname, ...e.st.aliases];
    return names.map((n) => n.toLowerCase());
  }

  private dnsLookup(src: string, q: Question): LocalAnswer | undefined {
    const me = this.byIp.get(src);
    if (!me) return undefined;
    const name = q.name.toLowerCase().replace(/\.$/, '');
    const nets = me.sb.eps.filter((e) => e.net.hasDns).map((e) => e.net);
    if (q.type === TYPE_PTR) {
      const ip = parseReverseName(name);
      if (ip === undefined) return undefined;
      for (const n of nets) {
        if (!n.subnetOf(ip)) continue;
        for (const e of n.endpoints.values()) if (e.ip === ip) return { answers: [ptrRecord(q.name, `${cname(e.sb.rec)}.${n.name}`)] };
      }
      return undefined;
    }
    if (q.type !== TYPE_A && q.type !== TYPE_AAAA && q.type !== TYPE_ANY) return undefined;
    for (const n of nets) {
      let bare = name;
      const suffix = `.${n.name.toLowerCase()}`;
      if (bare.endsWith(suffix)) bare = bare.slice(0, -suffix.length);
      // --link target:alias on this network: an alias only this container resolves
      for (const spec of me.sb.eps.find((e) => e.net === n)?.st.links ?? []) {
        try {
          const l = parseLink(spec);
          if (l.alias.toLowerCase() === bare) { bare = l.name.toLowerCase(); break; }
        } catch { /* validated at create */ }
      }
      const hits: Ep[] = [];
      for (const e of n.endpoints.values()) if (this.namesOf(e).includes(bare)) hits.push(e);
      if (!hits.length) continue;
      if (q.type === TYPE_AAAA) {
        // names that exist without a v6 address answer NODATA (no relay upstream)
        const v6 = hits.filter((e) => e.ip6 !== undefined);
        return { answers: v6.map((e) => aaaaRecord(q.name, e.ip6!)) };
      }
      // every container with the name, in an order that turns with each query
      const k = `${n.id}/${bare}`;
      const turn = this.rotation.get(k) ?? 0;
      this.rotation.set(k, turn + 1);
      if (this.rotation.size > 10000) this.rotation.clear();
      const answers: Answer[] = [];
      for (let i = 0; i < hits.length; i++) answers.push(aRecord(q.name, hits[(turn + i) % hits.length]!.ip));
      return { answers };
    }
    return undefined;
  }

  // ================= cleanup of interfaces =================

  private scheduleSweep(): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      void this.sweep().catch((e: unknown) => log.debug('veth sweep failed', { err: e }));
    }, 1000);
    this.sweepTimer.unref();
  }

  /** Deletes veths on our bridges that no endpoint owns (left by a crash, or by a namespace that outlived its container). */
  private async sweep(): Promise<void> {
    const bridges = new Set(this.bridges().map((n) => n.bridge));
    const live = new Set<string>(this.pendingVeths);
    for (const sb of this.sandboxes.values()) for (const e of sb.eps) live.add(e.st.hostVeth);
    for (const st of this.loaded.values()) for (const e of st.endpoints) live.add(e.hostVeth);
    const links = await listLinks();
    const stale = links.filter((l) => l.kind === 'veth' && l.master && bridges.has(l.master) && !live.has(l.ifname) && !this.pendingVeths.has(l.ifname));
    if (stale.length) {
      log.debug('removing leftover veths', { links: stale.map((l) => l.ifname) });
      await ipBatch(stale.map((l) => `link del ${l.ifname}`), true);
    }
  }

  // ================= /networks API =================

  private view(n: Net, withContainers: boolean): Record<string, unknown> {
    const r = n.rec;
    const containers: Record<string, unknown> = {};
    if (withContainers) {
      for (const [id, e] of n.endpoints) {
        containers[id] = {
          Name: cname(e.sb.rec), EndpointID: e.st.endpointId, MacAddress: e.st.mac, IPv4Address: `${e.st.ip}/${e.st.prefixLen}`,
          IPv6Address: e.st.ip6 ? `${e.st.ip6}/${e.st.prefixLen6 ?? 64}` : '',
        };
      }
      if ((r.Driver === 'host' || r.Driver === 'null') && this.host) {
        for (const c of this.host.all()) {
          if (c.State.Running && this.modeNetwork(c) === r.Name) containers[c.Id] = { Name: cname(c), EndpointID: '', MacAddress: '', IPv4Address: '', IPv6Address: '' };
        }
      }
    }
    return {
      Name: r.Name, Id: r.Id, Created: r.Created, Scope: r.Scope, Driver: r.Driver, EnableIPv6: r.EnableIPv6,
      IPAM: { Driver: r.IPAM.Driver, Options: r.IPAM.Options, Config: r.IPAM.Config.map((c) => ({ ...c })) },
      Internal: r.Internal, Attachable: r.Attachable, Ingress: r.Ingress, ConfigFrom: r.ConfigFrom, ConfigOnly: r.ConfigOnly,
      Containers: containers, Options: r.Options, Labels: r.Labels,
    };
  }

  list(filters: Filters): unknown[] {
    checkFilterKeys(filters, ['driver', 'id', 'label', 'label!', 'name', 'scope', 'type', 'dangling']);
    for (const t of filters.get('type') ?? []) if (t !== 'custom' && t !== 'builtin') throw invalid(`invalid filter: 'type'='${t}'`);
    const dangling = filters.get('dangling')?.[0];
    if (dangling !== undefined && !['true', 'false', '1', '0'].includes(dangling)) throw invalid(`invalid filter 'dangling=${dangling}'`);
    const match = (vals: string[] | undefined, test: (v: string) => boolean): boolean => !vals?.length || vals.some(test);
    const out: unknown[] = [];
    const sorted = [...this.nets.values()].sort((a, b) => (a.rec.Created < b.rec.Created ? -1 : 1));
    for (const n of sorted) {
      if (!match(filters.get('driver'), (v) => v === n.rec.Driver)) continue;
      if (!match(filters.get('id'), (v) => n.id.startsWith(v))) continue;
      if (!match(filters.get('name'), (v) => { try { return new RegExp(v).test(n.name); } catch { return n.name.includes(v); } })) continue;
      if (!match(filters.get('scope'), (v) => v === 'local')) continue;
      if (!match(filters.get('type'), (v) => (v === 'builtin') === n.rec.builtin)) continue;
      if (!matchLabels(filters, n.rec.Labels)) continue;
      if (dangling !== undefined) {
        const wantDangling = dangling === 'true' || dangling === '1';
        const isDangling = !n.rec.builtin && !this.inUse(n);
        if (wantDangling !== isDangling) continue;
      }
      out.push(this.view(n, false));
    }
    return out;
  }

  inspectNetwork(ref: string): unknown {
    return this.view(this.getNet(ref), true);
  }

  private inUse(n: Net): boolean {
    if (n.endpoints.size || n.pending > 0) return true;
    for (const st of this.loaded.values()) if (st.endpoints.some((e) => e.networkId === n.id)) return true;
    return false;
  }

  /** Network creates and removals run one at a time (names, subnets and bridges are checked, then taken). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.netLock.then(fn, fn);
    this.netLock = run.catch(() => undefined);
    return run;
  }

  create(body: Record<string, unknown>): Promise<{ Id: string; Warning: string }> {
    return this.serial(() => this.createNow(body));
  }

  private async createNow(body: Record<string, unknown>): Promise<{ Id: string; Warning: string }> {
    const name = typeof body['Name'] === 'string' ? body['Name'] : '';
    if (!name) throw invalid('network name is required');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalid(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if ([...this.nets.values()].some((n) => n.name === name)) throw conflict(`network with name ${name} already exists`);
    const driver = typeof body['Driver'] === 'string' && body['Driver'] ? body['Driver'] : 'bridge';
    if (driver === 'host' || driver === 'null') throw forbidden(`only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found`);
    if (body['Ingress'] === true) throw forbidden('ingress networks are not supported (no swarm)');
    if (body['ConfigOnly'] === true || (body['ConfigFrom'] && obj(body['ConfigFrom'])['Network'])) throw invalid('config-only networks are not supported');
    const ipamIn = obj(body['IPAM']);
    const ipamDriver = typeof ipamIn['Driver'] === 'string' && ipamIn['Driver'] ? ipamIn['Driver'] : 'default';
    if (ipamDriver !== 'default') throw notFound(`plugin "${ipamDriver}" not found`);
    const cfgIn = ipamIn['Config'] === undefined || ipamIn['Config'] === null ? [] : ipamIn['Config'];
    if (!Array.isArray(cfgIn)) throw invalid('json: cannot unmarshal IPAM.Config: expected a list');
    const isV6 = (c: Record<string, unknown>): boolean => typeof c['Subnet'] === 'string' && c['Subnet'].includes(':');
    const v4 = (cfgIn as Array<Record<string, unknown>>).filter((c) => !isV6(c));
    const v6 = (cfgIn as Array<Record<string, unknown>>).filter(isV6);
    if (v6.length > 1) throw invalid('only one IPv6 subnet per network is supported');
    const options0 = strMap(body['Options'], 'Options');
    // EnableIPv6, or the driver option com.docker.network.enable_ipv6 when the field is absent (as dockerd)
    const enableIPv6 = typeof body['EnableIPv6'] === 'boolean' ? body['EnableIPv6'] : parseGoBool(options0['com.docker.network.enable_ipv6']) === true;
    const labels = strMap(body['Labels'], 'Labels');
    const options = strMap(body['Options'], 'Options');
    const ipamOptions = strMap(ipamIn['Options'], 'IPAM.Options');
    const others = this.bridges().flatMap((n) => n.subnets.map((x) => x.subnet));
    const entries: IpamConfigEntry[] = [];
    let userSubnet = false;
    for (const c0 of v4) {
      const e = validateIpamEntry({
        ...(typeof c0['Subnet'] === 'string' ? { Subnet: c0['Subnet'] } : {}),
        ...(typeof c0['Gateway'] === 'string' ? { Gateway: c0['Gateway'] } : {}),
        ...(typeof c0['IPRange'] === 'string' ? { IPRange: c0['IPRange'] } : {}),
      });
      if (typeof c0['Subnet'] === 'string' && parseIPv4(c0['Subnet'].split('/')[0] ?? '') !== e.subnet.net) throw invalid(`invalid network config:\ninvalid subnet ${c0['Subnet']}: it should be ${e.subnetText}`);
      // against other networks and this network's other subnets
      checkOverlap(e.subnet, [...others, ...entries.map((x) => parseCidr(x.Subnet)!)]);
      const entry: IpamConfigEntry = { Subnet: e.subnetText, Gateway: formatIPv4(e.gateway) };
      if (e.ipRangeText) entry.IPRange = e.ipRangeText;
      const aux = auxAddresses(c0['AuxiliaryAddresses'], (a) => { const x = parseIPv4(a); return x !== undefined && cidrContains(e.subnet, x); }, e.subnetText);
      if (aux) entry.AuxiliaryAddresses = aux;
      entries.push(entry);
      userSubnet = true;
    }
    if (!entries.length) {
      let routes: Cidr[] = [];
      try { routes = parseProcNetRoute(fs.readFileSync('/proc/net/route', 'utf8')); } catch { /* none */ }
      const c = pickSubnet(this.pools, [...others, ...routes]);
      if (!c) throw invalid('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
      entries.push({ Subnet: formatCidr(c), Gateway: formatIPv4((c.net + 1) >>> 0) });
    }
    const entry = entries[0]!;
    const id = hex(64);
    const configs: NetworkRecord['IPAM']['Config'] = [...entries];
    const c6 = v6[0];
    if (c6 && !enableIPv6) {
      // as Docker: kept in the IPAM config, unused while IPv6 is off
      configs.push({ Subnet: String(c6['Subnet']), Gateway: typeof c6['Gateway'] === 'string' ? c6['Gateway'] : '' });
    } else if (enableIPv6) {
      const others6 = this.bridges().filter((n) => n.subnet6).map((n) => n.subnet6!);
      if (c6) {
        const e6 = validateIpam6Entry({
          ...(typeof c6['Subnet'] === 'string' ? { Subnet: c6['Subnet'] } : {}),
          ...(typeof c6['Gateway'] === 'string' ? { Gateway: c6['Gateway'] } : {}),
          ...(typeof c6['IPRange'] === 'string' ? { IPRange: c6['IPRange'] } : {}),
        });
        if (others6.some((o) => cidr6Overlaps(o, e6.subnet))) throw forbidden('invalid pool request: Pool overlaps with other one on this address space');
        const aux6 = auxAddresses(c6['AuxiliaryAddresses'], (a) => { const x = parseIPv6(a); return x !== undefined && cidr6Contains(e6.subnet, x); }, e6.subnetText);
        configs.push({ Subnet: e6.subnetText, Gateway: formatIPv6(e6.gateway), ...(e6.ipRangeText ? { IPRange: e6.ipRangeText } : {}), ...(aux6 ? { AuxiliaryAddresses: aux6 } : {}) });
      } else {
        let u = ulaFor(id);
        for (let i = 0; others6.some((o) => cidr6Overlaps(o, u)) && i < 16; i++) u = ulaFor(`${id}/${i}`);
        configs.push({ Subnet: formatCidr6(u), Gateway: formatIPv6(u.net + 1n) });
      }
    }
    const bridge = options[OPT_BRIDGE_NAME] || `br-${id.slice(0, 12)}`;
    if (!validIfname(bridge)) throw invalid(`invalid bridge name: ${bridge}`);
    const same = this.bridges().find((n) => n.bridge === bridge);
    if (same) throw forbidden(`cannot create network ${id} (${bridge}): conflicts with network ${same.id} (${bridge}): networks have same bridge name`);
    for (const k of [OPT_ICC, OPT_MASQ, 'com.docker.network.enable_ipv6', 'com.docker.network.bridge.enable_ipv4']) {
      const v = options[k];
      if (v !== undefined && parseGoBool(v) === undefined) throw invalid(`failed to parse ${k} value: ${v} (strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax)`);
    }
    if (options[OPT_ICC] !== undefined && parseGoBool(options[OPT_ICC]) === false && !this.bridgeFwReady) throw internal('enable_icc=false needs the nftables bridge family, which this kernel lacks');
    const mtuText = options[OPT_MTU];
    if (mtuText !== undefined) {
      if (!/^[+-]?\d+$/.test(mtuText)) throw invalid(`failed to parse ${OPT_MTU} value: ${mtuText} (strconv.Atoi: parsing ${JSON.stringify(mtuText)}: invalid syntax)`);
      if (Number(mtuText) < 0) throw invalid(`invalid MTU number: ${Number(mtuText)}`);
      // 0 means the default, as in Docker; the kernel takes 68..65535
      if (Number(mtuText) !== 0 && !(Number(mtuText) >= 68 && Number(mtuText) <= 65535)) throw invalid(`invalid MTU number: ${Number(mtuText)}`);
    }
    if (options[OPT_HOST_IP] && parseIPv4(options[OPT_HOST_IP]) === undefined) throw invalid(`invalid host binding address: ${options[OPT_HOST_IP]}`);
    const rec: NetworkRecord = {
      Name: name, Id: id, Created: new Date().toISOString(), Scope: 'local', Driver: 'bridge', EnableIPv6: enableIPv6,
      IPAM: { Driver: 'default', Options: ipamOptions, Config: configs },
      Internal: body['Internal'] === true, Attachable: body['Attachable'] === true, Ingress: false,
      ConfigFrom: { Network: '' }, ConfigOnly: false, Options: options, Labels: labels, builtin: false, userSubnet, bridge,
    };
    const n = new Net(rec);
    // never adopt an interface we did not make: network rm would delete it
    if ((await listLinks()).some((l) => l.ifname === bridge)) throw conflict(`cannot create network ${name}: an interface named ${bridge} already exists`);
    // on disk first: a crash from here on leaves a network whose bridge start-up re-creates
    this.store.saveNetwork(rec);
    this.nets.set(id, n);
    let made = false;
    try {
      made = true;
      await ipBatch(bridgeLines(bridge, this.bridgeMac(n), this.gatewayCidrs(n), n.mtu, undefined));
      this.bridgeSysctls(n);
      // after the sysctls: a host whose default is disable_ipv6=1 would refuse the address before them
      await ipBatch(this.bridgeLines6(n));
      if (this.firewallReady) await this.nft.apply(this.fwUpdateText());
      await this.startDns(n);
    } catch (e) {
      this.nets.delete(id);
      this.dns.close(entry.Gateway);
      if (made) await ipBatch([`link del ${bridge}`], true).catch(() => undefined);
      if (this.firewallReady) await this.nft.apply(this.fwUpdateText()).catch(() => undefined);
      this.store.removeNetwork(id);
      throw e;
    }
    this.o.events({ Type: 'network', Action: 'create', Actor: { ID: id, Attributes: { name, type: 'bridge' } } });
    return { Id: id, Warning: '' };
  }

  remove(ref: string): Promise<void> {
    return this.serial(async () => {
      const n = this.getNet(ref);
      if (n.rec.builtin) throw forbidden(`${n.name} is a pre-defined network and cannot be removed`);
      if (this.inUse(n)) throw forbidden(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
      await this.removeNet(n);
    });
  }

  private async removeNet(n: Net): Promise<void> {
    this.nets.delete(n.id);
    this.dns.close(formatIPv4(n.gateway));
    await ipBatch([`link del ${n.bridge}`], true).catch(() => undefined);
    if (this.firewallReady) await this.nft.apply(this.fwUpdateText()).catch((e: unknown) => log.warn('cannot update firewall', { err: e }));
    this.store.removeNetwork(n.id);
    for (const k of [...this.rotation.keys()]) if (k.startsWith(`${n.id}/`)) this.rotation.delete(k);
    this.o.events({ Type: 'network', Action: 'destroy', Actor: { ID: n.id, Attributes: { name: n.name, type: n.rec.Driver } } });
  }

  prune(filters: Filters): Promise<{ NetworksDeleted: string[] | null }> {
    return this.serial(() => this.pruneNow(filters));
  }

  private async pruneNow(filters: Filters): Promise<{ NetworksDeleted: string[] | null }> {
    checkFilterKeys(filters, ['until', 'label', 'label!']);
    const until = filters.get('until')?.[0];
    const untilMs = until ? parseTimestamp(until) : undefined;
    const deleted: string[] = [];
    for (const n of [...this.nets.values()]) {
      if (n.rec.builtin || this.inUse(n)) continue;
      if (!matchLabels(filters, n.rec.Labels)) continue;
      if (untilMs !== undefined && Date.parse(n.rec.Created) > untilMs) continue;
      // a stopped container still naming the network does not keep it (as Docker)
      await this.removeNet(n);
      deleted.push(n.name);
    }
    return { NetworksDeleted: deleted.length ? deleted : null };
  }

  private needHost(): ContainerHost {
    if (!this.host) throw internal('network connect is not available: no container service');
    return this.host;
  }

  async connect(ref: string, body: Record<string, unknown>): Promise<void> {
    const n = this.getNet(ref);
    const host = this.needHost();
    const cref = typeof body['Container'] === 'string' ? body['Container'] : '';
    if (!cref) throw invalid('container is required');
    const rec0 = host.get(cref);
    await host.locked(rec0.Id, async () => {
      const rec = host.get(rec0.Id);
      const mode = this.modeNetwork(rec);
      if (n.rec.Driver === 'host' || mode === 'host') throw invalid('container cannot be disconnected from host network or connected to host network');
      if (mode.startsWith('container:')) throw invalid('container sharing network namespace with another container or host cannot be connected to any other network');
      if (n.rec.Driver === 'null' || mode === 'none') throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
      const cn = this.cnet(rec);
      if (cn.requested.some((r) => this.findNetQuiet(r.network) === n)) throw forbidden(`endpoint with name ${cname(rec)} already exists in network ${n.name}`);
      const req = this.endpointRequest(n.name, obj(body['EndpointConfig']));
      this.validateRequest(n, req);
      req.networkId = n.id;
      const sb = rec.State.Running ? this.sandboxes.get(rec.Id) : undefined;
      if (rec.State.Running && !sb) throw conflict(`container ${rec.Id} has no network namespace to connect (restore failed?)`);
      if (sb) await this.connectLive(sb, n, req);
      cn.requested.push(req);
      if (sb) cn.attached = sb.st;
      host.save(rec);
    });
    this.o.events({ Type: 'network', Action: 'connect', Actor: { ID: n.id, Attributes: { container: rec0.Id, name: n.name, type: n.rec.Driver } } });
  }

  private async connectLive(sb: Sandbox, n: Net, req: EndpointRequest): Promise<void> {
    const ep = this.allocate(sb, n, req, req.mac, sb.eps.length);
    const l = this.links(ep, false);
    const host = hostEndpointLines(sb.st.pid, l);
    const lines = innerEndpointLines(l);
    const jobs: Array<Promise<void>> = [];
    let gw = false;
    if (!sb.st.gatewayNetwork && !n.internal) {
      lines.push(`route replace default via ${ep.st.gateway || formatIPv4(n.gateway)} dev ${ep.st.ifname}`);
      gw = true;
    }
    if (!gw6Of(sb.eps) && gw6Of([ep])) lines.push(`route replace default via ${ep.st.gateway6} dev ${ep.st.ifname}`);
    let dns = false;
    if (!sb.st.dns && n.hasDns) {
      const port = this.dns.port(formatIPv4(n.gateway)) ?? 53;
      lines.push(`route replace local 127.0.0.11 dev lo table local src ${ep.st.ip}`);
      jobs.push(nftIn(sb.st.pid, containerDnsRules(formatIPv4(n.gateway), port)));
      dns = true;
      sb.st.dns = { networkId: n.id, server: formatIPv4(n.gateway), port };
    }
    try {
      await Promise.all([ipBatch(host).then(() => ipBatchIn(sb.st.pid, lines)), ...jobs]);
    } catch (e) {
      releaseAddrs(ep);
      if (dns) delete sb.st.dns;
      await ipBatch([`link del ${ep.st.hostVeth}`], true).catch(() => undefined);
      throw e;
    } finally {
      this.pendingVeths.delete(ep.st.hostVeth);
      n.pending--;
    }
    if (gw) sb.st.gatewayNetwork = n.id;
    sb.eps.push(ep);
    sb.st.endpoints = sb.eps.map((e) => e.st);
    n.endpoints.set(sb.id, ep);
    this.byIp.set(ep.st.ip, ep);
    this.store.saveSandbox(sb.id, sb.st);
    this.writeEtc(sb);
  }

  async disconnect(ref: string, body: Record<string, unknown>): Promise<void> {
    const n = this.getNet(ref);
    const host = this.needHost();
    const cref = typeof body['Container'] === 'string' ? body['Container'] : '';
    if (!cref) throw invalid('container is required');
    const rec0 = host.get(cref);
    await host.locked(rec0.Id, async () => {
      const rec = host.get(rec0.Id);
      const mode = this.modeNetwork(rec);
      if (n.rec.Driver === 'host' || mode === 'host') throw invalid('container cannot be disconnected from host network or connected to host network');
      const cn = this.cnet(rec);
      const i = cn.requested.findIndex((r) => this.findNetQuiet(r.network) === n);
      if (i < 0) throw forbidden(`container ${rec.Id} is not connected to network ${n.name}`);
      const sb = rec.State.Running ? this.sandboxes.get(rec.Id) : undefined;
      if (sb) await this.disconnectLive(sb, n);
      cn.requested.splice(i, 1);
      if (sb) cn.attached = sb.st;
      host.save(rec);
    });
    this.o.events({ Type: 'network', Action: 'disconnect', Actor: { ID: n.id, Attributes: { container: rec0.Id, name: n.name, type: n.rec.Driver } } });
  }

  private async disconnectLive(sb: Sandbox, n: Net): Promise<void> {
    const ep = sb.eps.find((e) => e.net === n);
    if (!ep) return;
    const inside: string[] = [];
    const jobs: Array<Promise<void>> = [];
    const rest = sb.eps.filter((e) => e !== ep);
    const next6 = gw6Of(rest);
    if (gw6Of(sb.eps) === ep && next6) inside.push(`route replace default via ${next6.st.gateway6} dev ${next6.st.ifname}`);
    // published ports follow the endpoint that carries them
    if (sb.st.gatewayNetwork === n.id) {
      const fw = this.fwPorts(sb);
      if (fw.length && this.firewallReady) jobs.push(this.nft.apply(portElements('delete', fw)).catch((e: unknown) => log.warn('cannot remove port NAT', { err: e })));
      this.releasePorts(sb.id, sb.st.ports);
      sb.st.ports = [];
      const next = rest.find((e) => !e.net.internal);
      if (next) {
        inside.push(`route replace default via ${next.st.gateway || formatIPv4(next.net.gateway)} dev ${next.st.ifname}`);
        sb.st.gatewayNetwork = next.net.id;
      } else delete sb.st.gatewayNetwork;
    }
    if (sb.st.dns?.networkId === n.id) {
      const next = rest.find((e) => e.net.hasDns);
      if (next) {
        const server = formatIPv4(next.net.gateway);
        const port = this.dns.port(server) ?? 53;
        sb.st.dns = { networkId: next.net.id, server, port };
        inside.push(`route replace local 127.0.0.11 dev lo table local src ${next.st.ip}`);
        jobs.push(nftIn(sb.st.pid, containerDnsRules(server, port)));
      } else {
        // the 127.0.0.11 route went with the address it used as source
        delete sb.st.dns;
        jobs.push(nftIn(sb.st.pid, containerDnsRemove()));
      }
    }
    // deleting the host end removes the pair (and with it the container's interface and its routes)
    await ipBatch([`link del ${ep.st.hostVeth}`]).catch((e: unknown) => log.warn('cannot delete veth', { veth: ep.st.hostVeth, err: e }));
    if (inside.length) jobs.push(ipBatchIn(sb.st.pid, inside));
    const results = await Promise.allSettled(jobs);
    for (const r of results) if (r.status === 'rejected') log.warn('disconnect: namespace update failed', { id: sb.id, err: r.reason });
    sb.eps = rest;
    sb.st.endpoints = rest.map((e) => e.st);
    if (n.endpoints.get(sb.id) === ep) n.endpoints.delete(sb.id);
    if (this.byIp.get(ep.st.ip) === ep) this.byIp.delete(ep.st.ip);
    releaseAddrs(ep);
    this.store.saveSandbox(sb.id, sb.st);
    this.writeEtc(sb);
  }
}

export function createNetworkService(o: NetworkServiceOptions): NetworkService {
  return new NetworkService(o);
}

