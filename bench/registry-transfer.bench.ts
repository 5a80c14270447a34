// Registry and archive benchmarks: figures, not pass/fail, each beside a floor
// measured in the same run.
//
//   (a) pull of a ~200 MB, 5-layer image from a loopback registry into an empty
//       data-root, beside `skopeo copy docker://… dir:` of the same image (a
//       client that only downloads and verifies; berth also unpacks)
//   (b) push of that image (pulled, so its compressed blobs are local) to an
//       empty registry: MB/s of compressed bytes; floor: skopeo copy dir: → docker://
//   (c) docker save and docker load of a ~107 MB image (CLI timings)
//
// Env: BENCH_RUNS (default 3 here: each run moves hundreds of MB), BENCH_ONLY=a,c.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Daemon, sleep } from '../test/harness';
import {
  haveRegistry, haveSkopeo, makeLayerTar, nsExec, SKOPEO_BIN, startRegistry, writeOciImage, writeOciLayout, type RegistryPeer,
} from '../test/integration/registry-peer';
import { fmtMs, median, printTable, type Row } from './stats';

const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] ?? 3));
const ONLY = (process.env['BENCH_ONLY'] ?? '').split(',').filter(Boolean);
const want = (s: string): boolean => ONLY.length === 0 || ONLY.includes(s);

const TARGET = {
  pullOverSkopeo: 1.3,
  pushMBps: 90,
  saveMs: 600,
  loadMs: 800,
};

const rows: Row[] = [];

/** Text-like data that compresses about 3:1, like binaries and libraries do (random words from a small vocabulary). */
const VOCAB = Array.from({ length: 4096 }, () => randomBytes(2 + (randomBytes(1)[0]! % 10)).toString('hex'));
function textish(n: number): Buffer {
  const out = Buffer.allocUnsafe(n + 32);
  const idx = randomBytes(Math.ceil(n / 4) * 2);
  let len = 0;
  for (let k = 0; len < n; k += 2) {
    len += out.write(VOCAB[idx.readUInt16LE(k % (idx.length - 1)) % VOCAB.length]!, len, 'latin1');
    out[len++] = 0x20;
  }
  return out.subarray(0, n);
}

/** A layer of ~size bytes: many small compressible files plus a couple of big incompressible ones. */
function benchLayer(i: number, size: number): Buffer {
  const files: Record<string, Buffer> = {};
  const small = Math.floor(size * 0.5);
  const per = 64 << 10;
  for (let k = 0; k < Math.floor(small / per); k++) files[`usr/lib/l${i}/f${k}.so`] = textish(per);
  const big = size - small;
  files[`opt/l${i}/blob-a.bin`] = randomBytes(Math.floor(big / 2));
  files[`opt/l${i}/blob-b.bin`] = randomBytes(big - Math.floor(big / 2));
  return makeLayerTar(files);
}

function dirSize(p: string): number {
  let n = 0;
  for (const e of fs.readdirSync(p, { withFileTypes: true })) {
    const q = path.join(p, e.name);
    n += e.isDirectory() ? dirSize(q) : fs.statSync(q).size;
  }
  return n;
}

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

