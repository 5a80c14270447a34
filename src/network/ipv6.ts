// IPv6 addresses as 128-bit bigints, CIDR blocks, the text forms Docker
// prints (RFC 5952, as Go's netip), and an address pool for a v6 subnet.
// Pure: no I/O.
import { EngineError, forbidden, invalid } from '../common/errors';

export interface Cidr6 { net: bigint; len: number }

const ALL = (1n << 128n) - 1n;

export function parseIPv6(text: string): bigint | undefined {
  const s = text.trim().toLowerCase();
  if (!s.includes(':') || s.length > 45 || !/^[0-9a-f:.]+$/.test(s)) return undefined;
  let head = s, tail = '';
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return undefined;
    head = s.slice(0, dbl);
    tail = s.slice(dbl + 2);
  }
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const g = items[i]!;
      if (g.includes('.')) {
        // an embedded IPv4 address, last only
        if (i !== items.length - 1) return undefined;
        const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(g);
        if (!m) return undefined;
        const b = m.slice(1).map(Number);
        if (b.some((x) => x > 255)) return undefined;
        out.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
        continue;
      }
      if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = groups(head), t = groups(tail);
  if (!h || !t) return undefined;
  let all: number[];
  if (dbl >= 0) {
    if (h.length + t.length > 7) return undefined;
    all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  } else {
    all = h;
  }
  if (all.length !== 8) return undefined;
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** RFC 5952: lower case, no leading zeros, the longest run (2+) of zero groups as "::". */
export function formatIPv6(n: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let bestAt = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

export function mask6(len: number): bigint {
  return len === 0 ? 0n : (ALL << BigInt(128 - len)) & ALL;
}

/** "fd00::/64" → block (host bits cleared); undefined when malformed. */
export function parseCidr6(s: string): Cidr6 | undefined {
  const i = s.indexOf('/');
  if (i < 0) return undefined;
  const ip = parseIPv6(s.slice(0, i));
  const lenText = s.slice(i + 1);
  if (ip === undefined || !/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > 128) return undefined;
  return { net: ip & mask6(len), len };
}

/** The address part of "addr/len" as given, host bits kept. */
export function cidr6Address(s: string): bigint | undefined {
  const i = s.indexOf('/');
  return parseIPv6(i < 0 ? s : s.slice(0, i));
}

export function formatCidr6(c: Cidr6): string {
  return `${formatIPv6(c.net)}/${c.len}`;
}

export function cidr6Contains(c: Cidr6, ip: bigint): boolean {
  return (ip & mask6(c.len)) === c.net;
}

export function cidr6Overlaps(a: Cidr6, b: Cidr6): boolean {
  return cidr6Contains(a, b.net) || cidr6Contains(b, a.net);
}

export function cidr6Last(c: Cidr6): bigint {
  return c.net | (~mask6(c.len) & ALL);
}

/** An IPv6 IPAM entry, validated as Docker does. Without Gateway, the first address after the subnet's. */
export interface Ipam6Entry { subnet: Cidr6; subnetText: string; gateway: bigint; ipRange?: Cidr6; ipRangeText?: string }

export function validateIpam6Entry(c: { Subnet?: string; Gateway?: string; IPRange?: string }): Ipam6Entry {
  const text = c.Subnet ?? '';
  const subnet = parseCidr6(text);
  if (!subnet) throw invalid(`invalid subnet ${text} : invalid CIDR address: ${text}`);
  if (cidr6Address(text) !== subnet.net) throw invalid(`invalid subnet ${text}: it should be ${formatCidr6(subnet)}`);
  if (subnet.len > 126) throw invalid(`invalid subnet ${text}: at least two usable addresses are needed`);
  // the link-local prefix belongs to every interface already
  if (cidr6Overlaps(subnet, { net: 0xfe80n << 112n, len: 64 })) throw invalid(`invalid subnet ${text}: it overlaps with the link-local prefix fe80::/64`);
  let ipRange: Cidr6 | undefined;
  if (c.IPRange) {
    ipRange = parseCidr6(c.IPRange);
    if (!ipRange) throw invalid(`invalid ip-range ${c.IPRange} : invalid CIDR address: ${c.IPRange}`);
    if (!(ipRange.len >= subnet.len && cidr6Contains(subnet, ipRange.net))) throw invalid(`no matching subnet for range ${c.IPRange}`);
  }
  let gateway: bigint;
  if (c.Gateway) {
    const g = parseIPv6(c.Gateway);
    if (g === undefined) throw invalid(`invalid gateway address ${c.Gateway}`);
    if (!cidr6Contains(subnet, g)) throw invalid(`no matching subnet for gateway ${c.Gateway}`);
    gateway = g;
  } else {
    gateway = subnet.net + 1n;
  }
  const out: Ipam6Entry = { subnet, subnetText: formatCidr6(subnet), gateway };
  if (ipRange) { out.ipRange = ipRange; out.ipRangeText = formatCidr6(ipRange); }
  return out;
}

/**
 * Free/used bookkeeping for one IPv6 subnet: sequential addresses from the
 * range (the subnet-router anycast address and the gateway are never handed
 * out), a freed address is not reused at once.
 */
export class AddressPool6 {
  readonly subnet: Cidr6;
  readonly range: Cidr6;
  readonly gateway: bigint;
  private used = new Set<bigint>();
  private last: bigint;

  constructor(spec: { subnet: Cidr6; gateway: bigint; ipRange?: Cidr6 }) {
    this.subnet = spec.subnet;
    this.range = spec.ipRange ?? spec.subnet;
    this.gateway = spec.gateway;
    this.last = this.range.net;
  }

  private reserved(ip: bigint): boolean {
    return ip === this.gateway || ip === this.subnet.net;
  }

  allocate(preferred?: bigint, networkName = ''): bigint {
    if (preferred !== undefined) {
      if (!cidr6Contains(this.subnet, preferred)) throw invalid(`no configured subnet or ip-range contain the IP address ${formatIPv6(preferred)}`);
      if (this.used.has(preferred) || this.reserved(preferred)) throw forbidden('Address already in use');
      this.used.add(preferred);
      return preferred;
    }
    const first = this.range.net, last = cidr6Last(this.range);
    // never a walk of a whole /64: among used+3 consecutive addresses one is free (at most 2 are reserved)
    const size = last - first + 1n;
    const tries = BigInt(this.used.size + 3) < size ? this.used.size + 3 : Number(size);
    let ip = this.last;
    for (let i = 0; i < tries; i++) {
      ip = ip >= last ? first : ip + 1n;
      if (this.used.has(ip) || this.reserved(ip)) continue;
      this.used.add(ip);
      this.last = ip;
      return ip;
    }
    throw new EngineError('unavailable', `no available IPv6 addresses on this network's address pools: ${networkName}`);
  }

  claim(ip: bigint): void {
    this.used.add(ip);
  }

  release(ip: bigint): void {
    this.used.delete(ip);
  }
}
