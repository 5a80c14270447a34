// The embedded DNS server: berthd listens (UDP and TCP) on the gateway
// address of each user-defined network; a DNAT rule inside every container
// sends 127.0.0.11:53 there. Names of the network's containers are answered
// from memory; everything else is relayed to the upstream resolvers.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { log } from '../../common/log';
import { type Answer, type Query, type Question, decodeQuery, encodeError, encodeResponse, RCODE_FORMERR, RCODE_NOERROR, RCODE_NOTIMP, RCODE_NXDOMAIN, RCODE_SERVFAIL } from './codec';

export type LocalAnswer = { rcode?: number; answers: Answer[] };

export interface DnsResolver {
  /** Answers from the local records for the client at `src`; undefined → not a local name: relay it. */
  lookup(src: string, q: Question): LocalAnswer | undefined;
  /** The resolvers to relay other names to, for the client at `src`. */
  upstream(src: string): string[];
}

interface Pending {
  reply: (msg: Buffer) => void;
  fail: () => void;
  timer: NodeJS.Timeout;
}

interface Listener { udp: dgram.Socket; tcp: net.Server; port: number }

const UPSTREAM_TIMEOUT_MS = 2000;

export class EmbeddedDns {
  private listeners = new Map<string, Listener>();
  private fwd: dgram.Socket | undefined;
  private pending = new Map<number, Pending>();
  private nextId = Math.floor(Math.random() * 65536);

  constructor(private readonly resolver: DnsResolver) {}

