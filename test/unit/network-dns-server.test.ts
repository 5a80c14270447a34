// The embedded DNS server over loopback with a fake record source and a fake
// upstream (both on 127.0.0.1): local answers, NODATA for AAAA, relay of
// other names over UDP and TCP, SERVFAIL when the upstream is silent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { aRecord, decodeAnswers, decodeQuery, encodeQuery, encodeResponse, TYPE_A, TYPE_AAAA } from '../../src/network/dns/codec';
import { EmbeddedDns } from '../../src/network/dns/server';
import { parseIPv4 } from '../../src/network/ipv4';

function udpAsk(port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => { s.close(); reject(new Error('no answer')); }, 5000);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(m); });
    s.send(msg, port, '127.0.0.1');
  });
}

function tcpAsk(port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    s.on('connect', () => { const l = Buffer.alloc(2); l.writeUInt16BE(msg.length); s.write(Buffer.concat([l, msg])); });
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { s.destroy(); resolve(buf.subarray(2, 2 + buf.readUInt16BE(0))); }
    });
    s.on('error', reject);
  });
}

test('embedded DNS: local names, NODATA, relay over UDP and TCP, SERVFAIL from a silent upstream', async () => {
  // fake upstream: answers every A query with 10.9.9.9 (UDP and TCP on one port)
  const upUdp = dgram.createSocket('udp4');
  await new Promise<void>((r) => upUdp.bind(0, '127.0.0.1', () => r()));
  const upPort = upUdp.address().port;
  const answer = (m: Buffer): Buffer => encodeResponse(m, decodeQuery(m), 0, [aRecord(decodeQuery(m).questions[0]!.name, parseIPv4('10.9.9.9')!)]);
  upUdp.on('message', (m, r) => upUdp.send(answer(m), r.port, r.address));
  const upTcp = net.createServer((s) => s.on('data', (d: Buffer) => {
    const m = d.subarray(2, 2 + d.readUInt16BE(0));
    const a = answer(m);
    const l = Buffer.alloc(2); l.writeUInt16BE(a.length);
    s.end(Buffer.concat([l, a]));
  }));
  await new Promise<void>((r) => upTcp.listen(upPort, '127.0.0.1', () => r()));
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));

  let upstream = [`127.0.0.1:${upPort}`];
  const dns = new EmbeddedDns({
    lookup: (_src, q) => (q.name === 'web' ? { answers: q.type === TYPE_A ? [aRecord('web', parseIPv4('172.18.0.2')!)] : [] } : undefined),
    upstream: () => upstream,
  });
  try {
    const port = await dns.listen('127.0.0.1', 0);
    const local = decodeAnswers(await udpAsk(port, encodeQuery(7, 'web', TYPE_A)));
    assert.equal(local.id, 7);
    assert.deepEqual(local.answers.map((a) => [...a.data].join('.')), ['172.18.0.2']);
    const aaaa = decodeAnswers(await udpAsk(port, encodeQuery(8, 'web', TYPE_AAAA)));
    assert.equal(aaaa.rcode, 0);
    assert.equal(aaaa.answers.length, 0);
    const relayed = decodeAnswers(await udpAsk(port, encodeQuery(9, 'example.org', TYPE_A)));
    assert.equal(relayed.id, 9, 'the client\'s ID comes back');
    assert.deepEqual(relayed.answers.map((a) => [...a.data].join('.')), ['10.9.9.9']);
    const overTcp = decodeAnswers(await tcpAsk(port, encodeQuery(10, 'example.org', TYPE_A)));
    assert.deepEqual(overTcp.answers.map((a) => [...a.data].join('.')), ['10.9.9.9']);
    const localTcp = decodeAnswers(await tcpAsk(port, encodeQuery(11, 'web', TYPE_A)));
    assert.equal(localTcp.answers.length, 1);
    upstream = [`127.0.0.1:${silent.address().port}`];
    const t0 = Date.now();
    const fail = decodeAnswers(await udpAsk(port, encodeQuery(12, 'example.org', TYPE_A)));
    assert.equal(fail.rcode, 2, 'SERVFAIL');
    assert.ok(Date.now() - t0 < 4000);
    upstream = [];
    assert.equal(decodeAnswers(await udpAsk(port, encodeQuery(13, 'example.org', TYPE_A))).rcode, 3, 'no upstream: NXDOMAIN');
    // garbage gets FORMERR, not silence
    const garbage = await udpAsk(port, Buffer.from([0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 97]));
    assert.equal(garbage.readUInt16BE(0), 0xbeef);
    assert.equal(garbage.readUInt16BE(2) & 0xf, 1);
  } finally {
    dns.closeAll();
    upUdp.close();
    upTcp.close();
    silent.close();
  }
});
