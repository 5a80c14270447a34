// The CA certificates berthd trusts for its own TLS connections (registries,
// ADD <url>, remote build contexts): node's bundled Mozilla roots plus the
// system's bundle, which is what Docker (Go's crypto/x509) trusts, so a CA an
// administrator installed with update-ca-certificates works here too; plus
// the file NODE_EXTRA_CA_CERTS named when berthd was started (bin/berthd
// passes it on as BERTH_EXTRA_CA_CERTS: node would parse it at every start-up,
// about 35 ms, while most daemon runs make no TLS connection at all).
// Read once, on first use.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { rootCertificates } from 'node:tls';
import { log } from './log';

/** Go's list of Linux bundle locations (crypto/x509/root_linux.go), first found wins. */
const BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

const PEM_RE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

function pemCerts(file: string): string[] {
  try {
    return fs.readFileSync(file, 'latin1').match(PEM_RE) ?? [];
  } catch {
    return [];
  }
}

let roots: string[] | undefined;

/** Every trusted root as PEM (pass as `ca`, which replaces node's default store). */
export function trustedRoots(): string[] {
  if (roots) return roots;
  const set = new Set<string>(rootCertificates);
  const file = process.env['SSL_CERT_FILE'] || BUNDLES.find((f) => fs.existsSync(f));
  if (file) for (const c of pemCerts(file)) set.add(c);
  for (const dir of (process.env['SSL_CERT_DIR'] ?? '').split(':').filter(Boolean)) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) for (const c of pemCerts(path.join(dir, n))) set.add(c);
  }
  const extra = process.env['BERTH_EXTRA_CA_CERTS'] || process.env['NODE_EXTRA_CA_CERTS'];
  if (extra) {
    const certs = pemCerts(extra);
    if (!certs.length) log.warn('no certificates read from the extra CA file', { file: extra });
    for (const c of certs) set.add(c);
  }
  roots = [...set];
  return roots;
}