  /** Listens on ip:port (UDP and TCP); port 0 or a busy preferred port → a free one. Returns the port. */
  async listen(ip: string, preferred = 53): Promise<number> {
    const have = this.listeners.get(ip);
    if (have) return have.port;
    const tryPort = async (port: number): Promise<Listener> => {
      const udp = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, ip, () => { udp.off('error', reject); resolve(); });
      });
      const actual = udp.address().port;
      const tcp = net.createServer((s) => this.onTcp(s));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(actual, ip, 64, () => { tcp.off('error', reject); resolve(); });
        });
      } catch (e) {
        udp.close();
        throw e;
      }
      udp.on('message', (msg, rinfo) => this.onUdp(udp, msg, rinfo));
      udp.on('error', (e) => log.warn('embedded DNS socket error', { ip, err: e }));
      tcp.on('error', (e) => log.warn('embedded DNS listener error', { ip, err: e }));
      return { udp, tcp, port: actual };
    };
    let l: Listener;
    try {
      l = await tryPort(preferred);
    } catch (e) {
      if (preferred === 0) throw e;
      log.info('embedded DNS: preferred port busy, using another', { ip, port: preferred, err: e });
      l = await tryPort(0);
    }
    this.listeners.set(ip, l);
    return l.port;
  }

  port(ip: string): number | undefined {
    return this.listeners.get(ip)?.port;
  }

  close(ip: string): void {
    const l = this.listeners.get(ip);
    if (!l) return;
    this.listeners.delete(ip);
    try { l.udp.close(); } catch { /* closed */ }
    l.tcp.close();
  }

  closeAll(): void {
    for (const ip of [...this.listeners.keys()]) this.close(ip);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    try { this.fwd?.close(); } catch { /* closed */ }
    this.fwd = undefined;
  }

  /** Answers one query; `relay` is how to forward it when it is not local. */
  answer(msg: Buffer, src: string, maxSize: number, done: (resp: Buffer) => void, relay: (msg: Buffer, servers: string[], done: (resp: Buffer | undefined) => void) => void): void {
    let q: Query;
    try {
      q = decodeQuery(msg);
    } catch {
      done(encodeError(msg, RCODE_FORMERR));
      return;
    }
    if (q.qr) return; // a response: not for us
    const question = q.questions[0];
    if (q.opcode !== 0 || !question) {
      done(encodeResponse(msg, q, q.opcode !== 0 ? RCODE_NOTIMP : RCODE_FORMERR, []));
      return;
    }
    let local: LocalAnswer | undefined;
    try {
      local = this.resolver.lookup(src, question);
    } catch (e) {
      log.warn('embedded DNS lookup failed', { err: e });
      local = { rcode: RCODE_SERVFAIL, answers: [] };
    }
    if (local) {
      done(encodeResponse(msg, q, local.rcode ?? RCODE_NOERROR, local.answers, maxSize));
      return;
    }
    const servers = this.resolver.upstream(src);
    if (!servers.length) {
      done(encodeResponse(msg, q, RCODE_NXDOMAIN, []));
      return;
    }
    relay(msg, servers, (resp) => done(resp ?? encodeResponse(msg, q, RCODE_SERVFAIL, [])));
  }

  private onUdp(sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.answer(msg, rinfo.address, 512, (resp) => {
      sock.send(resp, rinfo.port, rinfo.address, () => undefined);
    }, (m, servers, done) => this.relayUdp(m, servers, 0, done));
  }

  private onTcp(s: net.Socket): void {
    let buf: Buffer = Buffer.alloc(0);
    s.setTimeout(10_000, () => s.destroy());
    s.on('error', () => s.destroy());
    s.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        this.answer(Buffer.from(msg), s.remoteAddress?.replace(/^::ffff:/, '') ?? '', 65535, (resp) => {
          if (s.destroyed) return;
          const l = Buffer.alloc(2);
          l.writeUInt16BE(resp.length, 0);
          s.write(Buffer.concat([l, resp]));
        }, (m, servers, done) => relayTcp(m, servers, 0, done));
      }
    });
  }

  private forwarder(): dgram.Socket {
    if (this.fwd) return this.fwd;
    const s = dgram.createSocket('udp4');
    s.on('message', (msg) => {
      if (msg.length < 12) return;
      const p = this.pending.get(msg.readUInt16BE(0));
      if (!p) return;
      this.pending.delete(msg.readUInt16BE(0));
      clearTimeout(p.timer);
      p.reply(msg);
    });
    s.on('error', (e) => log.debug('DNS forwarder socket error', { err: e }));
    s.bind(0);
    s.unref();
    this.fwd = s;
    return s;
  }

  private relayUdp(msg: Buffer, servers: string[], i: number, done: (resp: Buffer | undefined) => void): void {
    const server = servers[i];
    if (server === undefined) { done(undefined); return; }
    const origId = msg.readUInt16BE(0);
    let id = this.nextId;
    for (let n = 0; n < 65536 && this.pending.has(id); n++) id = (id + 1) & 0xffff;
    this.nextId = (id + 1) & 0xffff;
    const out = Buffer.from(msg);
    out.writeUInt16BE(id, 0);
    const next = (): void => this.relayUdp(msg, servers, i + 1, done);
    const p: Pending = {
      reply: (resp) => {
        const r = Buffer.from(resp);
        r.writeUInt16BE(origId, 0);
        done(r);
      },
      fail: next,
      timer: setTimeout(() => {
        if (this.pending.get(id) === p) this.pending.delete(id);
        next();
      }, UPSTREAM_TIMEOUT_MS),
    };
    p.timer.unref();
    this.pending.set(id, p);
    const [host, port] = splitServer(server);
    this.forwarder().send(out, port, host, (err) => {
      if (err && this.pending.get(id) === p) {
        this.pending.delete(id);
        clearTimeout(p.timer);
        next();
      }
    });
  }
}

function splitServer(s: string): [string, number] {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(s);
  if (m) return [m[1]!, Number(m[2] ?? 53)];
  return [s, 53];
}

function relayTcp(msg: Buffer, servers: string[], i: number, done: (resp: Buffer | undefined) => void): void {
  const server = servers[i];
  if (server === undefined) { done(undefined); return; }
  const [host, port] = splitServer(server);
  let finished = false;
  let buf: Buffer = Buffer.alloc(0);
  const s = net.connect({ host, port });
  const fail = (): void => {
    if (finished) return;
    finished = true;
    s.destroy();
    relayTcp(msg, servers, i + 1, done);
  };
  s.setTimeout(UPSTREAM_TIMEOUT_MS, fail);
  s.on('error', fail);
  s.on('connect', () => {
    const l = Buffer.alloc(2);
    l.writeUInt16BE(msg.length, 0);
    s.write(Buffer.concat([l, msg]));
  });
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      finished = true;
      s.destroy();
      done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
    }
  });
  s.on('end', fail);
}
