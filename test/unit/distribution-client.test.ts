// The registry client against an in-process fake registry (OCI distribution
// API subset): bearer tokens per scope (cached, upgraded on insufficient
// scope), basic auth, https → http fallback for loopback, resumable blob
// reads, monolithic / chunked / streamed uploads, cross-repository mounts,
// login; and the Pusher end to end over a fake image store.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { AuthError, decodeRegistryAuth, parseChallenges } from '../../src/distribution/auth';
import { RegistryClient } from '../../src/distribution/client';
import { cidrContains, DEFAULT_REGISTRY_CONFIG, loadRegistryConfig, RegistryHosts, type RegistryConfig } from '../../src/distribution/config';
import { registryErrorText } from '../../src/distribution/errors';
import { resumableBlob } from '../../src/distribution/fetch';
import { ProgressOutput, type JSONMessage } from '../../src/distribution/progress';
import { Pusher } from '../../src/distribution/push';
import { DistributionMeta } from '../../src/images/distribution-meta';
import type { ImageRecord, ImageService } from '../../src/images';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface FakeOptions {
  auth: 'none' | 'bearer' | 'basic';
  user?: string;
  password?: string;
}

class FakeRegistry {
  server!: http.Server;
  port = 0;
  blobs = new Map<string, Map<string, Buffer>>(); // repo → digest → bytes
  manifests = new Map<string, { bytes: Buffer; type: string }>(); // repo:ref
  uploads = new Map<string, Buffer>();
  tokenRequests: string[] = [];
  log: string[] = [];
  cutNext = 0; // bytes after which the next blob GET is cut
  ignoreRange = false;
  failBlobGets = 0; // answer this many blob GETs with 503
  private seq = 0;

