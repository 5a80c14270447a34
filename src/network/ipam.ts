// IP address management: a network's address pool (subnet, optional
// ip-range, gateway), and the choice of automatic subnets from the default
// address pools. Pure: persistence lives in store.ts.
import { EngineError, forbidden, invalid } from '../common/errors';
import { type Cidr, cidrContains, cidrContainsCidr, cidrFirst, cidrLast, cidrOverlaps, formatCidr, formatIPv4, maskOf, parseCidr, parseIPv4 } from './ipv4';

export interface AddressPoolSpec {
  subnet: Cidr;
  /** addresses are handed out from here (default: the whole subnet) */
  ipRange?: Cidr;
  gateway: number;
}

/** Free/used bookkeeping for one subnet. Never hands out an address twice. */
export class AddressPool {
  readonly subnet: Cidr;
  readonly range: Cidr;
  readonly gateway: number;
  private used = new Set<number>();
  private last: number;

  constructor(spec: AddressPoolSpec) {
    this.subnet = spec.subnet;
    this.range = spec.ipRange ?? spec.subnet;
    this.gateway = spec.gateway;
    this.last = cidrFirst(this.range);
  }

  /** Addresses no endpoint may have: network, broadcast, gateway. */
  private reserved(ip: number): boolean {
    if (ip === this.gateway) return true;
    if (this.subnet.len <= 30 && (ip === cidrFirst(this.subnet) || ip === cidrLast(this.subnet))) return true;
    return false;
  }

  inUse(ip: number): boolean {
    return this.used.has(ip);
  }

  get size(): number {
    return this.used.size;
  }

  /**
   * Takes an address: the preferred one (must be in the subnet and free), or
   * the next free one in the range after the last handed out (so a freed
   * address is not reused at once, as Docker does).
   */
  allocate(preferred?: number, networkName = ''): number {
    if (preferred !== undefined) {
      if (!cidrContains(this.subnet, preferred)) throw invalid(`no configured subnet or ip-range contain the IP address ${formatIPv4(preferred)}`);
      if (this.used.has(preferred) || this.reserved(preferred)) throw forbidden('Address already in use');
      this.used.add(preferred);
      return preferred;
    }
    const first = cidrFirst(this.range), last = cidrLast(this.range);
    const n = last - first + 1;
    let ip = this.last;
    for (let i = 0; i < n; i++) {
      ip = ip >= last ? first : ip + 1;
      if (this.used.has(ip) || this.reserved(ip)) continue;
      this.used.add(ip);
      this.last = ip;
      return ip;
    }
    throw new EngineError('unavailable', `no available IPv4 addresses on this network's address pools: ${networkName}`);
  }

  /** Marks an address as taken (restore after a restart). False when it already was. */
  claim(ip: number): boolean {
    if (this.used.has(ip)) return false;
    this.used.add(ip);
    return true;
  }

  release(ip: number): void {
    this.used.delete(ip);
  }
}

/** One entry of daemon.json's default-address-pools. */
export interface PoolBase { base: Cidr; size: number }

/** Docker's defaults: 172.17-31.0.0/16, then 192.168.0.0/16 in /20 blocks. */
export function defaultAddressPools(): PoolBase[] {
  const out: PoolBase[] = [];
  for (let i = 17; i <= 31; i++) out.push({ base: { net: parseIPv4(`172.${i}.0.0`)!, len: 16 }, size: 16 });
  out.push({ base: { net: parseIPv4('192.168.0.0')!, len: 16 }, size: 20 });
  return out;
}

export function parseAddressPools(v: unknown): PoolBase[] {
  if (!Array.isArray(v)) throw invalid('default-address-pools must be a list of {"base","size"}');
  return v.map((p: unknown) => {
    const o = p as { base?: unknown; size?: unknown };
    const base = typeof o.base === 'string' ? parseCidr(o.base) : undefined;
    const size = typeof o.size === 'number' ? o.size : NaN;
    if (!base || !Number.isInteger(size) || size < base.len || size > 30) throw invalid(`invalid default address pool: ${JSON.stringify(p)}`);
    return { base, size };
  });
}

