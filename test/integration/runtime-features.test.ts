// Issue 3: resource limits, OOM, stats, health checks, restart policies,
// events, pause, Docker's security defaults, --init and log rotation —
// all through the real docker CLI.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { expectCode, expectMatch, okOut, pidAlive, skipUnlessRoot, sleep, useDaemon, waitFor } from '../harness';

const V2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
function cg(ctrl: string, id: string, file: string): string {
  return V2 ? `/sys/fs/cgroup/berth/${id}/${file}` : `/sys/fs/cgroup/${ctrl}/berth/${id}/${file}`;
}

describe('runtime features (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  const id = async (name: string): Promise<string> => okOut(await d.docker(['inspect', '-f', '{{.Id}}', name]), 'inspect id');

  it('--memory 32m: a 100 MB allocation is OOM-killed: exit 137, OOMKilled, oom event', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    // doubling a shell string quickly exceeds 32 MB
    const r = await d.docker(['run', '--name', 'oom', '--memory', '32m', 'busybox', 'sh', '-c', 'x=aaaaaaaa; while true; do x="$x$x"; done']);
    expectCode(r, 137, 'run --memory 32m');
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'oom']), 'inspect'), 'true 137');
    const ev = okOut(await d.docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'container=oom', '--format', '{{.Action}}']), 'events');
    expectMatch(ev, /^oom$/m, 'oom event');
    expectMatch(ev, /^die$/m, 'die event');
    await d.docker(['rm', 'oom']);
  });

  it('--pids-limit 20: a fork loop hits the limit and the host is unharmed', async () => {
    const r = await d.docker(['run', '--rm', '--pids-limit', '20', 'busybox', 'sh', '-c',
      'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done; echo all-forked']);
    assert.equal(r.stdout.split('\n')[0], '20', `pids.max: ${r.stdout}`);
    assert.ok(!r.stdout.includes('all-forked'), 'the 40 forks cannot all succeed');
    expectMatch(r.stderr, /fork|Resource temporarily unavailable/i, 'fork failure');
    // the host still forks fine
    expectCode(await d.docker(['version', '--format', '{{.Server.Version}}']), 0, 'host unharmed');
  });

  it('--cpus 0.5: a busy loop uses at most 50% + 15% of a CPU measured from the cgroup, and is throttled', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'cpu', '--cpus', '0.5', 'busybox', 'sh', '-c', 'while true; do :; done']), 'run');
    const cid = await id('cpu');
    const usage = (): number => V2
      ? Number(/usage_usec (\d+)/.exec(fs.readFileSync(cg('cpu', cid, 'cpu.stat'), 'utf8'))![1]) * 1000
      : Number(fs.readFileSync(cg('cpuacct', cid, 'cpuacct.usage'), 'utf8'));
    await sleep(500);
    const u0 = usage(), t0 = process.hrtime.bigint();
    await sleep(3000);
    const u1 = usage(), t1 = process.hrtime.bigint();
    const pct = ((u1 - u0) / Number(t1 - t0)) * 100;
    // The quota is a ceiling: on a busy machine the loop may get less than
    // its half, so the floor is the cgroup's own proof that the quota bit.
    assert.ok(pct < 65, `cpu ${pct.toFixed(1)}%`);
    const throttled = Number(/nr_throttled (\d+)/.exec(fs.readFileSync(cg('cpu', cid, 'cpu.stat'), 'utf8'))?.[1] ?? 0);
    assert.ok(pct > 35 || throttled > 0, `cpu ${pct.toFixed(1)}%, never throttled`);
    await d.docker(['rm', '-f', 'cpu']);
  });

  it('docker update --memory changes the cgroup of a running container', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'upd', '--memory', '64m', 'busybox', 'sleep', '100']), 'run');
    const cid = await id('upd');
    const file = V2 ? cg('memory', cid, 'memory.max') : cg('memory', cid, 'memory.limit_in_bytes');
    assert.equal(fs.readFileSync(file, 'utf8').trim(), String(64 * 1024 * 1024));
    okOut(await d.docker(['update', '--memory', '96m', '--memory-swap', '192m', 'upd']), 'update');
    assert.equal(fs.readFileSync(file, 'utf8').trim(), String(96 * 1024 * 1024));
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.HostConfig.Memory}}', 'upd']), 'inspect'), String(96 * 1024 * 1024));
    await d.docker(['rm', '-f', 'upd']);
  });

  it('stats --no-stream of three containers: memory within 10% of the cgroup figure', async () => {
    const names = ['st1', 'st2', 'st3'];
    for (const n of names) okOut(await d.docker(['run', '-d', '--name', n, 'busybox', 'sh', '-c', 'x=$(head -c 2000000 /dev/zero | tr "\\0" a); sleep 100']), 'run');
    await sleep(1000);
    const out = okOut(await d.docker(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.CPUPerc}} {{.PIDs}}', ...names]), 'stats');
    const toBytes = (s: string): number => {
      const m = /^([\d.]+)([KMG]i?B|B)$/.exec(s)!;
      const mult: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, kB: 1e3, MB: 1e6, GB: 1e9 };
      return Number(m[1]) * (mult[m[2]!] ?? 1);
    };
    for (const line of out.split('\n')) {
      const [name, used] = line.split(' ');
      const cid = await id(name!);
      let actual: number;
      if (V2) {
        const stat = fs.readFileSync(cg('memory', cid, 'memory.stat'), 'utf8');
        actual = Number(fs.readFileSync(cg('memory', cid, 'memory.current'), 'utf8')) - Number(/^inactive_file (\d+)/m.exec(stat)![1]);
      } else {
        const stat = fs.readFileSync(cg('memory', cid, 'memory.stat'), 'utf8');
        actual = Number(fs.readFileSync(cg('memory', cid, 'memory.usage_in_bytes'), 'utf8')) - Number(/^total_inactive_file (\d+)/m.exec(stat)![1]);
      }
      const shown = toBytes(used!);
      assert.ok(Math.abs(shown - actual) <= actual * 0.1 + 64 * 1024, `${name}: stats ${shown} vs cgroup ${actual}`);
    }
    await d.docker(['rm', '-f', ...names]);
  });

  it('a health check that fails after 3 passes goes healthy, then unhealthy after retries, with events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    okOut(await d.docker(['run', '-d', '--name', 'hc', '--health-cmd', 'test -f /tmp/ok', '--health-interval', '1s', '--health-retries', '2',
      'busybox', 'sh', '-c', 'touch /tmp/ok; sleep 3.5; rm /tmp/ok; sleep 100']), 'run');
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.State.Health.Status}}', 'hc']), 'inspect'), 'starting');
    await waitFor('healthy', async () => okOut(await d.docker(['inspect', '-f', '{{.State.Health.Status}}', 'hc']), 'inspect') === 'healthy', { timeoutMs: 3000 });
    expectMatch(okOut(await d.docker(['ps', '--filter', 'name=hc', '--format', '{{.Status}}']), 'ps'), /\(healthy\)$/, 'ps status');
    // 3 passes (1 s apart), then two failures with retries=2
    await waitFor('unhealthy', async () => okOut(await d.docker(['inspect', '-f', '{{.State.Health.Status}}', 'hc']), 'inspect') === 'unhealthy', { timeoutMs: 6000 });
    const detail = okOut(await d.docker(['inspect', '-f', '{{.State.Health.FailingStreak}} {{len .State.Health.Log}} {{.State.Running}}', 'hc']), 'inspect');
    expectMatch(detail, /^[2-9] [1-5] true$/, 'failing streak, log and still running');
    const ev = okOut(await d.docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'container=hc', '--format', '{{.Action}}']), 'events');
    expectMatch(ev, /health_status: healthy\n(.|\n)*health_status: unhealthy/, 'health events in order');
    await d.docker(['rm', '-f', 'hc']);
  });

  it('on-failure:3 of exit 1: RestartCount 3, then Exited', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'of', '--restart', 'on-failure:3', 'busybox', 'sh', '-c', 'exit 1']), 'run');
    await waitFor('three restarts', async () => okOut(await d.docker(['inspect', '-f', '{{.RestartCount}} {{.State.Status}}', 'of']), 'inspect') === '3 exited', { timeoutMs: 8000 });
    await sleep(1000);
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}', 'of']), 'inspect'), '3 exited 1');
    await d.docker(['rm', '-f', 'of']);
  });

  it('--rm and a restart policy conflict as in Docker', async () => {
    const r = await d.docker(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
    assert.notEqual(r.code, 0);
    expectMatch(r.stderr, /conflicting options|AutoRemove|restart policy/i, 'error');
  });

  it('an always container comes back after berthd restarts; a stopped unless-stopped one does not', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'alw', '--restart', 'always', 'busybox', 'sleep', '1000']), 'run');
    okOut(await d.docker(['run', '-d', '--name', 'uls', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']), 'run');
    okOut(await d.docker(['stop', '-t', '0', 'uls']), 'stop');
    const pid = Number(okOut(await d.docker(['inspect', '-f', '{{.State.Pid}}', 'alw']), 'inspect'));
    await d.kill('SIGKILL');
    process.kill(pid, 'SIGKILL'); // it dies while berthd is down
    await waitFor('container process gone', () => !pidAlive(pid), { timeoutMs: 5000 });
    await d.start();
    await waitFor('always container running again', async () => okOut(await d.docker(['inspect', '-f', '{{.State.Status}}', 'alw']), 'inspect') === 'running', { timeoutMs: 8000 });
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.State.Status}}', 'uls']), 'inspect'), 'exited');
    await d.docker(['rm', '-f', 'alw', 'uls']);
  });

  it('events --since replays create/start/die of a finished container with its exitCode', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    expectCode(await d.docker(['run', '--name', 'evt', 'busybox', 'sh', '-c', 'exit 4']), 4, 'run');
    await sleep(200);
    const out = okOut(await d.docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'container=evt', '--format', '{{.Action}} {{index .Actor.Attributes "exitCode"}}']), 'events');
    const actions = out.split('\n').map((l) => l.trim());
    const i = actions.findIndex((a) => a.startsWith('create'));
    assert.ok(i >= 0, out);
    assert.ok(actions.indexOf('start <no value>') > i || actions.some((a) => a.startsWith('start')), out);
    assert.ok(actions.includes('die 4'), out);
    await d.docker(['rm', 'evt']);
  });

  it('pause and unpause through the freezer; ps shows (Paused)', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'pz', 'busybox', 'sleep', '100']), 'run');
    okOut(await d.docker(['pause', 'pz']), 'pause');
    expectMatch(okOut(await d.docker(['ps', '--filter', 'name=pz', '--format', '{{.Status}}']), 'ps'), /\(Paused\)$/, 'ps');
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'pz']), 'inspect'), 'paused true');
    okOut(await d.docker(['unpause', 'pz']), 'unpause');
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.State.Status}}', 'pz']), 'inspect'), 'running');
    await d.docker(['rm', '-f', 'pz']);
  });

  it("a default container has Docker's capabilities, cannot unshare -U or mount; /proc/kcore is masked; --privileged can", async () => {
    const out = okOut(await d.docker(['run', '--rm', 'busybox', 'sh', '-c',
      'grep CapEff /proc/self/status; unshare -U true 2>/dev/null; echo unshare=$?; mkdir -p /m; mount -t tmpfs none /m 2>/dev/null; echo mount=$?; if [ -e /proc/kcore ]; then wc -c < /proc/kcore; else echo absent; fi']), 'default');
    expectMatch(out, /CapEff:\s+00000000a80425fb/, 'Docker default capability set');
    expectMatch(out, /unshare=[1-9]/, 'unshare -U fails');
    expectMatch(out, /mount=[1-9]/, 'mount fails');
    expectMatch(out, /\n(0|absent)$/, '/proc/kcore is empty or absent');
    const priv = okOut(await d.docker(['run', '--rm', '--privileged', 'busybox', 'sh', '-c',
      'unshare -U true; echo unshare=$?; mkdir -p /m; mount -t tmpfs none /m; echo mount=$?']), 'privileged');
    expectMatch(priv, /unshare=0/, 'privileged unshare');
    expectMatch(priv, /mount=0/, 'privileged mount');
  });

  it('--init: PID 1 is the init, zombies are reaped, stop is fast when the shell ignores SIGTERM only as Docker', async () => {
    const out = okOut(await d.docker(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo']), 'init');
    expectMatch(out, /^\/sbin\/docker-init -- sh -c/, 'PID 1 is the init');
    // A zombie left by an exiting child of PID-1's child is reaped by the init.
    okOut(await d.docker(['run', '-d', '--name', 'zb', '--init', 'busybox', 'sh', '-c', '(sleep 0.1 &) ; sleep 100']), 'run');
    await sleep(800);
    const ps = okOut(await d.docker(['exec', 'zb', 'ps', '-o', 'stat,comm']), 'ps');
    assert.ok(!/^Z/m.test(ps), `no zombies: ${ps}`);
    // sh as the init's child ignores SIGTERM only if it traps it: docker stop then waits for the timeout, as Docker does.
    okOut(await d.docker(['run', '-d', '--name', 'trap', '--init', 'busybox', 'sh', '-c', 'trap "" TERM; sleep 100']), 'run');
    const t0 = Date.now();
    okOut(await d.docker(['stop', '-t', '2', 'trap']), 'stop');
    assert.ok(Date.now() - t0 >= 1800, 'a shell that ignores SIGTERM waits for the timeout');
    okOut(await d.docker(['run', '-d', '--name', 'notrap', '--init', 'busybox', 'sleep', '100']), 'run');
    const t1 = Date.now();
    okOut(await d.docker(['stop', '-t', '10', 'notrap']), 'stop');
    assert.ok(Date.now() - t1 < 3000, `stop through the init is fast (${Date.now() - t1} ms)`);
    await d.docker(['rm', '-f', 'zb', 'trap', 'notrap']);
  });

  it('log rotation: max-size=10k max-file=3 keeps at most 3 files and logs returns the newest lines in order', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'rot', '--log-opt', 'max-size=10k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c',
      'i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); [ $((i % 100)) = 0 ] && sleep 0.05; done; sleep 100']), 'run');
    await waitFor('all lines written', async () => (await d.docker(['logs', '--tail', '1', 'rot'])).stdout.trim() === 'line 2999', { timeoutMs: 10000 });
    await sleep(500);
    const dir = okOut(await d.docker(['inspect', '-f', '{{.LogPath}}', 'rot']), 'inspect');
    const files = fs.readdirSync(dir.replace(/\/[^/]+$/, '')).filter((f) => f.startsWith('container.log'));
    assert.ok(files.length <= 3, `at most 3 files: ${files.join(' ')}`);
    const lines = okOut(await d.docker(['logs', 'rot']), 'logs').split('\n').map((l) => Number(l.split(' ')[1]));
    assert.equal(lines[lines.length - 1], 2999);
    for (let i = 1; i < lines.length; i++) assert.equal(lines[i], lines[i - 1]! + 1, 'consecutive, newest last');
    assert.ok(lines.length < 3000, 'old lines were rotated away');
    await d.docker(['rm', '-f', 'rot']);
  });
});
