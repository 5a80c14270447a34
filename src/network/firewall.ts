// nftables: one table `ip berth` in the daemon's namespace holds everything
// (published ports are elements of two DNAT maps, so adding or removing a
// port is one element, never a rule to find by handle), and one small table
// inside each container on a user-defined network sends 127.0.0.11:53 to the
// embedded DNS server. The text builders are pure; Nft runs `nft -f -`.
import { log } from '../common/log';
import { runTool } from './exec';
import type { Proto } from './ports';

export const TABLE = 'berth';
export const DNS_TABLE = 'berth_dns';
export const DNS_ADDR = '127.0.0.11';

export interface FwNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
  masquerade: boolean;
  /** inter-container communication (com.docker.network.bridge.enable_icc); default true */
  icc?: boolean;
  /** the IPv6 subnet of a network with EnableIPv6 */
  subnet6?: string;
}
/** Legacy links under icc=false: the parent may reach these ports of the child (Docker's link rules). */
export interface FwLinkPort { parent: string; child: string; proto: Proto; port: number }
export interface FwPort { proto: Proto; hostIp: string; hostPort: number; ip: string; containerPort: number }

function q(name: string): string {
  return JSON.stringify(name);
}

/** The per-network NAT and isolation rules (chain bodies). */
function netRules(nets: FwNetwork[]): { nat: string[]; filter: string[] } {
  const nat: string[] = [];
  const filter: string[] = [];
  for (const n of nets) {
    const br = q(n.bridge);
    // Published ports reached over loopback and hairpin connections: the container must answer through us.
    nat.push(`oifname ${br} ip saddr 127.0.0.0/8 masquerade`);
    nat.push(`oifname ${br} ct status dnat ip saddr ${n.subnet} masquerade`);
    if (n.masquerade && !n.internal) nat.push(`ip saddr ${n.subnet} oifname != ${br} masquerade`);
    if (n.internal) {
      filter.push(`iifname ${br} oifname != ${br} drop`);
      filter.push(`oifname ${br} iifname != ${br} drop`);
    } else {
      // Networks are isolated from each other (published ports excepted, see forward).
      filter.push(`oifname ${br} iifname @bridges iifname != ${br} drop`);
    }
  }
  return { nat, filter };
}

/**
 * Traffic between two containers of a network with icc off is bridged, not
 * routed: it is dropped in the bridge family's forward hook, matched by
 * subnet (as nft's ibrname is not in every kernel). Linked ports stay open,
 * both ways, statelessly as Docker's iptables rules.
 */
function iccRules(nets: FwNetwork[]): string[] {
  const out = [
    `ip saddr . ip daddr . meta l4proto . th dport @links accept`,
    `ip daddr . ip saddr . meta l4proto . th sport @links accept`,
  ];
  for (const n of nets) {
    if (n.icc !== false) continue;
    out.push(`ip saddr ${n.subnet} ip daddr ${n.subnet} drop`);
    if (n.subnet6) out.push(`ip6 saddr ${n.subnet6} ip6 daddr ${n.subnet6} drop`);
  }
  return out;
}

/** The bridge-family table (icc), replaced whole at start. */
export function bridgeRuleset(nets: FwNetwork[]): string {
  return [
    `add table bridge ${TABLE}`,
    `delete table bridge ${TABLE}`,
    `table bridge ${TABLE} {`,
    `  set links { type ipv4_addr . ipv4_addr . inet_proto . inet_service; }`,
    `  chain icc {`,
    ...iccRules(nets).map((l) => `    ${l}`),
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    `    jump icc`,
    `  }`,
    `}`,
  ].join('\n') + '\n';
}

export function bridgeUpdate(nets: FwNetwork[]): string {
  return [`flush chain bridge ${TABLE} icc`, ...iccRules(nets).map((l) => `add rule bridge ${TABLE} icc ${l}`)].join('\n') + '\n';
}

export function linkElements(op: 'add' | 'delete', links: FwLinkPort[]): string {
  return links.map((l) => `${op} element bridge ${TABLE} links { ${l.parent} . ${l.child} . ${l.proto} . ${l.port} }\n`).join('');
}