  constructor(readonly o: FakeOptions) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    return new Promise((r) => {
      this.server.closeAllConnections();
      this.server.close(() => r());
    });
  }

  put(repo: string, data: Buffer): string {
    const d = sha(data);
    if (!this.blobs.has(repo)) this.blobs.set(repo, new Map());
    this.blobs.get(repo)!.set(d, data);
    return d;
  }

  private challenge(scope?: string): string {
    if (this.o.auth === 'basic') return 'Basic realm="fake"';
    return `Bearer realm="http://${this.host}/token",service="fake"${scope ? `,scope="${scope}",error="insufficient_scope"` : ''}`;
  }

  private authorized(req: http.IncomingMessage, repo: string | undefined, action: string): boolean {
    const h = req.headers.authorization ?? '';
    if (this.o.auth === 'none') return true;
    if (this.o.auth === 'basic') return h === `Basic ${Buffer.from(`${this.o.user}:${this.o.password}`).toString('base64')}`;
    if (!h.startsWith('Bearer tok:')) return false;
    if (!repo) return true;
    const scopes = h.slice('Bearer tok:'.length).split(' ');
    return scopes.some((s) => s.startsWith(`repository:${repo}:`) && s.split(':')[2]!.split(',').includes(action));
  }

  private async body(req: http.IncomingMessage): Promise<Buffer> {
    const c: Buffer[] = [];
    for await (const x of req) c.push(x as Buffer);
    return Buffer.concat(c);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', `http://${this.host}`);
    this.log.push(`${req.method} ${u.pathname}${u.search} ${req.headers.range ?? ''}`.trim());
    const deny = (scope?: string): void => {
      res.writeHead(401, { 'WWW-Authenticate': this.challenge(scope), 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    };
    if (u.pathname === '/token') {
      this.tokenRequests.push(u.searchParams.getAll('scope').join(' '));
      if (this.o.user) {
        const want = `Basic ${Buffer.from(`${this.o.user}:${this.o.password}`).toString('base64')}`;
        if (req.headers.authorization !== want) {
          res.writeHead(401, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ details: 'incorrect username or password' }));
          return;
        }
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ token: `tok:${u.searchParams.getAll('scope').join(' ')}`, expires_in: 300, refresh_token: u.searchParams.get('offline_token') ? 'refresh-1' : undefined }));
      return;
    }
    if (u.pathname === '/v2/') {
      if (!this.authorized(req, undefined, 'pull')) return deny();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
      return;
    }
    const m = /^\/v2\/(.+?)\/(manifests|blobs)\/(.*)$/.exec(u.pathname);
    if (!m) {
      res.writeHead(404);
      res.end();
      return;
    }
    const [, repo, kind, rest] = m as unknown as [string, string, string, string];
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if (!this.authorized(req, repo, write ? 'push' : 'pull')) return deny(write ? `repository:${repo}:pull,push` : `repository:${repo}:pull`);
    const notFound = (code: string): void => {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code, message: code.toLowerCase().replace(/_/g, ' ') }] }));
    };
    if (kind === 'manifests') {
      if (req.method === 'PUT') {
        const b = await this.body(req);
        this.manifests.set(`${repo}:${rest}`, { bytes: b, type: String(req.headers['content-type']) });
        this.manifests.set(`${repo}:${sha(b)}`, { bytes: b, type: String(req.headers['content-type']) });
        res.writeHead(201, { 'Docker-Content-Digest': sha(b) });
        res.end();
        return;
      }
      const man = this.manifests.get(`${repo}:${rest}`);
      if (!man) return notFound('MANIFEST_UNKNOWN');
      res.writeHead(200, { 'Content-Type': man.type, 'Content-Length': man.bytes.length, 'Docker-Content-Digest': sha(man.bytes) });
      res.end(req.method === 'HEAD' ? undefined : man.bytes);
      return;
    }
    // blobs
    if (rest.startsWith('uploads/')) {
      const id = rest.slice('uploads/'.length);
      if (req.method === 'POST') {
        const mount = u.searchParams.get('mount');
        const from = u.searchParams.get('from');
        const src = from ? this.blobs.get(from)?.get(mount ?? '') : undefined;
        if (mount && src) {
          this.put(repo, src);
          res.writeHead(201, { Location: `/v2/${repo}/blobs/${mount}` });
          res.end();
          return;
        }
        const uid = `u${++this.seq}`;
        this.uploads.set(uid, Buffer.alloc(0));
        res.writeHead(202, { Location: `/v2/${repo}/blobs/uploads/${uid}?_state=x`, Range: '0-0' });
        res.end();
        return;
      }
      const have = this.uploads.get(id);
      if (!have) return notFound('BLOB_UPLOAD_UNKNOWN');
      const b = await this.body(req);
      if (req.method === 'PATCH') {
        const cr = req.headers['content-range'];
        if (cr && Number(String(cr).split('-')[0]) !== have.length) {
          res.writeHead(416);
          res.end();
          return;
        }
        const next = Buffer.concat([have, b]);
        this.uploads.set(id, next);
        res.writeHead(202, { Location: `/v2/${repo}/blobs/uploads/${id}?_state=y`, Range: `0-${next.length - 1}` });
        res.end();
        return;
      }
      if (req.method === 'PUT') {
        const all = Buffer.concat([have, b]);
        const digest = u.searchParams.get('digest');
        if (digest !== sha(all)) {
          res.writeHead(400, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }] }));
          return;
        }
        this.put(repo, all);
        this.uploads.delete(id);
        res.writeHead(201, { Location: `/v2/${repo}/blobs/${digest}` });
        res.end();
        return;
      }
    }
    const data = this.blobs.get(repo)?.get(rest);
    if (!data) return notFound('BLOB_UNKNOWN');
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Length': data.length });
      res.end();
      return;
    }
    if (this.failBlobGets > 0) {
      this.failBlobGets--;
      res.writeHead(503);
      res.end();
      return;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (range && !this.ignoreRange) start = Number(range[1]);
    const part = data.subarray(start);
    res.writeHead(start ? 206 : 200, { 'Content-Length': part.length, ...(start ? { 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}) });
    if (this.cutNext > 0) {
      const n = this.cutNext;
      this.cutNext = 0;
      res.write(part.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 10));
      return;
    }
    res.end(part);
  }
}

const cfg = (over: Partial<RegistryConfig> = {}): RegistryConfig => ({ ...DEFAULT_REGISTRY_CONFIG, certsDir: '/nonexistent', ...over });

