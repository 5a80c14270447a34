// The Docker Engine API client: framing, HTTP transport over a unix socket,
// error decoding, version negotiation and hijacked connections.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, encodeFilters } from '../../src/client/client';
import { ApiError, ConnectionError } from '../../src/client/errors';
import { parseHost, resolveHost } from '../../src/client/host';
import { encodeFrame, FrameDemuxer } from '../../src/client/stdcopy';
import { ChunkedDecoder, encodeQuery, escapePath, parseHead, readAll } from '../../src/client/transport';

describe('stdcopy frame demuxer', () => {
  it('splits frames across arbitrary chunk boundaries', () => {
    const got: [number, string][] = [];
    const d = new FrameDemuxer((s, p) => got.push([s, p.toString()]));
    const all = Buffer.concat([encodeFrame(1, 'out\n'), encodeFrame(2, 'err\n'), encodeFrame(1, ''), encodeFrame(1, 'x'.repeat(70000))]);
    for (let i = 0; i < all.length; i += 7) d.push(all.subarray(i, i + 7));
    assert.deepEqual(got.slice(0, 3), [[1, 'out\n'], [2, 'err\n'], [1, '']]);
    assert.equal(got[3]![1].length, 70000);
    assert.equal(d.buffered, 0);
  });

  it('decodes the example from the contract', () => {
    const got: [number, string][] = [];
    new FrameDemuxer((s, p) => got.push([s, p.toString()])).push(Buffer.from([1, 0, 0, 0, 0, 0, 0, 4, 0x6f, 0x75, 0x74, 0x0a]));
    assert.deepEqual(got, [[1, 'out\n']]);
  });

  it('keeps partial frames and rejects unknown stream types', () => {
    const d = new FrameDemuxer(() => undefined);
    d.push(Buffer.from([1, 0, 0, 0, 0, 0, 0, 9, 0x61]));
    assert.equal(d.buffered, 9);
    assert.throws(() => new FrameDemuxer(() => undefined).push(Buffer.from([7, 0, 0, 0, 0, 0, 0, 0])), /Unrecognized input header: 7/);
  });
});

