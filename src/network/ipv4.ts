// IPv4 addresses as unsigned 32-bit numbers, CIDR blocks, and Docker's MAC
// derivation. Pure: no I/O.

export interface Cidr {
  /** the network address (host bits cleared) */
  net: number;
  len: number;
}

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] ?? '';
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const v = Number(part);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n >>> 0;
}

export function formatIPv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** "10.1.0.0/16" → {net, len}; the host part of the address is cleared. Undefined when malformed. */
export function parseCidr(s: string): Cidr | undefined {
  const i = s.indexOf('/');
  if (i < 0) return undefined;
  const ip = parseIPv4(s.slice(0, i));
  const lenText = s.slice(i + 1);
  if (ip === undefined || !/^\d{1,2}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > 32) return undefined;
  return { net: (ip & maskOf(len)) >>> 0, len };
}

/** The address part of "a.b.c.d/len" exactly as given (host bits kept). */
export function cidrAddress(s: string): number | undefined {
  return parseIPv4(s.slice(0, s.indexOf('/') < 0 ? s.length : s.indexOf('/')));
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.net)}/${c.len}`;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.len)) >>> 0) === c.net;
}

export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.len >= outer.len && cidrContains(outer, inner.net);
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.net) || cidrContains(b, a.net);
}

/** First and last address of a block. */
export function cidrFirst(c: Cidr): number {
  return c.net;
}
export function cidrLast(c: Cidr): number {
  return (c.net | (~maskOf(c.len) >>> 0)) >>> 0;
}

/** Docker's MAC for an IPv4 endpoint: 02:42 followed by the four address bytes. */
export function macFromIPv4(ip: number): string {
  const b = [2, 0x42, (ip >>> 24) & 255, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Normalises a MAC address ("02-42-AC-11-00-02" or "02:42:ac:11:00:02") to lower-case colon form. */
export function parseMac(s: string): string | undefined {
  const m = /^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$/.exec(s.trim());
  if (!m) return undefined;
  return m.slice(1, 7).join(':').toLowerCase();
}

/** "1.2.3.4" → "4.3.2.1.in-addr.arpa" */
export function reverseName(ip: number): string {
  return `${ip & 255}.${(ip >>> 8) & 255}.${(ip >>> 16) & 255}.${(ip >>> 24) & 255}.in-addr.arpa`;
}

/** "4.3.2.1.in-addr.arpa" → the address, or undefined. */
export function parseReverseName(name: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa\.?$/i.exec(name);
  if (!m) return undefined;
  return parseIPv4(`${m[4]}.${m[3]}.${m[2]}.${m[1]}`);
}
