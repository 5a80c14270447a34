// Published ports: validation of HostConfig.PortBindings / ExposedPorts as
// Docker does it, the list of bindings a container asks for, and the table of
// host ports in use. Pure: sockets and NAT rules live in portmap.ts and
// firewall.ts.
import { invalid } from '../common/errors';
import { parseIPv4 } from './ipv4';
import { formatIPv6, parseIPv6 } from './ipv6';

export type Proto = 'tcp' | 'udp' | 'sctp';

/** One binding a container asks for. hostPortLo = hostPortHi = 0: any free port. */
export interface PortRequest {
  proto: Proto;
  containerPort: number;
  hostIp: string;
  hostPortLo: number;
  hostPortHi: number;
}

/** One binding in force. */
export interface BoundPort {
  proto: Proto;
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

function portNumber(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** "8080" or "8080-8090" → [lo, hi]; "" → [0, 0]. Undefined when malformed. */
export function parsePortRange(s: string): [number, number] | undefined {
  if (s === '') return [0, 0];
  const i = s.indexOf('-');
  if (i < 0) {
    const p = portNumber(s);
    return p === undefined ? undefined : [p, p];
  }
  const lo = portNumber(s.slice(0, i)), hi = portNumber(s.slice(i + 1));
  if (lo === undefined || hi === undefined || hi < lo) return undefined;
  return [lo, hi];
}

/** "80/tcp", "80", "80-81/udp" → ports and proto; throws Docker's error when malformed. */
export function parsePortKey(key: string): { lo: number; hi: number; proto: Proto } {
  const slash = key.indexOf('/');
  const portText = slash < 0 ? key : key.slice(0, slash);
  const protoText = (slash < 0 ? 'tcp' : key.slice(slash + 1)).toLowerCase();
  const r = portText === '' ? undefined : parsePortRange(portText);
  if (!r) throw invalid(`invalid port specification: "${portText}"`);
  if (protoText !== 'tcp' && protoText !== 'udp' && protoText !== 'sctp') throw invalid(`invalid proto: ${protoText}`);
  return { lo: r[0], hi: r[1], proto: protoText };
}

interface RawBinding { HostIp?: unknown; HostPort?: unknown }

/**
 * The bindings of HostConfig.PortBindings (+ every exposed port when
 * PublishAllPorts), validated. Throws invalid() with Docker's messages.
 */
export function portRequests(portBindings: unknown, exposed: unknown, publishAll: boolean, defaultHostIp = '0.0.0.0'): PortRequest[] {
  const out: PortRequest[] = [];
  const seen = new Set<string>();
  if (portBindings !== null && portBindings !== undefined) {
    if (typeof portBindings !== 'object' || Array.isArray(portBindings)) throw invalid('json: cannot unmarshal into Go struct field HostConfig.PortBindings of type nat.PortMap');
    for (const [key, list] of Object.entries(portBindings as Record<string, unknown>)) {
      const k = parsePortKey(key);
      const bindings: RawBinding[] = list === null || list === undefined ? [] : Array.isArray(list) ? (list as RawBinding[]) : [];
      if (!Array.isArray(list) && list !== null && list !== undefined) throw invalid(`json: cannot unmarshal into Go value of type []nat.PortBinding`);
      for (let cport = k.lo; cport <= k.hi; cport++) seen.add(`${cport}/${k.proto}`);
      for (const b of bindings) {
        const hostPort = b.HostPort === undefined || b.HostPort === null ? '' : String(b.HostPort);
        const hostIp = b.HostIp === undefined || b.HostIp === null ? '' : String(b.HostIp);
        const hr = parsePortRange(hostPort);
        if (!hr) throw invalid(`invalid port specification: "${hostPort}"`);
        let ip = hostIp;
        if (hostIp !== '' && parseIPv4(hostIp) === undefined) {
          const v6 = parseIPv6(hostIp.replace(/^\[(.*)\]$/, '$1'));
          if (v6 === undefined) throw invalid(`invalid IP address: ${hostIp}`);
          ip = formatIPv6(v6);
        }
        const span = k.hi - k.lo;
        if (span > 0 && hr[0] !== 0 && hr[1] - hr[0] !== span) throw invalid(`invalid port range: ${hostPort} does not match the container port range ${k.lo}-${k.hi}`);
        for (let i = 0; i <= span; i++) {
          const fixed = span > 0 && hr[0] !== 0;
          out.push({
            proto: k.proto,
            containerPort: k.lo + i,
            hostIp: ip || defaultHostIp,
            hostPortLo: fixed ? hr[0] + i : hr[0],
            hostPortHi: fixed ? hr[0] + i : hr[1],
          });
        }
      }
    }
  }
  if (publishAll && exposed && typeof exposed === 'object') {
    for (const key of Object.keys(exposed as Record<string, unknown>)) {
      const k = parsePortKey(key);
      for (let cport = k.lo; cport <= k.hi; cport++) {
        if (seen.has(`${cport}/${k.proto}`)) continue;
        out.push({ proto: k.proto, containerPort: cport, hostIp: defaultHostIp, hostPortLo: 0, hostPortHi: 0 });
      }
    }
  }
  return out;
}

/** Validates ExposedPorts keys (create). */
export function validateExposed(exposed: unknown): void {
  if (!exposed || typeof exposed !== 'object') return;
  for (const key of Object.keys(exposed as Record<string, unknown>)) parsePortKey(key);
}

interface Holder { ip: string; owner: string }

/**
 * Host ports in use, per protocol. 0.0.0.0 conflicts with every address;
 * two specific addresses conflict only when equal.
 */
export class PortTable {
  private used = new Map<string, Holder[]>();
  private next = new Map<Proto, number>();

  constructor(private readonly ephemeral: [number, number] = [49153, 60999]) {}

  private key(proto: Proto, port: number): string {
    return `${proto}/${port}`;
  }

  conflicts(proto: Proto, ip: string, port: number): boolean {
    const l = this.used.get(this.key(proto, port));
    if (!l) return false;
    // a wildcard (0.0.0.0, ::) conflicts with every address of its family
    const v6 = ip.includes(':');
    return l.some((h) => h.ip.includes(':') === v6 && (h.ip === ip || h.ip === '0.0.0.0' || h.ip === '::' || ip === '0.0.0.0' || ip === '::'));
  }

  take(proto: Proto, ip: string, port: number, owner: string): void {
    const k = this.key(proto, port);
    const l = this.used.get(k) ?? [];
    l.push({ ip, owner });
    this.used.set(k, l);
  }

  release(proto: Proto, ip: string, port: number, owner: string): void {
    const k = this.key(proto, port);
    const l = (this.used.get(k) ?? []).filter((h) => !(h.ip === ip && h.owner === owner));
    if (l.length) this.used.set(k, l);
    else this.used.delete(k);
  }

  /** Candidate ports for a request, in the order to try them (random requests walk the ephemeral range from where the last ended). */
  candidates(req: PortRequest): number[] {
    if (req.hostPortLo !== 0) {
      const out: number[] = [];
      for (let p = req.hostPortLo; p <= req.hostPortHi; p++) out.push(p);
      return out;
    }
    const [lo, hi] = this.ephemeral;
    const start = this.next.get(req.proto) ?? lo;
    const out: number[] = [];
    for (let i = 0; i <= hi - lo; i++) {
      const p = lo + ((start - lo + i) % (hi - lo + 1));
      out.push(p);
    }
    return out;
  }

  /** Remembers where the next random allocation starts. */
  advance(proto: Proto, port: number): void {
    const [lo, hi] = this.ephemeral;
    if (port >= lo && port <= hi) this.next.set(proto, port >= hi ? lo : port + 1);
  }
}

/** Reads /proc/sys/net/ipv4/ip_local_port_range text ("32768\t60999"). */
export function parsePortRangeSysctl(text: string): [number, number] | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  if (!m) return undefined;
  const lo = Number(m[1]), hi = Number(m[2]);
  return lo >= 1 && hi <= 65535 && lo <= hi ? [lo, hi] : undefined;
}

/** Docker's inspect form: {"80/tcp": [{HostIp, HostPort}], "443/tcp": null}. */
export function portMap(exposed: Record<string, unknown> | null | undefined, bound: BoundPort[]): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const key of Object.keys(exposed ?? {})) {
    try {
      const k = parsePortKey(key);
      for (let p = k.lo; p <= k.hi; p++) out[`${p}/${k.proto}`] = null;
    } catch { /* ignore malformed keys */ }
  }
  for (const b of bound) {
    const k = `${b.containerPort}/${b.proto}`;
    const l = out[k] ?? [];
    l.push({ HostIp: b.hostIp, HostPort: String(b.hostPort) });
    out[k] = l;
  }
  return out;
}

/** Docker's ps form: [{IP, PrivatePort, PublicPort, Type}], unpublished exposed ports without IP/PublicPort. */
export function portList(exposed: Record<string, unknown> | null | undefined, bound: BoundPort[]): unknown[] {
  const out: unknown[] = [];
  const boundKeys = new Set(bound.map((b) => `${b.containerPort}/${b.proto}`));
  for (const b of bound) out.push({ IP: b.hostIp, PrivatePort: b.containerPort, PublicPort: b.hostPort, Type: b.proto });
  for (const key of Object.keys(exposed ?? {})) {
    try {
      const k = parsePortKey(key);
      for (let p = k.lo; p <= k.hi; p++) if (!boundKeys.has(`${p}/${k.proto}`)) out.push({ PrivatePort: p, Type: k.proto });
    } catch { /* ignore */ }
  }
  return out;
}
