// Networking benchmarks (issue 4): figures beside floors measured in the same
// run, inside the harness's namespaces.
//
//   (a) run --rm busybox true on the default bridge vs --network none, interleaved: the cost of networking
//   (b) embedded DNS from a container (127.0.0.11, DNAT to the gateway): queries/s and p99, one at a time
//       and 32 in flight; floor: the same client against a bare UDP echo server on the gateway
//   (c) throughput of a published TCP port over loopback (kernel DNAT) vs the container's address directly
//
// Env: BENCH_RUNS (default 30) runs per variant in (a); BENCH_ONLY=a,b,c.
import { performance } from 'node:perf_hooks';
import { Daemon, run, sleep } from '../test/harness';
import { fmtMs, median, p90, printTable, quantile, type Row } from './stats';

const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] ?? 30));
const ONLY = (process.env['BENCH_ONLY'] ?? '').split(',').filter(Boolean);
const want = (s: string): boolean => ONLY.length === 0 || ONLY.includes(s);
const TARGET = { addedMs: 15, dnsP99Ms: 1, dnsQps: 5000, loopbackShare: 0.5 };

const rows: Row[] = [];

async function section(tag: string, title: string, fn: () => Promise<void>): Promise<void> {
  if (!want(tag)) return;
  console.log(`\n== (${tag}) ${title}`);
  const t0 = performance.now();
  try {
    await fn();
  } catch (e) {
    const msg = (e as Error).message.split('\n').slice(0, 6).join(' | ');
    console.log(`   ERROR: ${msg}`);
    rows.push({ name: `(${tag}) ${title}`, figure: 'error', floor: '-', target: '-', note: msg.slice(0, 80) });
  }
  console.log(`   (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}

function must(r: { code: number; stdout: string; stderr: string }, what: string): string {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout.trim();
}

/** A DNS load client run inside a container's namespace: sequential then concurrent queries for `ms` each. */
const DNS_CLIENT = `
const dgram = require('dgram');
const [server, port, name, ms] = [process.argv[1], Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
function q(id) {
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const h = Buffer.alloc(12); h.writeUInt16BE(id, 0); h.writeUInt16BE(0x0100, 2); h.writeUInt16BE(1, 4);
  return Buffer.concat([h, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}
async function phase(inflight) {
  const s = dgram.createSocket('udp4');
  const lat = []; const sent = new Map(); let id = 0; let done = 0; let answered = 0;
  const end = Date.now() + ms;
  await new Promise((resolve) => {
    const send = () => {
      if (Date.now() > end) { if (sent.size === 0) resolve(); return; }
      id = (id + 1) & 0xffff; sent.set(id, process.hrtime.bigint()); s.send(q(id), port, server);
    };
    s.on('message', (m) => {
      const t = sent.get(m.readUInt16BE(0)); if (t === undefined) return;
      sent.delete(m.readUInt16BE(0)); lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (m.readUInt16BE(6) > 0) answered++;
      done++; send();
    });
    for (let i = 0; i < inflight; i++) send();
    setTimeout(resolve, ms + 300); // whatever is still out by then is lost (UDP)
  });
  s.close();
  lat.sort((a, b) => a - b);
  return { qps: done / (ms / 1000), p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)], n: done, answered };
}
(async () => { console.log(JSON.stringify({ one: await phase(1), many: await phase(32) })); })();
`;

const ECHO_SERVER = `
const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => { const o = Buffer.from(m); o[2] |= 0x80; o.writeUInt16BE(1, 6); s.send(o, r.port, r.address); });
s.bind(Number(process.argv[2]), process.argv[1]);
setTimeout(() => process.exit(0), Number(process.argv[3]));
`;

const SEND_CLIENT = `
const net = require('net');
const [host, port, mb] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const chunk = Buffer.alloc(1 << 20, 120);
const t0 = process.hrtime.bigint();
const s = net.connect(port, host, () => {
  let left = mb;
  const pump = () => { while (left > 0) { left--; if (!s.write(chunk)) { s.once('drain', pump); return; } } s.end(); };
  pump();
});
s.on('close', () => { const sec = Number(process.hrtime.bigint() - t0) / 1e9; console.log(JSON.stringify({ mbps: (mb / sec) * 8 * 1.048576, sec })); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

async function main(): Promise<void> {
  const d = new Daemon({ logLevel: 'info' });
  try {
    await d.start();
    await d.loadBusybox();

    await section('a', `run --rm busybox true: default bridge vs --network none (${RUNS} each, interleaved)`, async () => {
      const t: Record<'bridge' | 'none', number[]> = { bridge: [], none: [] };
      for (let i = -2; i < RUNS; i++) {
        for (const mode of (i % 2 ? ['bridge', 'none'] : ['none', 'bridge']) as Array<'bridge' | 'none'>) {
          const r = await d.docker(['run', '--rm', '--network', mode, 'busybox', 'true']);
          must(r, `run --network ${mode}`);
          if (i >= 0) t[mode].push(r.durationMs);
        }
      }
      const added = median(t.bridge) - median(t.none);
      console.log(`   none   med ${fmtMs(median(t.none))} p90 ${fmtMs(p90(t.none))}`);
      console.log(`   bridge med ${fmtMs(median(t.bridge))} p90 ${fmtMs(p90(t.bridge))}  → networking adds ${fmtMs(added)} (Docker 20.10: ~60 ms)`);
      rows.push({ name: '(a) run --rm true, bridge', figure: `med ${fmtMs(median(t.bridge))} (+${fmtMs(added)})`, floor: `none ${fmtMs(median(t.none))}`, target: `+≤ ${fmtMs(TARGET.addedMs)}`, ok: added <= TARGET.addedMs });
    });

    await section('b', 'embedded DNS from a container: queries/s and latency', async () => {
      must(await d.docker(['network', 'create', 'bench_dns']), 'network create');
      must(await d.docker(['run', '-d', '--name', 'dns_target', '--network', 'bench_dns', 'busybox', 'sleep', '600']), 'target');
      const id = must(await d.docker(['run', '-d', '--name', 'dns_client', '--network', 'bench_dns', 'busybox', 'sleep', '600']), 'client');
      const pid = must(await d.docker(['inspect', '-f', '{{.State.Pid}}', id]), 'pid');
      const gw = must(await d.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bench_dns']), 'gateway');
      const client = async (server: string, port: number, name: string): Promise<{ one: Stat; many: Stat }> => {
        const r = await run('nsenter', [`--net=/proc/${pid}/ns/net`, process.execPath, '-e', DNS_CLIENT, server, String(port), name, '2000'], { timeoutMs: 30_000 });
        return JSON.parse(must(r, 'dns client')) as { one: Stat; many: Stat };
      };
      type Stat = { qps: number; p50: number; p99: number; n: number; answered: number };
      const dns = await client('127.0.0.11', 53, 'dns_target');
      for (const p of [dns.one, dns.many]) if (p.answered !== p.n) throw new Error(`only ${p.answered} of ${p.n} answers carried records`);
      const echo = run('nsenter', [`--net=${d.sandbox.netNs}`, process.execPath, '-e', ECHO_SERVER, gw, '5399', '12000'], { timeoutMs: 20_000 });
      await sleep(300);
      const floor = await client(gw, 5399, 'dns_target');
      await echo;
      const f = (s: Stat): string => `${Math.round(s.qps)} q/s p50 ${s.p50.toFixed(3)} ms p99 ${s.p99.toFixed(3)} ms`;
      console.log(`   embedded, 1 in flight:  ${f(dns.one)}\n   embedded, 32 in flight: ${f(dns.many)}`);
      console.log(`   UDP echo floor, 1:      ${f(floor.one)}\n   UDP echo floor, 32:     ${f(floor.many)}`);
      rows.push({ name: '(b) DNS p99, 1 in flight', figure: `${dns.one.p99.toFixed(3)} ms`, floor: `echo ${floor.one.p99.toFixed(3)} ms`, target: `≤ ${TARGET.dnsP99Ms} ms`, ok: dns.one.p99 <= TARGET.dnsP99Ms });
      rows.push({ name: '(b) DNS queries/s, 32 in flight', figure: `${Math.round(dns.many.qps)}`, floor: `echo ${Math.round(floor.many.qps)}`, target: `≥ ${TARGET.dnsQps}`, ok: dns.many.qps >= TARGET.dnsQps });
      await d.docker(['rm', '-f', 'dns_target', 'dns_client']);
      await d.docker(['network', 'rm', 'bench_dns']);
    });

    await section('c', 'published TCP port over loopback vs the container\'s address (256 MiB)', async () => {
      const id = must(await d.docker(['run', '-d', '--name', 'sink', '-p', '18080:80', 'busybox', 'sh', '-c', 'while true; do nc -l -p 80 -e dd of=/dev/null bs=65536 2>/dev/null; done']), 'sink');
      const ip = must(await d.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', id]), 'ip');
      await sleep(300);
      const send = async (host: string, port: number): Promise<number> => {
        const r = await run('nsenter', [`--net=${d.sandbox.netNs}`, process.execPath, '-e', SEND_CLIENT, host, String(port), '256'], { timeoutMs: 120_000 });
        await sleep(200); // the sink's loop listens again
        return (JSON.parse(must(r, `send to ${host}:${port}`)) as { mbps: number }).mbps;
      };
      const direct: number[] = [], loop: number[] = [];
      for (let i = 0; i < 3; i++) {
        direct.push(await send(ip, 80));
        loop.push(await send('127.0.0.1', 18080));
      }
      const md = quantile(direct, 0.5), ml = quantile(loop, 0.5);
      console.log(`   direct ${ip}:80 ${direct.map((x) => x.toFixed(0)).join(', ')} Mbit/s; 127.0.0.1:18080 ${loop.map((x) => x.toFixed(0)).join(', ')} Mbit/s`);
      rows.push({ name: '(c) published port over loopback', figure: `${ml.toFixed(0)} Mbit/s`, floor: `direct ${md.toFixed(0)} Mbit/s`, target: `≥ ${TARGET.loopbackShare * 100}% of direct`, ok: ml >= md * TARGET.loopbackShare });
      await d.docker(['rm', '-f', 'sink']);
    });
  } catch (e) {
    console.log(`bench aborted: ${(e as Error).message}\n--- berthd log tail ---\n${d.logTail(40)}`);
    process.exitCode = 1;
  } finally {
    d.cleanup();
  }
  console.log('\n== summary (targets: see TARGET in bench/network-perf.bench.ts)');
  printTable(rows);
}

void main();
