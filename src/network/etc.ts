// The container's /etc/hosts and /etc/resolv.conf as Docker writes them once
// the container has its addresses. The files are bind-mounted into the
// container, so they are rewritten in place (same inode), never replaced.
import * as fs from 'node:fs';

export function hostsContent(o: { hostname: string; domainname: string; ips: string[]; extraHosts: string[]; links?: Array<{ ip: string; names: string }>; hostGateway?: string }): string {
  let s = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
  for (const h of o.extraHosts) {
    const i = h.indexOf(':');
    if (i <= 0) continue;
    let ip = h.slice(i + 1);
    if (ip === 'host-gateway') {
      if (!o.hostGateway) continue;
      ip = o.hostGateway;
    }
    s += `${ip}\t${h.slice(0, i)}\n`;
  }
  // legacy links come after --add-host entries and before the container's own, as in Docker
  for (const l of o.links ?? []) s += `${l.ip}\t${l.names}\n`;
  const names = o.domainname ? `${o.hostname}.${o.domainname} ${o.hostname}` : o.hostname;
  for (const ip of o.ips) s += `${ip}\t${names}\n`;
  return s;
}

export interface ResolvParts { nameservers: string[]; search: string[]; options: string[] }

export function parseResolvConf(text: string): ResolvParts {
  const out: ResolvParts = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#') || l.startsWith(';')) continue;
    const f = l.split(/\s+/);
    if (f[0] === 'nameserver' && f[1]) out.nameservers.push(f[1]);
    else if (f[0] === 'search' || f[0] === 'domain') out.search = f.slice(1);
    else if (f[0] === 'options') out.options.push(...f.slice(1));
  }
  return out;
}

export function resolvContent(p: ResolvParts): string {
  let s = '';
  if (p.search.length) s += `search ${p.search.join(' ')}\n`;
  for (const n of p.nameservers) s += `nameserver ${n}\n`;
  if (p.options.length) s += `options ${p.options.join(' ')}\n`;
  return s;
}

/** The host's resolvers (all of them: berthd relays from the host's namespace, loopback ones included). */
export function hostResolvers(): string[] {
  try {
    return parseResolvConf(fs.readFileSync('/etc/resolv.conf', 'utf8')).nameservers.filter((n) => !n.includes(':'));
  } catch {
    return [];
  }
}

/** resolv.conf of a container on a user-defined network: the embedded server, ndots:0 unless the user set ndots. */
export function embeddedResolv(current: ResolvParts, userOptions: string[]): string {
  const options = userOptions.length ? [...userOptions] : current.options.filter((o) => !o.startsWith('ndots:'));
  if (!options.some((o) => o.startsWith('ndots:'))) options.unshift('ndots:0');
  return resolvContent({ nameservers: ['127.0.0.11'], search: current.search, options });
}

export function writeInPlace(file: string, content: string): void {
  fs.writeFileSync(file, content);
}
