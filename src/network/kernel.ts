// Links, addresses and routes through iproute2: one `ip -batch -` per step,
// on the daemon's side or inside a container's namespace (nsenter).
import { internal } from '../common/errors';
import { inNetns, runTool } from './exec';

export interface LinkInfo {
  ifname: string;
  ifindex: number;
  master?: string;
  kind?: string;
  /** IPv4 addresses as "a.b.c.d/len" */
  addrs: string[];
  up: boolean;
}

interface IpJsonLink {
  ifname?: string; ifindex?: number; master?: string; flags?: string[];
  linkinfo?: { info_kind?: string };
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
}

/** Every link of the daemon's namespace with its kind, master and IPv4 addresses. */
export async function listLinks(): Promise<LinkInfo[]> {
  const r = await runTool('ip', ['-j', '-d', 'addr', 'show']);
  if (r.code !== 0) throw internal(`ip addr show: ${r.stderr.trim()}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout || '[]');
  } catch {
    throw internal('ip addr show: unparsable output');
  }
  if (!Array.isArray(parsed)) return [];
  return (parsed as IpJsonLink[]).filter((l) => typeof l.ifname === 'string' && typeof l.ifindex === 'number').map((l) => {
    const info: LinkInfo = {
      ifname: l.ifname!,
      ifindex: l.ifindex!,
      addrs: (l.addr_info ?? []).filter((a) => a.family === 'inet' && a.local).map((a) => `${a.local}/${a.prefixlen ?? 32}`),
      up: (l.flags ?? []).includes('UP'),
    };
    if (l.master) info.master = l.master;
    if (l.linkinfo?.info_kind) info.kind = l.linkinfo.info_kind;
    return info;
  });
}

/** Runs a batch in the daemon's namespace. */
export async function ipBatch(lines: string[], force = false): Promise<void> {
  if (!lines.length) return;
  const r = await runTool('ip', [...(force ? ['-force'] : []), '-batch', '-'], lines.join('\n') + '\n');
  if (r.code !== 0 && !force) throw internal(`ip: ${(r.stderr || r.stdout).trim()}`);
}

/** Runs a batch inside the network namespace of pid. */
export async function ipBatchIn(pid: number, lines: string[]): Promise<void> {
  if (!lines.length) return;
  const [cmd, args] = inNetns(pid, 'ip', ['-batch', '-']);
  const r = await runTool(cmd, args, lines.join('\n') + '\n');
  if (r.code !== 0) throw internal(`ip (in the container's namespace): ${(r.stderr || r.stdout).trim()}`);
}

/** Runs an nft script inside the network namespace of pid. */
export async function nftIn(pid: number, script: string): Promise<void> {
  const [cmd, args] = inNetns(pid, 'nft', ['-f', '-']);
  const r = await runTool(cmd, args, script);
  if (r.code !== 0) throw internal(`nft (in the container's namespace): ${(r.stderr || r.stdout).trim()}`);
}

/** Lines that make (or repair) a bridge with its gateway address(es). */
export function bridgeLines(name: string, mac: string, gatewayCidr: string | string[], mtu: number, have: LinkInfo | undefined): string[] {
  const want = Array.isArray(gatewayCidr) ? gatewayCidr : [gatewayCidr];
  const lines: string[] = [];
  if (!have) lines.push(`link add name ${name} type bridge`);
  if (!have) lines.push(`link set dev ${name} address ${mac} mtu ${mtu}`);
  for (const a of have?.addrs ?? []) if (!want.includes(a)) lines.push(`addr del ${a} dev ${name}`);
  // one gateway address per subnet of the network
  for (const g of want) if (!have?.addrs.includes(g)) lines.push(`addr add ${g} dev ${name}`);
  if (!have?.up) lines.push(`link set dev ${name} up`);
  return lines;
}

export interface EndpointLinks {
  ifname: string;
  hostVeth: string;
  mac: string;
  /** "a.b.c.d/len" */
  cidr: string;
  /** "v6addr/len" on an IPv6 network */
  cidr6?: string;
  mtu: number;
  bridge: string;
  hairpin: boolean;
}

/**
 * Lines run in the daemon's namespace: the veth pair is made with its inner
 * end born inside the container's namespace (moving an interface between
 * namespaces costs an RCU grace period, 10-30 ms; creating it there does not)
 * and its outer end on the bridge, up.
 */
export function hostEndpointLines(containerPid: number, e: EndpointLinks): string[] {
  const lines = [`link add ${e.hostVeth} mtu ${e.mtu} master ${e.bridge} up type veth peer name ${e.ifname} address ${e.mac} mtu ${e.mtu} netns ${containerPid}`];
  if (e.hairpin) lines.push(`link set dev ${e.hostVeth} type bridge_slave hairpin on`);
  return lines;
}

/** Lines run inside the container's namespace once its end exists. */
export function innerEndpointLines(e: EndpointLinks): string[] {
  // nodad: the address is ours by allocation, and usable at once
  return [
    `addr add ${e.cidr} broadcast + dev ${e.ifname}`,
    ...(e.cidr6 ? [`addr add ${e.cidr6} dev ${e.ifname} nodad`] : []),
    `link set ${e.ifname} up`,
  ];
}