/** IPv6: masquerading out, isolation between networks, internal networks closed (the v4 rules' twins). */
function net6Rules(nets: FwNetwork[]): { nat: string[]; filter: string[] } {
  const nat: string[] = [];
  const filter: string[] = [];
  for (const n of nets) {
    if (!n.subnet6) continue;
    const br = q(n.bridge);
    if (n.masquerade && !n.internal) nat.push(`ip6 saddr ${n.subnet6} oifname != ${br} masquerade`);
    if (n.internal) {
      filter.push(`iifname ${br} oifname != ${br} drop`);
      filter.push(`oifname ${br} iifname != ${br} drop`);
    } else {
      filter.push(`oifname ${br} iifname @bridges iifname != ${br} drop`);
    }
  }
  return { nat, filter };
}

/** The `ip6 berth` table, replaced whole at start. */
export function ip6Ruleset(nets: FwNetwork[]): string {
  const r = net6Rules(nets);
  return [
    `add table ip6 ${TABLE}`,
    `delete table ip6 ${TABLE}`,
    `table ip6 ${TABLE} {`,
    `  set bridges { type ifname;${bridgesSet(nets)} }`,
    // published ports of containers with IPv6 addresses (::1 is left to the held socket: v6 cannot route loopback sources out)
    `  map ports_ip { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }`,
    `  map ports_any { type inet_proto . inet_service : ipv6_addr . inet_service; }`,
    `  chain prerouting {`,
    `    type nat hook prerouting priority dstnat; policy accept;`,
    `    dnat ip6 to ip6 daddr . meta l4proto . th dport map @ports_ip`,
    `    fib daddr type local dnat ip6 to meta l4proto . th dport map @ports_any`,
    `  }`,
    `  chain output {`,
    `    type nat hook output priority -100; policy accept;`,
    `    ip6 daddr != ::1 dnat ip6 to ip6 daddr . meta l4proto . th dport map @ports_ip`,
    `    ip6 daddr != ::1 fib daddr type local dnat ip6 to meta l4proto . th dport map @ports_any`,
    `  }`,
    ...natFilterChains(r),
    `}`,
  ].join('\n') + '\n';
}

export function ip6Update(nets: FwNetwork[]): string {
  return rulesUpdate('ip6', net6Rules(nets), nets);
}