/** utime+stime of a process (all its threads) in ms, from /proc. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100; // fields 14 and 15, in USER_HZ (100)
  } catch {
    return NaN;
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

/** Waits until removed layers are gone from disk and the filesystem has settled (so a deletion's cost does not land on the next run). */
async function waitLayersGone(d: Daemon): Promise<void> {
  const snap = path.join(d.dataRoot, 'snapshots');
  for (let i = 0; i < 400; i++) {
    if (!fs.readdirSync(snap).some((n) => n.startsWith('tmp-'))) break;
    await sleep(25);
  }
  nsExec(d, 'sync', []);
  await sleep(500);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('bench: needs root (namespaces, mounts); skipping');
    return;
  }
  if (!haveRegistry() || !haveSkopeo()) {
    console.log('bench: needs docker-registry and skopeo (apt-get install docker-registry skopeo); skipping');
    return;
  }
  const d = new Daemon({ logLevel: 'info' });
  const regs: RegistryPeer[] = [];
  try {
    await d.start();
    await d.loadBusybox();
    const reg = await startRegistry(d);
    regs.push(reg);

    // The image: 5 layers of ~40 MB each (uncompressed), gzip as Docker writes them.
    const layout = path.join(d.dir, 'bench-oci');
    const t0 = performance.now();
    const tars = [0, 1, 2, 3, 4].map((i) => benchLayer(i, 40 << 20));
    const img = writeOciImage(layout, process.arch === 'arm64' ? 'arm64' : 'amd64', tars);
    writeOciLayout(layout, 'v1', [{ img, arch: 'amd64' }]);
    const rawMB = tars.reduce((a, t) => a + t.length, 0) / 1e6;
    const gzMB = img.layers.reduce((a, l) => a + l.size, 0) / 1e6;
    console.log(`image: 5 layers, ${rawMB.toFixed(0)} MB uncompressed, ${gzMB.toFixed(0)} MB gzip (built in ${fmtMs(performance.now() - t0)})`);
    const sk = nsExec(d, SKOPEO_BIN, ['--insecure-policy', 'copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${reg.host}/bench/big:1`], { timeoutMs: 300_000 });
    if (sk.code !== 0) throw new Error(`skopeo copy to the registry: ${sk.stderr}`);
    const ref = `${reg.host}/bench/big:1`;

    await section('a', 'pull ~200 MB / 5 layers from a loopback registry', async () => {
      const berth: number[] = [];
      const skopeo: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const dir = path.join(d.dir, `skopeo-dir-${i}`);
        fs.rmSync(dir, { recursive: true, force: true });
        const [ms, r] = await timed(async () => nsExec(d, SKOPEO_BIN, ['--insecure-policy', 'copy', '--src-tls-verify=false', `docker://${ref}`, `dir:${dir}`], { timeoutMs: 300_000 }));
        if (r.code !== 0) throw new Error(`skopeo copy: ${r.stderr}`);
        skopeo.push(ms);
        fs.rmSync(dir, { recursive: true, force: true });

        const cpu0 = cpuMs(d.pid);
        const [pms, pr] = await timed(() => d.docker(['pull', '-q', ref], { timeoutMs: 300_000 }));
        if (pr.code !== 0) throw new Error(`docker pull: ${pr.stderr}`);
        berth.push(pms);
        cpu.push(cpuMs(d.pid) - cpu0);
        if (i < RUNS - 1) {
          const rm = await d.docker(['rmi', ref]);
          if (rm.code !== 0) throw new Error(`rmi: ${rm.stderr}`);
          await waitLayersGone(d);
        }
      }
      const ratio = median(berth) / median(skopeo);
      console.log(`   berth pull: ${berth.map(fmtMs).join(', ')}; skopeo copy → dir: ${skopeo.map(fmtMs).join(', ')}; ratio ${ratio.toFixed(2)}`);
      // CPU time is steadier than wall time on a shared machine; on 2 cores the pull is CPU-bound.
      console.log(`   berthd CPU per pull (all threads): ${cpu.map(fmtMs).join(', ')}; median ${fmtMs(median(cpu))}`);
      rows.push({ name: '(a) pull 5 layers (docker pull)', figure: `med ${fmtMs(median(berth))} (${(gzMB / (median(berth) / 1000)).toFixed(0)} MB/s)`, floor: `skopeo ${fmtMs(median(skopeo))}`, target: `≤ ${TARGET.pullOverSkopeo}× skopeo`, ok: ratio <= TARGET.pullOverSkopeo, note: `ratio ${ratio.toFixed(2)}` });
    });

    await section('b', 'push of the pulled image to an empty registry', async () => {
      const have = await d.docker(['image', 'inspect', ref]);
      if (have.code !== 0) {
        const pr = await d.docker(['pull', '-q', ref], { timeoutMs: 300_000 });
        if (pr.code !== 0) throw new Error(`docker pull: ${pr.stderr}`);
      }
      const berth: number[] = [];
      const skopeo: number[] = [];
      const blobsDir = path.join(d.dir, 'push-src');
      fs.rmSync(blobsDir, { recursive: true, force: true });
      const cp = nsExec(d, SKOPEO_BIN, ['--insecure-policy', 'copy', '--src-tls-verify=false', `docker://${ref}`, `dir:${blobsDir}`], { timeoutMs: 300_000 });
      if (cp.code !== 0) throw new Error(`skopeo copy: ${cp.stderr}`);
      const bytes = dirSize(blobsDir) / 1e6;
      for (let i = 0; i < RUNS; i++) {
        const target = await startRegistry(d);
        regs.push(target);
        const dst = `${target.host}/bench/pushed:1`;
        const tag = await d.docker(['tag', ref, dst]);
        if (tag.code !== 0) throw new Error(`tag: ${tag.stderr}`);
        const [ms, r] = await timed(() => d.docker(['push', dst], { timeoutMs: 300_000 }));
        if (r.code !== 0) throw new Error(`docker push: ${r.stderr}`);
        berth.push(ms);
        await d.docker(['rmi', dst]);
        const [sms, sr] = await timed(async () => nsExec(d, SKOPEO_BIN, ['--insecure-policy', 'copy', '--dest-tls-verify=false', `dir:${blobsDir}`, `docker://${target.host}/bench/skopeo:1`], { timeoutMs: 300_000 }));
        if (sr.code !== 0) throw new Error(`skopeo push: ${sr.stderr}`);
        skopeo.push(sms);
        await target.stop();
      }
      const mbps = bytes / (median(berth) / 1000);
      const smbps = bytes / (median(skopeo) / 1000);
      console.log(`   berth push: ${berth.map(fmtMs).join(', ')} (${mbps.toFixed(0)} MB/s); skopeo: ${skopeo.map(fmtMs).join(', ')} (${smbps.toFixed(0)} MB/s); ${bytes.toFixed(0)} MB`);
      rows.push({ name: '(b) push 5 layers (docker push)', figure: `${mbps.toFixed(0)} MB/s (med ${fmtMs(median(berth))})`, floor: `skopeo ${smbps.toFixed(0)} MB/s`, target: `≥ ${TARGET.pushMBps} MB/s`, ok: mbps >= TARGET.pushMBps });
    });

    await section('c', 'docker save / docker load of a ~107 MB image', async () => {
      // The image: busybox's layer plus ~105 MB in two layers, loaded from an archive (uncompressed blobs, as load keeps them).
      const src = path.join(d.dir, 'img107');
      const l1 = benchLayer(10, 52 << 20);
      const l2 = benchLayer(11, 52 << 20);
      const loadLayout = path.join(src, 'oci');
      const built = writeOciImage(loadLayout, process.arch === 'arm64' ? 'arm64' : 'amd64', [l1, l2]);
      writeOciLayout(loadLayout, 'v1', [{ img: built, arch: 'amd64' }]);
      const arch = path.join(src, 'seed.tar');
      const sc = nsExec(d, SKOPEO_BIN, ['--insecure-policy', 'copy', `oci:${loadLayout}:v1`, `docker-archive:${arch}:bench/img107:1`], { timeoutMs: 300_000 });
      if (sc.code !== 0) throw new Error(`skopeo docker-archive: ${sc.stderr}`);
      const seed = await d.docker(['load', '-i', arch], { timeoutMs: 300_000 });
      if (seed.code !== 0) throw new Error(`seed load: ${seed.stderr}`);
      const size = Number((await d.docker(['image', 'inspect', '-f', '{{.Size}}', 'bench/img107:1'])).stdout.trim());
      const saves: number[] = [];
      const loads: number[] = [];
      const file = path.join(src, 'saved.tar');
      for (let i = 0; i < Math.max(RUNS, 3); i++) {
        fs.rmSync(file, { force: true });
        const [sms, sr] = await timed(() => d.docker(['save', '-o', file, 'bench/img107:1'], { timeoutMs: 300_000 }));
        if (sr.code !== 0) throw new Error(`docker save: ${sr.stderr}`);
        saves.push(sms);
        const rm = await d.docker(['rmi', 'bench/img107:1']);
        if (rm.code !== 0) throw new Error(`rmi: ${rm.stderr}`);
        await waitLayersGone(d);
        const [lms, lr] = await timed(() => d.docker(['load', '-i', file], { timeoutMs: 300_000 }));
        if (lr.code !== 0) throw new Error(`docker load: ${lr.stderr}`);
        loads.push(lms);
      }
      console.log(`   image ${(size / 1e6).toFixed(0)} MB; archive ${(fs.statSync(file).size / 1e6).toFixed(0)} MB; save ${saves.map(fmtMs).join(', ')}; load ${loads.map(fmtMs).join(', ')}`);
      const cat = await timed(async () => nsExec(d, 'sh', ['-c', `cat ${file} > /dev/null`]));
      rows.push({ name: '(c) docker save ~107 MB', figure: `med ${fmtMs(median(saves))}`, floor: `cat ${fmtMs(cat[0])}`, target: `≤ ${fmtMs(TARGET.saveMs)}`, ok: median(saves) <= TARGET.saveMs });
      rows.push({ name: '(c) docker load ~107 MB (into no layers)', figure: `med ${fmtMs(median(loads))}`, floor: '-', target: `≤ ${fmtMs(TARGET.loadMs)}`, ok: median(loads) <= TARGET.loadMs });
    });
  } catch (e) {
    console.log(`bench aborted: ${(e as Error).message}\n--- berthd log tail ---\n${d.logTail(40)}`);
    process.exitCode = 1;
  } finally {
    for (const r of regs) await r.stop().catch(() => undefined);
    d.cleanup();
  }
  console.log('\n== summary (targets from issue 5; see TARGET in bench/registry-transfer.bench.ts)');
  printTable(rows);
}

void main();