describe('transport helpers', () => {
  it('encodes queries like url.Values.Encode (sorted, escaped, booleans as 1)', () => {
    assert.equal(encodeQuery({ stream: true, stdout: true, stdin: false, name: 'a b&c', tail: 'all', n: 0, changes: ['CMD ["x"]', 'ENV A=1'] }),
      'changes=CMD+%5B%22x%22%5D&changes=ENV+A%3D1&n=0&name=a+b%26c&stdout=1&stream=1&tail=all');
    assert.equal(encodeFilters({ name: ['x'], label: ['b=2', 'a=1'] }), '{"label":{"a=1":true,"b=2":true},"name":{"x":true}}');
    assert.equal(encodeFilters({ label: [] }), undefined);
    assert.equal(escapePath('/images/127.0.0.1:5000/ns/app:1/json'), '/images/127.0.0.1:5000/ns/app:1/json');
    assert.equal(escapePath('/containers/a b/json'), '/containers/a%20b/json');
  });

  it('parses response heads and chunked bodies', () => {
    const h = parseHead('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp');
    assert.equal(h.status, 101);
    assert.equal(h.headers['content-type'], 'application/vnd.docker.raw-stream');
    const out: string[] = [];
    const dec = new ChunkedDecoder((b) => out.push(b.toString()));
    const wire = '4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n';
    for (const ch of wire) dec.push(Buffer.from(ch));
    assert.equal(out.join(''), 'Wikipedia');
    assert.equal(dec.done, true);
  });

  it('host resolution: -H, BERTH_HOST, DOCKER_HOST, default', () => {
    assert.equal(resolveHost('unix:///a.sock', { BERTH_HOST: 'unix:///b', DOCKER_HOST: 'unix:///c' }), 'unix:///a.sock');
    assert.equal(resolveHost(undefined, { BERTH_HOST: 'unix:///b', DOCKER_HOST: 'unix:///c' }), 'unix:///b');
    assert.equal(resolveHost(undefined, { DOCKER_HOST: 'unix:///c' }), 'unix:///c');
    assert.equal(resolveHost(undefined, {}), 'unix:///run/berth/berth.sock');
    assert.deepEqual(parseHost('tcp://127.0.0.1:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375, raw: 'tcp://127.0.0.1:2375' });
    assert.deepEqual(parseHost('/x.sock'), { kind: 'unix', path: '/x.sock', raw: 'unix:///x.sock' });
  });
});

describe('client over a unix socket', () => {
  let dir: string;
  let sock: string;
  let server: http.Server;
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  let maxVersion = '1.41';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-client-'));
    sock = path.join(dir, 's.sock');
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.setHeader('Api-Version', maxVersion);
        const m = /^\/v([0-9.]+)\//.exec(req.url!);
        if (m && Number(m[1]!.split('.')[1]) > Number(maxVersion.split('.')[1])) {
          res.statusCode = 400;
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ message: `client version ${m[1]} is too new. Maximum supported API version is ${maxVersion}` }));
          return;
        }
        if (req.url === '/_ping') return void res.end(req.method === 'HEAD' ? undefined : 'OK');
        if (req.url!.split('?')[0]!.endsWith('/containers/json')) {
          res.setHeader('Content-Type', 'application/json');
          return void res.end('[{"Id":"abc"}]');
        }
        if (req.url!.includes('/missing/')) {
          res.statusCode = 404;
          res.setHeader('Content-Type', 'application/json');
          return void res.end('{"message":"No such container: missing"}');
        }
        if (req.url!.includes('/plain/')) {
          res.statusCode = 500;
          res.setHeader('Content-Type', 'text/plain; charset=utf-8');
          return void res.end('plain failure\n');
        }
        if (req.url!.includes('/empty/')) {
          res.statusCode = 404;
          return void res.end();
        }
        if (req.url!.includes('/stream')) {
          res.flushHeaders();
          let i = 0;
          const t = setInterval(() => {
            res.write(`{"n":${i}}\n`);
            if (++i === 3) {
              clearInterval(t);
              res.end();
            }
          }, 5);
          return;
        }
        if (req.url!.includes('/upload')) {
          res.setHeader('Content-Type', 'application/json');
          return void res.end(JSON.stringify({ len: body.length, te: req.headers['transfer-encoding'] ?? '' }));
        }
        res.statusCode = 204;
        res.end();
      });
    });
    server.on('upgrade', (req: http.IncomingMessage, s: Socket, head: Buffer) => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: head.toString() });
      s.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      s.write(encodeFrame(1, 'early\n'));
      let input = '';
      s.on('data', (d: Buffer) => (input += d));
      s.on('end', () => {
        // after the client's half-close, echo what it sent and close
        s.end(encodeFrame(2, `got:${input}`));
      });
    });
    await new Promise<void>((r) => server.listen(sock, () => r()));
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends versioned JSON requests without a ping first', async () => {
    seen.length = 0;
    const c = new Client({ host: `unix://${sock}` });
    const list = await c.containerList({ all: true, filters: { label: ['a=b'] } });
    assert.deepEqual(list, [{ Id: 'abc' }]);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.url, '/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D');
    assert.equal(c.currentVersion(), '1.41');
  });

  it('negotiates down through /_ping when the daemon is older', async () => {
    seen.length = 0;
    maxVersion = '1.40';
    try {
      const c = new Client({ host: `unix://${sock}` });
      await c.containerList();
      assert.deepEqual(seen.map((s) => `${s.method} ${s.url}`), ['GET /v1.41/containers/json', 'HEAD /_ping', 'GET /v1.40/containers/json']);
      assert.equal(c.currentVersion(), '1.40');
    } finally {
      maxVersion = '1.41';
    }
  });

  it('decodes daemon errors like the Go client', async () => {
    const c = new Client({ host: `unix://${sock}` });
    await assert.rejects(c.containerInspect('missing'), (e: unknown) => e instanceof ApiError && e.status === 404 && e.message === 'Error response from daemon: No such container: missing');
    await assert.rejects(c.containerInspect('plain'), (e: unknown) => e instanceof ApiError && e.message === 'Error response from daemon: plain failure');
    await assert.rejects(c.containerInspect('empty'), (e: unknown) => e instanceof ApiError && /^request returned 404 Not Found for API route and version http:\/\/.*\/v1\.41\/containers\/empty\/json, check if the server supports the requested API version$/.test(e.message));
  });

  it('reports an unreachable daemon like docker', async () => {
    const c = new Client({ host: `unix://${path.join(dir, 'nowhere.sock')}` });
    await assert.rejects(c.containerList(), (e: unknown) => e instanceof ConnectionError && e.message === `Cannot connect to the Docker daemon at unix://${path.join(dir, 'nowhere.sock')}. Is the docker daemon running?`);
  });

  it('streams chunked responses as they arrive', async () => {
    const c = new Client({ host: `unix://${sock}` });
    const res = await c.raw('GET', '/stream');
    const text = (await readAll(res.body)).toString();
    assert.equal(text, '{"n":0}\n{"n":1}\n{"n":2}\n');
  });

  it('streams request bodies with chunked encoding', async () => {
    const c = new Client({ host: `unix://${sock}` });
    const { Readable } = await import('node:stream');
    const r = await c.json<{ len: number; te: string }>('POST', '/upload', { body: Readable.from([Buffer.from('abc'), Buffer.from('defg')]) });
    assert.deepEqual(r, { len: 7, te: 'chunked' });
    // large enough to hit socket backpressure
    const big = Array.from({ length: 256 }, (_, i) => Buffer.alloc(16384, 97 + (i % 26)));
    const r2 = await c.json<{ len: number; te: string }>('POST', '/upload', { body: Readable.from(big) });
    assert.deepEqual(r2, { len: 256 * 16384, te: 'chunked' });
  });

  it('hijacks with Upgrade: tcp and supports half-close', async () => {
    seen.length = 0;
    const c = new Client({ host: `unix://${sock}` });
    const h = await c.containerAttach('abc', { stream: true, stdin: true, stdout: true, stderr: true });
    const got: [number, string][] = [];
    const demux = new FrameDemuxer((s, p) => got.push([s, p.toString()]));
    if (h.head.length) demux.push(h.head);
    h.socket.on('data', (d: Buffer) => demux.push(d));
    const ended = new Promise((r) => h.socket.on('end', r));
    h.socket.resume();
    h.socket.write('input');
    h.closeWrite();
    await ended;
    assert.deepEqual(got, [[1, 'early\n'], [2, 'got:input']]);
    const req = seen.find((s) => s.url.includes('/attach'))!;
    assert.equal(req.url, '/v1.41/containers/abc/attach?stderr=1&stdin=1&stdout=1&stream=1');
    assert.equal(req.headers.upgrade, 'tcp');
    assert.equal(req.headers.connection, 'Upgrade');
  });

  it('exec start sends its JSON body on the upgrade request', async () => {
    seen.length = 0;
    const c = new Client({ host: `unix://${sock}` });
    const h = await c.execStartAttached('e1', false);
    h.closeWrite();
    await readAll(h.socket.resume());
    const req = seen.find((s) => s.url.includes('/exec/'))!;
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.body, '{"Detach":false,"Tty":false}\n');
  });
});