/** The per-network chains and the hooks that jump to them, the same in the ip and ip6 tables. */
function natFilterChains(r: { nat: string[]; filter: string[] }): string[] {
  return [
    `  chain nets_nat {`,
    ...r.nat.map((l) => `    ${l}`),
    `  }`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority srcnat; policy accept;`,
    `    jump nets_nat`,
    `  }`,
    `  chain nets_filter {`,
    ...r.filter.map((l) => `    ${l}`),
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    `    ct status dnat accept`,
    `    jump nets_filter`,
    `  }`,
  ];
}

/** Re-writes a table's per-network rules and bridge set. */
function rulesUpdate(family: 'ip' | 'ip6', r: { nat: string[]; filter: string[] }, nets: FwNetwork[]): string {
  const lines = [
    `flush chain ${family} ${TABLE} nets_nat`,
    `flush chain ${family} ${TABLE} nets_filter`,
    `flush set ${family} ${TABLE} bridges`,
  ];
  if (nets.length) lines.push(`add element ${family} ${TABLE} bridges { ${nets.map((n) => q(n.bridge)).join(', ')} }`);
  for (const l of r.nat) lines.push(`add rule ${family} ${TABLE} nets_nat ${l}`);
  for (const l of r.filter) lines.push(`add rule ${family} ${TABLE} nets_filter ${l}`);
  return lines.join('\n') + '\n';
}

function bridgesSet(nets: FwNetwork[]): string {
  return nets.length ? ` elements = { ${nets.map((n) => q(n.bridge)).join(', ')} }` : '';
}

function elem(p: FwPort): { family: 'ip' | 'ip6'; map: string; key: string } {
  const value = `${p.ip} . ${p.containerPort}`;
  if (p.hostIp.includes(':')) {
    if (p.hostIp === '::') return { family: 'ip6', map: 'ports_any', key: `${p.proto} . ${p.hostPort} : ${value}` };
    return { family: 'ip6', map: 'ports_ip', key: `${p.hostIp} . ${p.proto} . ${p.hostPort} : ${value}` };
  }
  if (p.hostIp === '0.0.0.0' || p.hostIp === '') return { family: 'ip', map: 'ports_any', key: `${p.proto} . ${p.hostPort} : ${value}` };
  return { family: 'ip', map: 'ports_ip', key: `${p.hostIp} . ${p.proto} . ${p.hostPort} : ${value}` };
}

/** Replaces the whole table atomically (daemon start). */
export function hostRuleset(nets: FwNetwork[], ports: FwPort[]): string {
  const r = netRules(nets);
  const any = ports.filter((p) => elem(p).map === 'ports_any').map((p) => elem(p).key);
  const ip = ports.filter((p) => elem(p).map === 'ports_ip').map((p) => elem(p).key);
  const dnat = [
    `dnat ip to ip daddr . meta l4proto . th dport map @ports_ip`,
    `fib daddr type local dnat ip to meta l4proto . th dport map @ports_any`,
  ];
  const lines = [
    `add table ip ${TABLE}`,
    `delete table ip ${TABLE}`,
    `table ip ${TABLE} {`,
    `  set bridges { type ifname;${bridgesSet(nets)} }`,
    `  map ports_ip { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service;${ip.length ? ` elements = { ${ip.join(', ')} }` : ''} }`,
    `  map ports_any { type inet_proto . inet_service : ipv4_addr . inet_service;${any.length ? ` elements = { ${any.join(', ')} }` : ''} }`,
    `  chain prerouting {`,
    `    type nat hook prerouting priority dstnat; policy accept;`,
    ...dnat.map((l) => `    ${l}`),
    `  }`,
    `  chain output {`,
    `    type nat hook output priority -100; policy accept;`,
    ...dnat.map((l) => `    ${l}`),
    `  }`,
    ...natFilterChains(r),
    `  chain guard {`,
    // route_localnet is on for the bridges (loopback-published ports): containers must still not reach the host's loopback.
    `    type filter hook prerouting priority raw; policy accept;`,
    `    iifname @bridges ip daddr 127.0.0.0/8 drop`,
    `  }`,
    `}`,
  ];
  return lines.join('\n') + '\n';
}

/** Re-writes the per-network rules after a network was created or removed. */
export function networkUpdate(nets: FwNetwork[]): string {
  return rulesUpdate('ip', netRules(nets), nets);
}

export function portElements(op: 'add' | 'delete', ports: FwPort[]): string {
  let s = '';
  for (const p of ports) {
    const e = elem(p);
    const key = op === 'delete' ? e.key.slice(0, e.key.indexOf(' : ')) : e.key;
    s += `${op} element ${e.family} ${TABLE} ${e.map} { ${key} }\n`;
  }
  return s;
}

/** The table inside a container's namespace: 127.0.0.11:53 → the embedded server. */
export function containerDnsRules(server: string, port: number): string {
  return [
    `add table ip ${DNS_TABLE}`,
    `flush table ip ${DNS_TABLE}`,
    `table ip ${DNS_TABLE} {`,
    `  chain output {`,
    `    type nat hook output priority -100; policy accept;`,
    `    ip daddr ${DNS_ADDR} udp dport 53 dnat to ${server}:${port}`,
    `    ip daddr ${DNS_ADDR} tcp dport 53 dnat to ${server}:${port}`,
    `  }`,
    `}`,
  ].join('\n') + '\n';
}

export function containerDnsRemove(): string {
  return `add table ip ${DNS_TABLE}\ndelete table ip ${DNS_TABLE}\n`;
}

interface Job { text: string; resolve: () => void; reject: (e: Error) => void }

/**
 * Runs nft scripts in the daemon's namespace, one process at a time; scripts
 * queued meanwhile go together in one transaction (and one by one if that
 * transaction fails, so one bad script does not sink the others).
 */
export class Nft {
  private queue: Job[] = [];
  private running = false;
  available = true;

  apply(text: string): Promise<void> {
    if (!text.trim()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ text, resolve, reject });
      if (!this.running) {
        // Started after the current task, so scripts applied in one go share a transaction.
        this.running = true;
        queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const jobs = this.queue.splice(0);
        const r = await runTool('nft', ['-f', '-'], jobs.map((j) => j.text).join(''));
        if (r.code === 0) {
          for (const j of jobs) j.resolve();
          continue;
        }
        if (jobs.length === 1) {
          jobs[0]!.reject(new Error(`nft: ${r.stderr.trim() || `exit ${r.code}`}`));
          continue;
        }
        for (const j of jobs) {
          const one = await runTool('nft', ['-f', '-'], j.text);
          if (one.code === 0) j.resolve();
          else j.reject(new Error(`nft: ${one.stderr.trim() || `exit ${one.code}`}`));
        }
      }
    } catch (e) {
      log.error('nft runner failed', { err: e });
      for (const j of this.queue.splice(0)) j.reject(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.running = false;
    }
  }
}
