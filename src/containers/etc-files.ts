// /etc/hosts, /etc/hostname and /etc/resolv.conf as Docker writes them.
import * as fs from 'node:fs';

export function hostsFile(hostname: string, ip: string | undefined, extraHosts: string[]): string {
  let s = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
  for (const h of extraHosts) {
    const i = h.indexOf(':');
    if (i > 0) s += `${h.slice(i + 1)}\t${h.slice(0, i)}\n`;
  }
  if (ip) s += `${ip}\t${hostname}\n`;
  return s;
}

/** Docker's resolv.conf: the host's, minus loopback nameservers unless on the host network; user overrides. */
export function resolvConf(hostNetwork: boolean, dns: string[], search: string[], options: string[]): string {
  let host = '';
  try {
    host = fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch { /* no host resolv.conf */ }
  const lines = host.split('\n');
  let ns = lines.filter((l) => /^\s*nameserver\s/.test(l)).map((l) => l.trim().split(/\s+/)[1] ?? '');
  let srch = lines.filter((l) => /^\s*(search|domain)\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  let opts = lines.filter((l) => /^\s*options\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  if (!hostNetwork) ns = ns.filter((n) => !/^127\./.test(n) && n !== '::1');
  if (dns.length) ns = dns;
  if (search.length) srch = search.filter((s) => s !== '.');
  if (options.length) opts = options;
  if (!ns.length && !hostNetwork) ns = ['8.8.8.8', '8.8.4.4'];
  let out = '';
  if (srch.length) out += `search ${srch.join(' ')}\n`;
  for (const n of ns) out += `nameserver ${n}\n`;
  if (opts.length) out += `options ${opts.join(' ')}\n`;
  return out;
}