test('WWW-Authenticate parsing, X-Registry-Auth decoding, error texts, CIDRs', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  assert.deepEqual(parseChallenges(['Basic realm="x, y"', 'Bearer realm=r']), [{ scheme: 'basic', params: { realm: 'x, y' } }, { scheme: 'bearer', params: { realm: 'r' } }]);
  assert.deepEqual(decodeRegistryAuth('e30='), {});
  assert.deepEqual(decodeRegistryAuth(undefined), {});
  assert.deepEqual(decodeRegistryAuth('!!!'), {});
  const enc = Buffer.from(JSON.stringify({ username: 'u', password: 'p>?', serveraddress: 'r' })).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  assert.deepEqual(decodeRegistryAuth(enc), { username: 'u', password: 'p>?', serveraddress: 'r' });
  assert.deepEqual(decodeRegistryAuth(Buffer.from(JSON.stringify({ auth: Buffer.from('a:b:c').toString('base64') })).toString('base64')), { auth: Buffer.from('a:b:c').toString('base64'), username: 'a', password: 'b:c' });
  assert.equal(registryErrorText(404, Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')), 'manifest unknown: manifest unknown');
  assert.equal(registryErrorText(403, Buffer.from('{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}')), 'denied: requested access to the resource is denied');
  assert.equal(registryErrorText(500, Buffer.from('oops')), 'received unexpected HTTP status: 500 Internal Server Error');
  assert.ok(cidrContains('127.0.0.0/8', '127.1.2.3'));
  assert.ok(!cidrContains('127.0.0.0/8', '10.0.0.1'));
  assert.ok(cidrContains('10.0.0.0/8', '::ffff:10.1.1.1'));
  assert.ok(cidrContains('fd00::/8', 'fd12::1'));
  assert.ok(!cidrContains('fd00::/8', 'fe80::1'));
});

test('registry settings come from the daemon config file; certs.d sits beside it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-regcfg-'));
  try {
    const f = path.join(dir, 'daemon.json');
    fs.writeFileSync(f, JSON.stringify({ 'insecure-registries': ['myreg:5000', '10.0.0.0/8'], 'registry-mirrors': ['https://mirror.example/'], 'max-concurrent-downloads': 7 }));
    const c = loadRegistryConfig(f);
    assert.deepEqual(c.insecureRegistries, ['myreg:5000', '10.0.0.0/8']);
    assert.deepEqual(c.mirrors, ['https://mirror.example']);
    assert.equal(c.maxConcurrentDownloads, 7);
    assert.equal(c.maxConcurrentUploads, 5);
    assert.equal(c.certsDir, path.join(dir, 'certs.d'));
    assert.equal(loadRegistryConfig(path.join(dir, 'missing.json')).maxConcurrentDownloads, 3);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('endpoints: loopback and listed registries are insecure (HTTPS unverified, then HTTP); Docker Hub goes through mirrors', async () => {
  const h = new RegistryHosts(cfg({ insecureRegistries: ['myreg.example:5000', '10.9.0.0/16'], mirrors: ['https://mirror.example'] }));
  assert.equal(await h.isInsecure('127.0.0.1:5000'), true);
  assert.equal(await h.isInsecure('localhost:5000'), true);
  assert.equal(await h.isInsecure('myreg.example:5000'), true);
  assert.equal(await h.isInsecure('10.9.1.1:443'), true);
  assert.equal(await h.isInsecure('10.8.1.1:443'), false);
  const lo = await h.endpoints('127.0.0.1:5000');
  assert.deepEqual(lo.map((e) => [e.url, e.tls.rejectUnauthorized]), [['https://127.0.0.1:5000', false], ['http://127.0.0.1:5000', false]]);
  const sec = await h.endpoints('10.8.1.1:443');
  assert.deepEqual(sec.map((e) => [e.url, e.tls.rejectUnauthorized]), [['https://10.8.1.1:443', true]]);
  const hub = await h.endpoints('docker.io');
  assert.deepEqual(hub.map((e) => [e.url, e.mirror]), [['https://mirror.example', true], ['https://registry-1.docker.io', false]]);
});

test('per-registry CA and client certificates from certs.d', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-certs-'));
  try {
    const d = path.join(dir, 'reg.example:5000');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'ca.crt'), 'CA');
    fs.writeFileSync(path.join(d, 'client.cert'), 'CERT');
    fs.writeFileSync(path.join(d, 'client.key'), 'KEY');
    const t = new RegistryHosts(cfg({ certsDir: dir })).tlsFor('reg.example:5000', false);
    assert.deepEqual(t.ca?.map(String), ['CA']);
    assert.equal(String(t.cert), 'CERT');
    assert.equal(String(t.key), 'KEY');
    assert.equal(t.rejectUnauthorized, true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const bearer = new FakeRegistry({ auth: 'bearer', user: 'u', password: 'pw' });
before(async () => bearer.start());
after(async () => bearer.stop());

test('bearer tokens: fetched with the credentials, cached per scope, upgraded when a push needs more', async () => {
  const man = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: sha(Buffer.from('c')), size: 1 }, layers: [] }));
  bearer.manifests.set('app:1', { bytes: man, type: 'application/vnd.oci.image.manifest.v1+json' });
  const client = new RegistryClient(cfg());
  const repo = await client.repository(bearer.host, 'app', { username: 'u', password: 'pw' }, ['pull']);
  assert.equal(repo.endpoint.url, `http://${bearer.host}`, 'https failed, plain http answered (loopback is insecure)');
  bearer.tokenRequests.length = 0;
  const m1 = await repo.getManifest('1');
  assert.equal(m1.digest, sha(man));
  await repo.getManifest('1');
  assert.deepEqual(bearer.tokenRequests, ['repository:app:pull'], 'one token for both requests');
  // A push-scoped request on a pull-scoped repository: 401 insufficient_scope → new token with the challenge's scope.
  const up = await repo.startUpload();
  assert.equal(up.mounted, false);
  assert.ok(bearer.tokenRequests.some((s) => s.includes('repository:app:pull,push')), bearer.tokenRequests.join(' | '));
  // Wrong password: the token endpoint refuses.
  const bad = await client.repository(bearer.host, 'app', { username: 'u', password: 'nope' }, ['pull']);
  await assert.rejects(bad.getManifest('1'), (e: unknown) => e instanceof AuthError && /incorrect username or password/.test(e.message));
  // Login: an offline token, so the refresh token comes back as the identity token.
  assert.deepEqual(await client.login(bearer.host, { username: 'u', password: 'pw' }), { identityToken: 'refresh-1' });
  await assert.rejects(client.login(bearer.host, { username: 'u', password: 'x' }), (e: unknown) => (e as { kind?: string }).kind === 'unauthorized');
});

