// Test peers for the registry tests: Debian's docker-registry (the CNCF
// distribution registry 2.8) and a small faulty HTTP proxy in front of it,
// both started inside a test daemon's network namespace (berthd must reach
// them on its own loopback), plus helpers to build OCI layouts, layer tars and
// a test CA with openssl.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { sleep, type Daemon } from '../harness';
import { nsenterArgv } from '../harness/namespace';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const SKOPEO_BIN = '/usr/bin/skopeo';

/** user / password for the htpasswd registry (bcrypt hash, cost 5, made once with crypt(3)). */
export const TEST_USER = 'berth';
export const TEST_PASSWORD = 'berth-secret';
const TEST_HTPASSWD = 'berth:$2b$05$abcdefghijklmnopqrstuuQPVgqXQo3In1d.pGBJ2OKtetD/tv.nq\n';

export function haveRegistry(): boolean {
  return fs.existsSync(REGISTRY_BIN);
}

export function haveSkopeo(): boolean {
  return fs.existsSync(SKOPEO_BIN);
}

/** Runs a command inside the daemon's namespaces, with a timeout; returns code and output. */
export function nsExec(d: Daemon, cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): { code: number; stdout: string; stderr: string } {
  const argv = [...nsenterArgv(d.sandbox), cmd, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, input: opts.input, env: { ...process.env, PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin` } });
  return { code: r.status ?? 128, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** A background process inside the daemon's namespaces. */
function nsSpawn(d: Daemon, cmd: string, args: string[], logFile: string): ChildProcess {
  const argv = [...nsenterArgv(d.sandbox), cmd, ...args];
  const out = fs.openSync(logFile, 'a');
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', out, out], env: { ...process.env } });
  fs.closeSync(out);
  return child;
}

async function waitHttp(d: Daemon, url: string, extra: string[] = []): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = nsExec(d, 'curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', ...extra, url], { timeoutMs: 5000 });
    if (r.code === 0 && /^[1-5]\d\d$/.test(r.stdout.trim()) && r.stdout.trim() !== '000') return;
    await sleep(50);
  }
  throw new Error(`${url} did not answer`);
}

export interface RegistryPeer {
  /** host:port as image references use it */
  host: string;
  port: number;
  storage: string;
  logFile: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Listen address (default 127.0.0.1). */
  ip?: string;
  port?: number;
  /** Blob storage dir (default a fresh one in the sandbox); pass another registry's to share its content. */
  storage?: string;
  htpasswd?: boolean;
  tls?: { cert: string; key: string };
}

let portSeq = 0;
/** Ports inside a fresh network namespace are all free; a sequence keeps several peers apart. */
export function nextPort(): number {
  return 15000 + (process.pid % 1000) * 10 + (portSeq++ % 10);
}

export async function startRegistry(d: Daemon, o: RegistryOptions = {}): Promise<RegistryPeer> {
  const ip = o.ip ?? '127.0.0.1';
  const port = o.port ?? nextPort();
  const dir = fs.mkdtempSync(path.join(d.dir, 'reg-'));
  const storage = o.storage ?? path.join(dir, 'storage');
  fs.mkdirSync(storage, { recursive: true });
  let yaml = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: ${ip}:${port}
  secret: berth-test-secret
`;
  if (o.tls) yaml += `  tls:\n    certificate: ${o.tls.cert}\n    key: ${o.tls.key}\n`;
  if (o.htpasswd) {
    fs.writeFileSync(path.join(dir, 'htpasswd'), TEST_HTPASSWD);
    yaml += `auth:\n  htpasswd:\n    realm: basic-realm\n    path: ${path.join(dir, 'htpasswd')}\n`;
  }
  fs.writeFileSync(path.join(dir, 'config.yml'), yaml);
  const logFile = path.join(dir, 'registry.log');
  const child = nsSpawn(d, REGISTRY_BIN, ['serve', path.join(dir, 'config.yml')], logFile);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitHttp(d, `${o.tls ? 'https' : 'http'}://${ip}:${port}/v2/`);
  return {
    host: `${ip}:${port}`,
    port,
    storage,
    logFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

export type ProxyMode = 'pass' | 'flip' | 'cut' | 'slow' | 'schema1';

export interface FaultyProxy {
  host: string;
  port: number;
  /** Lines "METHOD URL RANGE" of the requests seen. */
  requests(): string[];
  stop(): Promise<void>;
}

const PROXY_JS = `
const http = require('http');
const fs = require('fs');
const [listen, upstream, mode, target, logFile, rate] = process.argv.slice(2);
const [uhost, uport] = upstream.split(':');
let cuts = 0;
http.createServer((req, res) => {
  fs.appendFileSync(logFile, req.method + ' ' + req.url + ' ' + (req.headers.range || '-') + '\\n');
  const isTarget = req.method === 'GET' && req.url.includes('/blobs/') && (target === '*' || req.url.includes(target));
  if (mode === 'schema1' && req.url.includes('/manifests/')) {
    // A signed schema1 manifest, as old registries serve for images pushed before 2016.
    const body = JSON.stringify({ schemaVersion: 1, name: 'faults/app', tag: '1', architecture: 'amd64', fsLayers: [{ blobSum: 'sha256:' + 'a'.repeat(64) }],
      history: [{ v1Compatibility: '{"id":"' + 'b'.repeat(64) + '","created":"2016-01-01T00:00:00Z","container_config":{"Cmd":["sh"]}}' }], signatures: [] }, null, 3);
    res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'Content-Length': Buffer.byteLength(body), 'Docker-Content-Digest': 'sha256:' + require('crypto').createHash('sha256').update(body).digest('hex') });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const preq = http.request({ host: uhost, port: Number(uport), method: req.method, path: req.url, headers: req.headers }, (pres) => {
    if (!isTarget || mode === 'pass' || pres.statusCode >= 300) { res.writeHead(pres.statusCode, pres.headers); pres.pipe(res); return; }
    if (mode === 'flip') {
      const chunks = [];
      pres.on('data', (c) => chunks.push(c));
      pres.on('end', () => {
        const b = Buffer.concat(chunks);
        if (b.length) b[Math.floor(b.length / 2)] ^= 0x20;
        res.writeHead(pres.statusCode, pres.headers);
        res.end(b);
      });
      return;
    }
    if (mode === 'cut' && cuts === 0 && !req.headers.range) {
      cuts++;
      const total = Number(pres.headers['content-length'] || 0);
      let sent = 0;
      res.writeHead(pres.statusCode, pres.headers);
      pres.on('data', (c) => {
        if (sent >= total / 2) return;
        const take = c.subarray(0, Math.max(0, Math.min(c.length, Math.ceil(total / 2) - sent)));
        sent += take.length;
        res.write(take);
        if (sent >= total / 2) setTimeout(() => { res.socket.destroy(); pres.destroy(); }, 50);
      });
      return;
    }
    if (mode === 'slow') {
      res.writeHead(pres.statusCode, pres.headers);
      const per = Number(rate || 262144);
      pres.on('data', (c) => {
        pres.pause();
        res.write(c);
        setTimeout(() => pres.resume(), Math.ceil((c.length / per) * 1000));
      });
      pres.on('end', () => res.end());
      return;
    }
    res.writeHead(pres.statusCode, pres.headers);
    pres.pipe(res);
  });
  preq.on('error', () => res.destroy());
  req.pipe(preq);
}).listen(Number(listen), '127.0.0.1', () => fs.appendFileSync(logFile, 'READY\\n'));
`;

/** An HTTP proxy in the namespace: flips a byte of, cuts (once, halfway), or slows blob downloads matching target ('*' = all); or answers every manifest request with a schema1 manifest. */
export async function startProxy(d: Daemon, upstream: RegistryPeer, mode: ProxyMode, target = '*', rate?: number): Promise<FaultyProxy> {
  const port = nextPort();
  const dir = fs.mkdtempSync(path.join(d.dir, 'proxy-'));
  const script = path.join(dir, 'proxy.js');
  const logFile = path.join(dir, 'requests.log');
  fs.writeFileSync(script, PROXY_JS);
  fs.writeFileSync(logFile, '');
  const child = nsSpawn(d, process.execPath, [script, String(port), upstream.host, mode, target, logFile, String(rate ?? 262144)], path.join(dir, 'proxy.out'));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  for (let i = 0; i < 200 && !fs.readFileSync(logFile, 'utf8').includes('READY'); i++) await sleep(25);
  return {
    host: `127.0.0.1:${port}`,
    port,
    requests: () => fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l && l !== 'READY'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

// ---------- image building blocks ----------

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function tarHeader(name: string, size: number, type: '0' | '5', mode: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(mode.toString(8).padStart(7, '0') + '\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(type, 156, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

/** A layer tar of files {path: content} (directories implied by the paths are created first). */
export function makeLayerTar(files: Record<string, Buffer | string>): Buffer {
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  for (const p of Object.keys(files)) {
    const segs = p.split('/');
    for (let i = 1; i < segs.length; i++) dirs.add(segs.slice(0, i).join('/'));
  }
  for (const dname of [...dirs].sort()) parts.push(tarHeader(`${dname}/`, 0, '5', 0o755));
  for (const [p, c] of Object.entries(files)) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c);
    parts.push(tarHeader(p, b.length, '0', 0o644), b, Buffer.alloc((512 - (b.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface BuiltImage {
  configDigest: string;
  manifestDigest: string;
  manifest: Buffer;
  config: Buffer;
  layers: Array<{ digest: string; diffId: string; size: number; data: Buffer }>;
}

/** Writes an image (gzip layers, OCI manifest) into an OCI layout's blobs dir. */
export function writeOciImage(layoutDir: string, arch: string, layerTars: Buffer[], extraConfig: Record<string, unknown> = {}): BuiltImage {
  const blobs = path.join(layoutDir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): string => {
    const d = sha256(b);
    fs.writeFileSync(path.join(blobs, d.slice(7)), b);
    return d;
  };
  const layers = layerTars.map((t) => {
    const gz = gzipSync(t, { level: 1 });
    return { digest: put(gz), diffId: sha256(t), size: gz.length, data: gz };
  });
  const config = Buffer.from(JSON.stringify({
    architecture: arch, os: 'linux', created: '2024-01-01T00:00:00Z',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'berth test' })),
    ...extraConfig,
  }));
  const configDigest = put(config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  }));
  const manifestDigest = put(manifest);
  return { configDigest, manifestDigest, manifest, config, layers };
}

/** An OCI layout whose index.json names one image or a multi-platform index under tag. */
export function writeOciLayout(layoutDir: string, tag: string, images: Array<{ img: BuiltImage; arch: string }>): { indexDigest?: string } {
  fs.mkdirSync(layoutDir, { recursive: true });
  fs.writeFileSync(path.join(layoutDir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const ann = { 'org.opencontainers.image.ref.name': tag };
  if (images.length === 1) {
    const { img } = images[0]!;
    fs.writeFileSync(path.join(layoutDir, 'index.json'), JSON.stringify({
      schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: img.manifestDigest, size: img.manifest.length, annotations: ann }],
    }));
    return {};
  }
  const idx = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: images.map(({ img, arch }) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: img.manifestDigest, size: img.manifest.length, platform: { os: 'linux', architecture: arch } })),
  }));
  const indexDigest = sha256(idx);
  fs.writeFileSync(path.join(layoutDir, 'blobs', 'sha256', indexDigest.slice(7)), idx);
  fs.writeFileSync(path.join(layoutDir, 'index.json'), JSON.stringify({
    schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: idx.length, annotations: ann }],
  }));
  return { indexDigest };
}

/** skopeo copy (all platforms) inside the namespace. */
export function skopeoCopy(d: Daemon, src: string, dst: string, extra: string[] = []): void {
  const r = nsExec(d, SKOPEO_BIN, ['--insecure-policy', 'copy', '--all', '--dest-tls-verify=false', '--src-tls-verify=false', ...extra, src, dst], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`skopeo copy ${src} ${dst} failed: ${r.stderr}`);
}

/** Random (incompressible) bytes. */
export function randomData(n: number): Buffer {
  return randomBytes(n);
}

/** A CA and a server certificate for the given IPs, made with openssl. */
export function makeCerts(dir: string, ips: string[]): { ca: string; cert: string; key: string } {
  fs.mkdirSync(dir, { recursive: true });
  const run = (args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=berth test CA']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=berth test registry']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), `subjectAltName=${ips.map((i) => `IP:${i}`).join(',')}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf']);
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
}

/** Parses a JSON-lines progress stream. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
}
