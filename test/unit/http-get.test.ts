// common/http-get.ts and tls-roots.ts: redirects across http and https, the
// extra CA file handed on by bin/berthd, the system bundle, and errors.
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { makeCerts } from '../integration/registry-peer';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-http-get-'));
const servers: http.Server[] = [];
after(() => {
  for (const s of servers) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function listen(s: http.Server): Promise<number> {
  servers.push(s);
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

test('httpGet: follows redirects from http to https, trusting the extra CA file; untrusted and unreachable hosts fail', async () => {
  const certs = makeCerts(dir, ['127.0.0.1']);
  // As bin/berthd hands NODE_EXTRA_CA_CERTS on; read at the first TLS use, so set before importing.
  process.env['BERTH_EXTRA_CA_CERTS'] = certs.ca;
  const { httpGet } = await import('../../src/common/http-get');
  const { trustedRoots } = await import('../../src/common/tls-roots');
  const tlsPort = await listen(https.createServer({ cert: fs.readFileSync(certs.cert), key: fs.readFileSync(certs.key) }, (req, res) => {
    res.writeHead(200, { 'Content-Disposition': 'attachment; filename="x.txt"', 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
    res.end(`secure ${req.url}`);
  }));
  const port = await listen(http.createServer((req, res) => {
    if (req.url === '/hop') {
      res.writeHead(302, { Location: `https://127.0.0.1:${tlsPort}/final` });
      res.end();
    } else if (req.url === '/loop') {
      res.writeHead(301, { Location: '/loop' });
      res.end();
    } else {
      res.writeHead(404, 'Not Found');
      res.end('nope');
    }
  }));
  const r = await httpGet(`http://127.0.0.1:${port}/hop`);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'secure /final');
  assert.equal(r.url, `https://127.0.0.1:${tlsPort}/final`);
  assert.equal(r.header('Content-Disposition'), 'attachment; filename="x.txt"');
  assert.equal((await httpGet(`http://127.0.0.1:${port}/missing`)).status, 404);
  await assert.rejects(httpGet(`http://127.0.0.1:${port}/loop`), /redirect count exceeded/);
  await assert.rejects(httpGet('http://127.0.0.1:1/'), /ECONNREFUSED/);
  // The system bundle is in too (Docker trusts it): more roots than node's own list plus our CA.
  const caPem = fs.readFileSync(certs.ca, 'latin1').trim();
  assert.ok(trustedRoots().some((c) => c.trim() === caPem));
});

test('httpGet: a server whose CA nobody trusts is refused', async () => {
  const other = fs.mkdtempSync(path.join(dir, 'other-'));
  const certs = makeCerts(other, ['127.0.0.1']);
  const { httpGet } = await import('../../src/common/http-get');
  const port = await listen(https.createServer({ cert: fs.readFileSync(certs.cert), key: fs.readFileSync(certs.key) }, (_req, res) => res.end('x')));
  await assert.rejects(httpGet(`https://127.0.0.1:${port}/`), /certificate/i);
});