test('basic auth: no credentials fails before sending (Docker\'s message); credentials on every request', async () => {
  const reg = new FakeRegistry({ auth: 'basic', user: 'u', password: 'pw' });
  await reg.start();
  try {
    const client = new RegistryClient(cfg());
    const anon = await client.repository(reg.host, 'x', {}, ['pull']);
    await assert.rejects(anon.getManifest('1'), (e: unknown) => e instanceof AuthError && e.message === `Get "http://${reg.host}/v2/x/manifests/1": no basic auth credentials`);
    const ok = await client.repository(reg.host, 'x', { username: 'u', password: 'pw' }, ['pull']);
    await assert.rejects(ok.getManifest('1'), /manifest unknown/);
    assert.deepEqual(await client.login(reg.host, { username: 'u', password: 'pw' }), { identityToken: '' });
    await assert.rejects(client.login(reg.host, { username: 'u', password: 'bad' }), new RegExp(`login attempt to http://${reg.host}/v2/ failed with status: 401 Unauthorized`));
  } finally {
    await reg.stop();
  }
});

test('blob reads resume with Range after a cut, cope with servers that ignore Range, and give up after max attempts', async () => {
  const reg = new FakeRegistry({ auth: 'none' });
  await reg.start();
  try {
    const data = Buffer.alloc(3 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
    const digest = reg.put('r', data);
    const repo = await new RegistryClient(cfg()).repository(reg.host, 'r', {}, ['pull']);
    const read = async (o: { maxAttempts?: number } = {}): Promise<Buffer> => {
      const chunks: Buffer[] = [];
      for await (const c of resumableBlob(repo, { digest, size: data.length }, { maxAttempts: o.maxAttempts ?? 5, signal: new AbortController().signal, secondMs: 1 })) chunks.push(c);
      return Buffer.concat(chunks);
    };
    reg.cutNext = 1 << 20;
    reg.log.length = 0;
    assert.ok((await read()).equals(data), 'bytes after a resume');
    assert.ok(reg.log.some((l) => /bytes=\d+-$/.test(l)), reg.log.join('\n'));
    reg.cutNext = 1 << 20;
    reg.ignoreRange = true;
    assert.ok((await read()).equals(data), 'bytes when Range is ignored');
    reg.ignoreRange = false;
    reg.failBlobGets = 2;
    assert.ok((await read()).equals(data), '503s are retried');
    reg.failBlobGets = 10;
    await assert.rejects(read({ maxAttempts: 3 }), /503 Service Unavailable/);
    reg.failBlobGets = 0;
  } finally {
    await reg.stop();
  }
});

/** A minimal image store for the Pusher: one image whose layer tar is given. */
function fakeImages(layerTar: Buffer, config: Buffer): ImageService & { digestRefs: string[] } {
  const id = sha(config);
  const diffId = sha(layerTar);
  const rec: ImageRecord = {
    id, config: {} as ImageRecord['config'], chainIds: [diffId], diffIds: [diffId], layers: [{ diffId, chainId: diffId }],
    repoTags: [], repoDigests: [], created: '', size: layerTar.length, parent: '',
  };
  const digestRefs: string[] = [];
  const f = {
    digestRefs,
    all: () => [rec],
    tryGet: () => rec,
    get: () => rec,
    configBytes: () => config,
    layerTar: () => Readable.from([layerTar]),
    addDigestRef: (_: string, r: string) => void digestRefs.push(r),
    logEvent: () => undefined,
    content: { has: () => false, size: () => 0, createReadStream: () => { throw new Error('none'); } },
    snapshots: { hasLayer: () => true, layerInfo: () => ({ size: layerTar.length }) },
  };
  return f as unknown as ImageService & { digestRefs: string[] };
}

test('push: compressed on the fly (streamed PATCH), chunked uploads, "Layer already exists", cross-repository mount', async () => {
  const reg = new FakeRegistry({ auth: 'none' });
  await reg.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-push-'));
  try {
    const layer = Buffer.concat([randomBytes(200_000), Buffer.alloc(100_000, 7)]); // gzip leaves ~200 kB: several 64 kB chunks
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
    const images = fakeImages(layer, config);
    const meta = new DistributionMeta(dir);
    const msgs: JSONMessage[] = [];
    const out = new ProgressOutput((m) => msgs.push(m), 0);
    const push = (c: RegistryConfig, name: string): Promise<void> => new Pusher({ images, meta, client: new RegistryClient(c), cfg: c }).push({ name, tag: '1', auth: {}, out });

    await push(cfg(), `${reg.host}/a/app`);
    const pushed = msgs.find((m) => m.status === 'Pushed');
    assert.ok(pushed, JSON.stringify(msgs));
    const dl = msgs.find((m) => /^1: digest: sha256:[0-9a-f]{64} size: \d+$/.test(m.status ?? ''));
    assert.ok(dl, 'digest line');
    assert.deepEqual(msgs[0], { status: `The push refers to repository [${reg.host}/a/app]` });
    assert.ok(msgs.some((m) => m.aux !== undefined && (m.aux as { Tag: string }).Tag === '1'));
    assert.ok(reg.log.some((l) => l.startsWith('PATCH /v2/a/app/blobs/uploads/')), 'a streamed PATCH');
    const man = reg.manifests.get('a/app:1');
    assert.ok(man);
    const parsed = JSON.parse(man.bytes.toString()) as { mediaType: string; config: { digest: string }; layers: Array<{ digest: string; mediaType: string }> };
    assert.equal(parsed.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(parsed.config.digest, sha(config));
    const gz = reg.blobs.get('a/app')!.get(parsed.layers[0]!.digest)!;
    assert.ok(gunzipSync(gz).equals(layer), 'the pushed layer is the gzip of the layer tar');
    assert.deepEqual(images.digestRefs, [`${reg.host}/a/app@${sha(man.bytes)}`]);

    // Again: every layer exists; the same manifest digest.
    msgs.length = 0;
    await push(cfg(), `${reg.host}/a/app`);
    assert.ok(msgs.some((m) => m.status === 'Layer already exists'), JSON.stringify(msgs));
    assert.ok(!msgs.some((m) => m.status === 'Pushed'));
    assert.equal(msgs.find((m) => /digest:/.test(m.status ?? ''))?.status, dl.status);

    // Another repository of the same registry: mounted, not uploaded.
    msgs.length = 0;
    reg.log.length = 0;
    await push(cfg(), `${reg.host}/b/other`);
    assert.ok(msgs.some((m) => m.status === 'Mounted from a/app'), JSON.stringify(msgs));
    assert.ok(reg.log.some((l) => /POST \/v2\/b\/other\/blobs\/uploads\/\?mount=sha256/.test(l)));

    // Chunked uploads: PATCH with Content-Range in fixed-size pieces (a fresh registry).
    const reg2 = new FakeRegistry({ auth: 'none' });
    await reg2.start();
    try {
      const meta2 = new DistributionMeta(fs.mkdtempSync(path.join(dir, 'm2-')));
      const c2 = cfg({ uploadChunkSize: 64 * 1024 });
      await new Pusher({ images, meta: meta2, client: new RegistryClient(c2), cfg: c2 }).push({ name: `${reg2.host}/c/app`, tag: '1', auth: {}, out });
      const patches = reg2.log.filter((l) => l.startsWith('PATCH'));
      assert.ok(patches.length >= 2, `several chunks: ${reg2.log.join('\n')}`);
      assert.ok(reg2.manifests.has('c/app:1'));
    } finally {
      await reg2.stop();
    }
  } finally {
    await reg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('tags: pages follow Link, repeats are dropped, and credentials never go to another origin', async () => {
  const auth = `Basic ${Buffer.from('u:pw').toString('base64')}`;
  const seenByOther: Array<string | undefined> = [];
  const other = http.createServer((req, res) => {
    seenByOther.push(req.headers.authorization);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ name: 'x', tags: ['c', 'a'] }));
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
  const otherPort = (other.address() as AddressInfo).port;
  const reg = http.createServer((req, res) => {
    if (req.headers.authorization !== auth) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fake"', 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    const u = new URL(req.url ?? '/', 'http://x');
    res.setHeader('Content-Type', 'application/json');
    if (u.pathname === '/v2/') res.end('{}');
    else if (u.pathname === '/v2/x/tags/list' && !u.searchParams.get('last')) {
      res.setHeader('Link', '</v2/x/tags/list?n=2&last=b>; rel="next"');
      res.end(JSON.stringify({ name: 'x', tags: ['a', 'b'] }));
    } else if (u.pathname === '/v2/x/tags/list') {
      // The last page sends the client elsewhere: a hostile or misconfigured registry.
      res.setHeader('Link', `<http://127.0.0.1:${otherPort}/v2/x/tags/list?last=c>; rel="next"`);
      res.end(JSON.stringify({ name: 'x', tags: ['b', 'c'] }));
    } else {
      res.writeHead(404);
      res.end('{}');
    }
  });
  await new Promise<void>((r) => reg.listen(0, '127.0.0.1', () => r()));
  const port = (reg.address() as AddressInfo).port;
  try {
    const client = new RegistryClient(cfg());
    const repo = await client.repository(`127.0.0.1:${port}`, 'x', { username: 'u', password: 'pw' }, ['pull']);
    assert.deepEqual(await repo.tags(), ['a', 'b', 'c']);
    assert.deepEqual(seenByOther, [undefined], 'the other origin was asked without credentials');
  } finally {
    reg.closeAllConnections();
    other.closeAllConnections();
    await new Promise<void>((r) => reg.close(() => r()));
    await new Promise<void>((r) => other.close(() => r()));
  }
});