/** The first block of the pools that overlaps none of `taken`. */
export function pickSubnet(pools: PoolBase[], taken: Cidr[]): Cidr | undefined {
  for (const p of pools) {
    const step = 2 ** (32 - p.size);
    const count = 2 ** (p.size - p.base.len);
    for (let i = 0; i < count; i++) {
      const c: Cidr = { net: (p.base.net + i * step) >>> 0, len: p.size };
      if (!taken.some((t) => cidrOverlaps(t, c))) return c;
    }
  }
  return undefined;
}

/** An IPAM config entry as the API carries it, validated. */
export interface IpamEntry { subnet: Cidr; subnetText: string; gateway: number; ipRange?: Cidr; ipRangeText?: string }

/**
 * Validates one `IPAM.Config` entry ({Subnet, Gateway, IPRange}) the way
 * Docker does. Without Gateway, the first address of the subnet is used.
 */
export function validateIpamEntry(c: { Subnet?: string; Gateway?: string; IPRange?: string }): IpamEntry {
  const subnetText = c.Subnet ?? '';
  if (!subnetText) {
    if (c.Gateway || c.IPRange) throw invalid('every ip-range or gateway must have a corresponding subnet');
    throw invalid('subnet is required');
  }
  if (subnetText.includes(':')) throw invalid(`IPv6 subnets are not supported yet: ${subnetText}`);
  const subnet = parseCidr(subnetText);
  if (!subnet) throw invalid(`invalid subnet ${subnetText} : invalid CIDR address: ${subnetText}`);
  if (subnet.len > 30) throw invalid(`invalid subnet ${subnetText}: at least two usable addresses are needed`);
  let ipRange: Cidr | undefined;
  if (c.IPRange) {
    ipRange = parseCidr(c.IPRange);
    if (!ipRange) throw invalid(`invalid ip-range ${c.IPRange} : invalid CIDR address: ${c.IPRange}`);
    if (!cidrContainsCidr(subnet, ipRange)) throw invalid(`no matching subnet for range ${c.IPRange}`);
  }
  let gateway: number;
  if (c.Gateway) {
    const g = parseIPv4(c.Gateway);
    if (g === undefined) throw invalid(`invalid gateway address ${c.Gateway}`);
    if (!cidrContains(subnet, g)) throw invalid(`no matching subnet for gateway ${c.Gateway}`);
    gateway = g;
  } else {
    gateway = (subnet.net + 1) >>> 0;
  }
  const out: IpamEntry = { subnet, subnetText: formatCidr(subnet), gateway };
  if (ipRange) { out.ipRange = ipRange; out.ipRangeText = formatCidr(ipRange); }
  return out;
}

/** Docker's "Pool overlaps with other one on this address space" check. */
export function checkOverlap(subnet: Cidr, others: Cidr[]): void {
  if (others.some((o) => cidrOverlaps(o, subnet))) throw forbidden('invalid pool request: Pool overlaps with other one on this address space');
}

/** Routes of the daemon's network namespace (/proc/net/route), as CIDR blocks, to keep automatic subnets off them. */
export function parseProcNetRoute(text: string): Cidr[] {
  const out: Cidr[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = Number.parseInt(f[1] ?? '', 16), mask = Number.parseInt(f[7] ?? '', 16);
    if (!Number.isFinite(dest) || !Number.isFinite(mask) || mask === 0) continue; // skip default routes
    // little-endian hex in /proc
    const sw = (x: number): number => (((x & 255) << 24) | (((x >>> 8) & 255) << 16) | (((x >>> 16) & 255) << 8) | ((x >>> 24) & 255)) >>> 0;
    const m = sw(mask);
    let len = 0;
    while (len < 32 && ((m << len) & 0x80000000) !== 0) len++;
    out.push({ net: (sw(dest) & maskOf(len)) >>> 0, len });
  }
  return out;
}
