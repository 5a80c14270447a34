// Crash safety: SIGKILL berthd at random moments while containers are being
// created, started and removed; every restart must load, the state must be
// consistent with the kernel, and rm -f of everything must leave no mounts,
// runc states or processes behind.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { expectCode, okOut, pidAlive, ping, skipUnlessRoot, sleep, useDaemon, waitFor } from '../harness';

/** Small seeded PRNG (mulberry32) so a failing run can be replayed with BERTH_TEST_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Summary {
  Id: string;
  Names: string[];
  State: string;
}
interface Inspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number };
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** Every path under dir (down to maxDepth) whose name contains one of the ids. */
function pathsMentioning(dir: string, ids: string[], maxDepth = 8): string[] {
  const hits: string[] = [];
  const walk = (p: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(p, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(p, e.name);
      if (ids.some((id) => e.name.includes(id))) hits.push(full);
      if (e.isDirectory() && depth < maxDepth) walk(full, depth + 1);
    }
  };
  walk(dir, 0);
  return hits;
}

describe('crash safety under random SIGKILLs', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  it('create/start/rm of 50 containers with berthd SIGKILLed at random moments', { timeout: 10 * 60_000 }, async () => {
    const seed = Number(process.env['BERTH_TEST_SEED'] ?? Date.now() % 1_000_000);
    console.log(`crash test seed: ${seed} (replay with BERTH_TEST_SEED=${seed})`);
    const rand = prng(seed);
    const baselineMounts = new Set(d.mounts());
    const seenIds = new Set<string>();
    const problems: string[] = [];
    const restartMs: number[] = [];
    let done = false;

    /** A light check after each restart (ops keep running meanwhile, so a mismatch is re-checked once). */
    const consistencyProblems = async (): Promise<string[]> => {
      const out: string[] = [];
      const list = await d.api<Summary[]>('GET', '/containers/json?all=1').catch((e: Error) => ({ status: 0, text: e.message, json: [] as Summary[] }));
      if (list.status !== 200) return [`GET /containers/json?all=1 → ${list.status} ${list.text}`];
      for (const c of list.json) {
        const ins = await d.api<Inspect>('GET', `/containers/${c.Id}/json`);
        if (ins.status === 404) continue; // removed meanwhile by the loop
        if (ins.status !== 200) out.push(`inspect ${c.Names[0]} → ${ins.status}`);
        else if (ins.json.State.Running && !pidAlive(ins.json.State.Pid)) {
          await sleep(200);
          const again = await d.api<Inspect>('GET', `/containers/${c.Id}/json`);
          if (again.status === 200 && again.json.State.Running && !pidAlive(again.json.State.Pid)) out.push(`${c.Names[0]} "running" with dead pid ${again.json.State.Pid}`);
        }
      }
      return out;
    };

    let startupKills = 0;
    const killer = (async () => {
      while (!done) {
        await sleep(150 + rand() * 850);
        if (done) break;
        await d.kill('SIGKILL');
        if (rand() < 0.3) {
          // Sometimes crash it again while it is starting up (recovering its state).
          const early = d.start().catch(() => undefined);
          await sleep(rand() * 150);
          await d.kill('SIGKILL');
          await early;
          startupKills++;
        }
        try {
          restartMs.push(await d.start());
        } catch (e) {
          problems.push(`restart #${restartMs.length + 1} failed: ${(e as Error).message}`);
          done = true;
          break;
        }
        const p = await consistencyProblems();
        if (p.length > 0) problems.push(`after restart #${restartMs.length}: ${p.join('; ')}`);
      }
    })();

    /** Runs a docker command, retrying while the daemon is down; returns the last result. */
    const op = async (args: string[]): Promise<void> => {
      for (let attempt = 0; attempt < 6; attempt++) {
        const r = await d.docker(args, { timeoutMs: 30_000 });
        if (r.code === 0) {
          if (args[0] === 'create') seenIds.add(r.stdout.trim());
          return;
        }
        if (/Cannot connect|connection refused|connection reset|EOF|no such file or directory.*sock|broken pipe|Is the docker daemon running/i.test(r.stderr)) {
          await waitFor('berthd back', () => ping(d.sock, 500), { timeoutMs: 40_000 }).catch(() => undefined);
          continue;
        }
        return; // a daemon answer (e.g. 409 after a create whose reply was lost): move on
      }
    };

    try {
      for (let i = 0; i < 50 && problems.length === 0; i++) {
        const name = `crash-${i}`;
        await op(['create', '--name', name, 'busybox', 'sleep', '1000']);
        await op(['start', name]);
        if (i % 2 === 0) await op(['rm', '-f', name]);
      }
    } finally {
      done = true;
      await killer;
    }
    assert.deepEqual(problems, [], 'every restart loads');
    assert.ok(restartMs.length >= 3, `only ${restartMs.length} kills happened`);
    console.log(`berthd was SIGKILLed ${restartMs.length + startupKills} times (${startupKills} of them during start-up); restart → /_ping ms: ${restartMs.join(', ')}`);

    // One last crash, so the state checked below is what berthd rebuilds from disk.
    await d.kill('SIGKILL');
    await d.start();

    const list = await d.api<Summary[]>('GET', '/containers/json?all=1');
    assert.equal(list.status, 200, list.text);
    const names = new Set<string>();
    const runningPids = new Set<number>();
    for (const c of list.json) {
      seenIds.add(c.Id);
      const name = c.Names[0] ?? '';
      assert.ok(!names.has(name), `duplicate name ${name}`);
      names.add(name);
      assert.match(name, /^\/crash-\d+$/);
      const ins = await d.api<Inspect>('GET', `/containers/${c.Id}/json`);
      assert.equal(ins.status, 200, `inspect of listed container ${name}: ${ins.text}`);
      const st = ins.json.State;
      assert.ok(['created', 'running', 'exited', 'dead'].includes(st.Status), `${name} is in state ${st.Status}`);
      assert.equal(c.State, st.Status, `${name}: ps says ${c.State}, inspect says ${st.Status}`);
      if (st.Running) {
        assert.ok(pidAlive(st.Pid), `${name} is "running" with pid ${st.Pid}, which is not alive`);
        assert.equal(cmdline(st.Pid), 'sleep 1000', `${name}'s pid ${st.Pid} runs something else`);
        runningPids.add(st.Pid);
      } else {
        assert.equal(st.Pid, 0, `${name} is ${st.Status} but has pid ${st.Pid}`);
      }
    }
    // No container process the daemon does not know about.
    const sleeps = d.pids().filter((p) => comm(p) === 'sleep' && cmdline(p) === 'sleep 1000');
    assert.deepEqual(sleeps.sort(), [...runningPids].sort(), 'container processes in the sandbox ≠ running containers in ps -a');
    const cli = await d.docker(['ps', '-a', '-q', '--no-trunc']);
    expectCode(cli, 0, 'docker ps -a');
    assert.equal(cli.stdout.trim().split('\n').filter(Boolean).length, list.json.length, 'docker ps -a agrees with the API');

    // rm -f of everything leaves nothing behind.
    if (list.json.length > 0) okOut(await d.docker(['rm', '-f', ...list.json.map((c) => c.Id)], { timeoutMs: 120_000 }), 'rm -f all');
    assert.equal(okOut(await d.docker(['ps', '-aq']), 'ps -aq'), '');
    const leftMounts = d.mounts().filter((m) => !baselineMounts.has(m));
    assert.deepEqual(leftMounts, [], 'mounts left after rm -f of everything');
    assert.deepEqual(d.runcStates(), [], 'runc states left after rm -f of everything');
    const daemonPid = d.pid;
    const leftProcs = d
      .pids()
      .filter((p) => p !== daemonPid && pidAlive(p))
      .map((p) => `${p} ${comm(p)} ${cmdline(p)}`)
      .filter((s) => /conmon|runc|sleep/.test(s));
    assert.deepEqual(leftProcs, [], 'processes left after rm -f of everything');
    const leftPaths = [d.dataRoot, d.execRoot].flatMap((r) => pathsMentioning(r, [...seenIds].filter((id) => /^[0-9a-f]{64}$/.test(id))));
    assert.deepEqual(leftPaths, [], 'files of removed containers left in the data-root/exec-root');
    const fullIds = [...seenIds].filter((id) => /^[0-9a-f]{64}$/.test(id));
    const leftCgroups = fs
      .readdirSync('/sys/fs/cgroup')
      .flatMap((ctrl) => pathsMentioning(path.join('/sys/fs/cgroup', ctrl), fullIds, 4))
      .filter((p) => !p.includes('/.'));
    assert.deepEqual(leftCgroups, [], 'cgroups of removed containers left behind');

    // And the daemon is still fully usable.
    assert.equal(okOut(await d.docker(['run', '--rm', 'busybox', 'echo', 'still-ok']), 'run after the crash loop'), 'still-ok');
  });

  it('a container record left empty (what a power loss may leave of a build container) is dropped at start', async () => {
    const id = okOut(await d.docker(['create', '--name', 'torn', 'busybox', 'true']), 'create');
    await d.stop();
    fs.truncateSync(path.join(d.dataRoot, 'containers', id, 'config.v2.json'), 0);
    await d.start();
    expectCode(await d.docker(['inspect', 'torn']), 1, 'inspect of the dropped container');
    assert.equal(fs.existsSync(path.join(d.dataRoot, 'containers', id)), false);
    assert.equal(okOut(await d.docker(['run', '--rm', '--name', 'torn', 'busybox', 'echo', 'ok']), 'run with the name again'), 'ok');
  });
});
