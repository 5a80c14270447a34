// Legacy container links (`--link name[:alias]`): the parsing of a link
// spec and the environment variables Docker gives the linking container.
// Pure: which containers exist is the network service's business.
import { invalid } from '../common/errors';
import { parsePortKey, type Proto } from './ports';

/** One link as recorded on the linking container: the target by ID (names change), the alias as given. */
export interface LinkRef { id: string; alias: string }

/** Docker's opts.ParseLink: "name", "name:alias", or the stored form "/name:/parent/alias". */
export function parseLink(spec: string): { name: string; alias: string } {
  if (spec === '') throw invalid('empty string specified for links');
  const parts = spec.split(':');
  if (parts.length > 2) throw invalid(`bad format for links: ${spec}`);
  const [a, b] = parts as [string, string | undefined];
  if (b === undefined) return { name: a, alias: a };
  if (a.startsWith('/')) return { name: a.slice(1), alias: b.slice(b.lastIndexOf('/') + 1) };
  if (!a || !b) throw invalid(`bad format for links: ${spec}`);
  return { name: a, alias: b };
}

interface Port { num: number; proto: Proto }

/** TCP first, then by number (Docker's withTCPPriority). */
function comparePorts(x: Port, y: Port): number {
  if (x.proto === y.proto) return x.num - y.num;
  if (x.proto === 'tcp') return -1;
  if (y.proto === 'tcp') return 1;
  return x.proto < y.proto ? -1 : 1;
}

/**
 * The variables of one link, exactly as Docker's links.ToEnv builds them:
 * ALIAS_PORT, ALIAS_PORT_<n>_<PROTO>{,_ADDR,_PORT,_PROTO}, range
 * _START/_END pairs for consecutive ports, ALIAS_NAME=/parent/alias and
 * ALIAS_ENV_<var> for the target's environment (HOME and PATH left out).
 */
export function linkEnv(linkName: string, childIp: string, childEnv: string[], exposed: Record<string, unknown> | null | undefined): string[] {
  const alias = linkName.slice(linkName.lastIndexOf('/') + 1).toUpperCase().replace(/-/g, '_');
  const ports: Port[] = [];
  for (const key of Object.keys(exposed ?? {})) {
    let k: ReturnType<typeof parsePortKey>;
    try { k = parsePortKey(key); } catch { continue; }
    for (let n = k.lo; n <= k.hi; n++) ports.push({ num: n, proto: k.proto });
  }
  ports.sort(comparePorts);
  const env: string[] = [];
  const url = (p: Port): string => `${p.proto}://${childIp}:${p.num}`;
  let start: Port | undefined;
  let end: Port | undefined;
  ports.forEach((p, i) => {
    if (i === 0) {
      start = end = p;
      env.push(`${alias}_PORT=${url(p)}`);
    }
    const prefix = `${alias}_PORT_${p.num}_${p.proto.toUpperCase()}`;
    env.push(`${prefix}=${url(p)}`, `${prefix}_ADDR=${childIp}`, `${prefix}_PORT=${p.num}`, `${prefix}_PROTO=${p.proto}`);
    if (end && p.num === end.num + 1 && p.proto === end.proto) {
      end = p;
      if (i < ports.length - 1) return;
    }
    if (start && end && (start.num !== end.num || start.proto !== end.proto)) {
      const rp = `${alias}_PORT_${start.num}_${start.proto.toUpperCase()}`;
      env.push(`${rp}_START=${url(start)}`, `${rp}_PORT_START=${start.num}`, `${rp}_END=${url(end)}`, `${rp}_PORT_END=${end.num}`);
    }
    start = end = p;
  });
  env.push(`${alias}_NAME=${linkName}`);
  for (const v of childEnv) {
    const i = v.indexOf('=');
    if (i < 0) continue;
    const name = v.slice(0, i);
    if (name === 'HOME' || name === 'PATH') continue;
    env.push(`${alias}_ENV_${name}=${v.slice(i + 1)}`);
  }
  return env;
}
