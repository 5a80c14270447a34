// Host ports of published container ports are held by sockets in berthd, as
// Docker's proxy holds them: no other program can take the port while it is
// published, and a port already taken fails the start. The kernel's DNAT
// (firewall.ts) carries the traffic; the held TCP socket only sees
// connections the DNAT did not catch, and relays those itself. One process
// (berthd) for every port.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { log } from '../common/log';
import type { BoundPort } from './ports';

type Held = { kind: 'tcp'; server: net.Server } | { kind: 'udp'; socket: dgram.Socket } | { kind: 'none' };

function key(b: { proto: string; hostIp: string; hostPort: number }): string {
  return `${b.proto}/${b.hostIp}/${b.hostPort}`;
}

export class PortHolders {
  private held = new Map<string, Held>();
  private targets = new Map<string, { ip: string; port: number }>();

  /** Binds the host side; rejects with the socket error (code EADDRINUSE...) when the port is taken. */
  async hold(b: BoundPort, target: { ip: string; port: number }): Promise<void> {
    const k = key(b);
    if (this.held.has(k)) throw Object.assign(new Error('port is already held'), { code: 'EADDRINUSE' });
    this.targets.set(k, target);
    if (b.proto === 'tcp') {
      const server = net.createServer((c) => this.relay(k, c));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // ipv6Only: [::] must not take the IPv4 port too (that has its own socket)
        server.listen({ host: b.hostIp, port: b.hostPort, exclusive: true, backlog: 128, ipv6Only: b.hostIp.includes(':') }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (e) => log.warn('published port socket error', { port: k, err: e }));
      server.unref();
      this.held.set(k, { kind: 'tcp', server });
    } else if (b.proto === 'udp') {
      const socket = dgram.createSocket({ type: b.hostIp.includes(':') ? 'udp6' : 'udp4', ipv6Only: b.hostIp.includes(':') });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: b.hostIp, port: b.hostPort, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.on('error', () => undefined);
      socket.on('message', () => undefined); // the kernel's DNAT delivers the traffic; anything here is dropped
      socket.unref();
      this.held.set(k, { kind: 'udp', socket });
    } else {
      this.held.set(k, { kind: 'none' });
    }
  }

  release(b: { proto: string; hostIp: string; hostPort: number }): void {
    const k = key(b);
    const h = this.held.get(k);
    this.held.delete(k);
    this.targets.delete(k);
    if (!h) return;
    if (h.kind === 'tcp') h.server.close();
    else if (h.kind === 'udp') {
      try { h.socket.close(); } catch { /* closed */ }
    }
  }

  private relay(k: string, c: net.Socket): void {
    const t = this.targets.get(k);
    if (!t) { c.destroy(); return; }
    const up = net.connect({ host: t.ip, port: t.port });
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.pipe(up).pipe(c);
  }
}
