// Filesystem benchmarks (issue 6): figures beside floors measured in the same run.
//
//   (a) docker cp of a 200 MB directory into and out of a running container vs `tar | tar` of the same tree
//   (b) docker commit of a container with 10,000 changed files vs tar of its writable layer
//   (c) system df with 200 containers and 50 images: cold (after a restart) and cached
//
// Env: BENCH_RUNS (default 5 here: each run moves 200 MB), BENCH_ONLY=a,c to run some sections.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Daemon, DOCKER_BIN, run, type RunResult } from '../test/harness';
import { fmtMs, median, p90, printTable, type Row } from './stats';

const RUNS = Math.max(1, Math.min(Number(process.env['BENCH_RUNS'] ?? 5), 10));
const ONLY = (process.env['BENCH_ONLY'] ?? '').split(',').filter(Boolean);
const want = (s: string): boolean => ONLY.length === 0 || ONLY.includes(s);
const TARGET = { cpOverTar: 1.5 };
const rows: Row[] = [];

const summary = (v: number[]): string => `med ${fmtMs(median(v))} p90 ${fmtMs(p90(v))}`;

function must(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
  return r;
}

/** 200 MB: 40 directories, each with one 4 MB file and fifty 20 KB files (about 2,000 files). */
function makeTree(dir: string): number {
  let bytes = 0;
  for (let i = 0; i < 40; i++) {
    const sub = path.join(dir, `d${i}`);
    fs.mkdirSync(sub, { recursive: true });
    const big = Buffer.alloc(4 << 20, i);
    fs.writeFileSync(path.join(sub, 'big.bin'), big);
    bytes += big.length;
    for (let j = 0; j < 50; j++) {
      const small = Buffer.alloc(20000, j);
      fs.writeFileSync(path.join(sub, `s${j}.bin`), small);
      bytes += small.length;
    }
  }
  return bytes;
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

async function timed(fn: () => Promise<RunResult>, what: string): Promise<number> {
  const t0 = performance.now();
  must(await fn(), what);
  return performance.now() - t0;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('bench: needs root (namespaces, mounts, runc); skipping');
    return;
  }
  console.log(`berth filesystem benchmarks — ${new Date().toISOString()} — node ${process.version}, ${os.cpus().length} CPUs, runs: ${RUNS}`);
  const d = new Daemon({ logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'info' });
  try {
    await d.start();
    await d.loadBusybox();
    const env = d.env;
    const docker = (args: string[], timeoutMs = 300_000): Promise<RunResult> => run(DOCKER_BIN, args, { env, timeoutMs });

    await section('a', 'docker cp of a 200 MB directory vs tar | tar', async () => {
      const tree = path.join(d.dir, 'bench-tree');
      const bytes = makeTree(tree);
      console.log(`   tree: ${(bytes / 1e6).toFixed(0)} MB in ${fs.readdirSync(tree).length} directories`);
      must(await docker(['run', '-d', '--name', 'cpbench', '--network', 'none', 'busybox', 'sleep', '100000']), 'run');
      const merged = must(await docker(['inspect', '--format', '{{.GraphDriver.Data.MergedDir}}', 'cpbench']), 'inspect').stdout.trim();
      const ns = ['nsenter', `--mount=${d.sandbox.mntNs}`, '--'];
      const tarball = path.join(d.dir, 'bench-tree.tar');
      must(await run('tar', ['-C', path.dirname(tree), '-cf', tarball, path.basename(tree)]), 'tarball');
      const floor: number[] = [];
      const floorOverlay: number[] = [];
      const into: number[] = [];
      const out: number[] = [];
      const put: number[] = [];
      const get: number[] = [];
      for (let i = -1; i < RUNS; i++) {
        const dst = path.join(d.dir, 'bench-floor');
        fs.rmSync(dst, { recursive: true, force: true });
        fs.mkdirSync(dst);
        const tf = await timed(() => run('bash', ['-c', `tar -C ${tree} -cf - . | tar -C ${dst} -xf -`], { timeoutMs: 300_000 }), 'tar | tar');
        fs.rmSync(dst, { recursive: true, force: true });
        // the same, extracting into the container's root filesystem (overlayfs, where docker cp has to write)
        must(await run(ns[0]!, [...ns.slice(1), 'mkdir', '-p', `${merged}/tmp/floor`]), 'mkdir');
        const to2 = await timed(() => run(ns[0]!, [...ns.slice(1), 'bash', '-c', `tar -C ${tree} -cf - . | tar -C ${merged}/tmp/floor -xf -`], { timeoutMs: 300_000 }), 'tar | tar into the rootfs');
        must(await docker(['exec', 'cpbench', 'rm', '-rf', '/tmp/floor']), 'cleanup');
        const ti = await timed(() => docker(['cp', tree, `cpbench:/tmp/t`]), 'cp into');
        const o = path.join(d.dir, 'bench-out');
        fs.rmSync(o, { recursive: true, force: true });
        const to = await timed(() => docker(['cp', 'cpbench:/tmp/t', o]), 'cp out of');
        fs.rmSync(o, { recursive: true, force: true });
        // the daemon's part alone: the archive endpoints driven by curl
        const tg = await timed(() => run('curl', ['-sf', '--unix-socket', d.sock, '-o', '/dev/null', 'http://berth/containers/cpbench/archive?path=/tmp/t']), 'GET archive');
        must(await docker(['exec', 'cpbench', 'rm', '-rf', '/tmp/t']), 'cleanup');
        const tp = await timed(() => run('curl', ['-sf', '--unix-socket', d.sock, '-X', 'PUT', '-T', tarball, 'http://berth/containers/cpbench/archive?path=/tmp']), 'PUT archive');
        must(await docker(['exec', 'cpbench', 'rm', '-rf', `/tmp/${path.basename(tree)}`]), 'cleanup');
        if (i < 0) continue; // warm-up
        floor.push(tf);
        floorOverlay.push(to2);
        into.push(ti);
        out.push(to);
        put.push(tp);
        get.push(tg);
      }
      const fm = median(floor);
      const fo = median(floorOverlay);
      console.log([
        `   tar | tar, host to host (floor)          ${summary(floor)}`,
        `   tar | tar into the container's rootfs    ${summary(floorOverlay)}`,
        `   docker cp into                           ${summary(into)}`,
        `   docker cp out of                         ${summary(out)}`,
        `   PUT archive of a tar file (curl)         ${summary(put)}`,
        `   GET archive to /dev/null (curl)          ${summary(get)}`,
      ].join('\n'));
      rows.push({ name: '(a) cp 200 MB into a container', figure: summary(into), floor: `tar|tar ${fmtMs(fm)}`, target: `≤ ${TARGET.cpOverTar}× (${fmtMs(fm * TARGET.cpOverTar)})`, ok: median(into) <= fm * TARGET.cpOverTar });
      rows.push({ name: '(a) cp 200 MB into, vs tar into the rootfs', figure: summary(into), floor: `tar|tar ${fmtMs(fo)}`, target: `≤ ${TARGET.cpOverTar}× (${fmtMs(fo * TARGET.cpOverTar)})`, ok: median(into) <= fo * TARGET.cpOverTar });
      rows.push({ name: '(a) cp 200 MB out of a container', figure: summary(out), floor: `tar|tar ${fmtMs(fm)}`, target: `≤ ${TARGET.cpOverTar}× (${fmtMs(fm * TARGET.cpOverTar)})`, ok: median(out) <= fm * TARGET.cpOverTar });
      rows.push({ name: '(a) daemon part: PUT / GET archive (curl)', figure: `PUT ${fmtMs(median(put))} GET ${fmtMs(median(get))}`, floor: '-', target: '-', note: 'without the CLI\'s own tar work' });
      fs.rmSync(tarball, { force: true });
      must(await docker(['rm', '-f', 'cpbench']), 'rm');
      fs.rmSync(tree, { recursive: true, force: true });
    });

    await section('b', 'docker commit of a container with 10,000 changed files', async () => {
      const make = 'mkdir -p /many && cd /many && i=0; while [ $i -lt 100 ]; do mkdir d$i; j=0; while [ $j -lt 100 ]; do echo $i-$j > d$i/f$j; j=$((j+1)); done; i=$((i+1)); done';
      const times: number[] = [];
      const floor: number[] = [];
      const floorX: number[] = [];
      for (let i = -1; i < Math.min(RUNS, 5); i++) {
        const name = `many${i + 1}`;
        must(await docker(['run', '--name', name, '--network', 'none', 'busybox', 'sh', '-c', make]), 'make 10,000 files');
        const id = must(await docker(['inspect', '--format', '{{.Id}}', name]), 'inspect').stdout.trim();
        const upper = path.join(d.dataRoot, 'snapshots', 'rw', id, 'upper');
        const tf = await timed(() => run('bash', ['-c', `tar -C ${upper} -cf - . | sha256sum >/dev/null`]), 'tar floor');
        const tc = await timed(() => docker(['commit', name, `many:${i + 1}`]), 'commit');
        // what any commit has to do besides reading: create the 10,000 files of the new layer
        const xdir = path.join(d.dataRoot, `bench-x${i + 1}`);
        fs.mkdirSync(xdir);
        const tx = await timed(() => run('bash', ['-c', `tar -C ${upper} -cf - . | tar -C ${xdir} -xf -`]), 'tar | tar -x floor');
        fs.rmSync(xdir, { recursive: true, force: true });
        must(await docker(['rm', name]), 'rm');
        must(await docker(['rmi', `many:${i + 1}`]), 'rmi');
        if (i < 0) continue;
        times.push(tc);
        floor.push(tf);
        floorX.push(tx);
      }
      console.log(`   tar | sha256sum of the layer (floor) ${summary(floor)}\n   tar | tar -x of the layer (floor)    ${summary(floorX)}\n   docker commit                        ${summary(times)}`);
      rows.push({ name: '(b) commit, 10,000 changed files', figure: summary(times), floor: `tar+sha256 ${fmtMs(median(floor))}, tar|tar -x ${fmtMs(median(floorX))}`, target: '< 1 s', ok: median(times) < 1000 });
    });

    await section('c', 'system df with 200 containers and 50 images', async () => {
      // 50 images: commits of a small container, each with its own label
      must(await docker(['run', '--name', 'imgsrc', '--network', 'none', 'busybox', 'sh', '-c', 'echo base > /base']), 'image source');
      for (let i = 0; i < 49; i++) must(await docker(['commit', '-c', `LABEL n=${i}`, 'imgsrc', `dfimg:${i}`]), 'commit');
      // 200 containers that each wrote a file (created and run through the API, several at a time)
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < 200) {
          const i = next++;
          const c = await d.api<{ Id: string }>('POST', `/containers/create?name=dfc${i}`, {
            Image: i % 2 ? 'busybox' : `dfimg:${i % 49}`, Cmd: ['sh', '-c', `head -c ${1000 + i * 10} /dev/zero > /f${i}`], HostConfig: { NetworkMode: 'none' },
          });
          if (c.status !== 201) throw new Error(`create: ${c.status} ${c.text}`);
          const s = await d.api('POST', `/containers/${c.json.Id}/start`);
          if (s.status !== 204) throw new Error(`start: ${s.status} ${s.text}`);
          await d.api('POST', `/containers/${c.json.Id}/wait`);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      const cold: number[] = [];
      const cached: number[] = [];
      for (let i = 0; i < Math.min(RUNS, 3); i++) {
        await d.restart();
        const t0 = performance.now();
        const r = await d.api<{ Containers: unknown[]; Images: unknown[] }>('GET', '/system/df', undefined, { timeoutMs: 120_000 });
        cold.push(performance.now() - t0);
        if (r.status !== 200 || r.json.Containers.length < 201 || r.json.Images.length < 50) throw new Error(`system df: ${r.status} ${r.text.slice(0, 200)}`);
        for (let k = 0; k < 10; k++) {
          const t1 = performance.now();
          await d.api('GET', '/system/df');
          cached.push(performance.now() - t1);
        }
      }
      const cli: number[] = [];
      for (let i = 0; i < 5; i++) cli.push(await timed(() => docker(['system', 'df', '-v']), 'docker system df -v'));
      console.log(`   GET /system/df cold   ${summary(cold)}\n   GET /system/df cached ${summary(cached)}\n   docker system df -v   ${summary(cli)}`);
      rows.push({ name: '(c) system df, 200 containers/50 images, cold', figure: summary(cold), floor: '-', target: '-', note: 'after a restart' });
      rows.push({ name: '(c) system df, cached', figure: summary(cached), floor: `cold ${fmtMs(median(cold))}`, target: '-', note: 'sizes from the cache' });
      rows.push({ name: '(c) docker system df -v (CLI wall time)', figure: summary(cli), floor: '-', target: '-', note: '' });
    });
  } finally {
    console.log('');
    printTable(rows);
    d.cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
