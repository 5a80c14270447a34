// Live restore: containers outlive a SIGKILLed berthd (conmon keeps them),
// exits while the daemon is down are picked up on restart, and output
// written meanwhile is in the logs.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import * as path from 'node:path';
import { DOCKER_BIN, expectMatch, okOut, pidAlive, skipUnlessRoot, sleep, startBackground, TmuxSession, useDaemon, waitFor } from '../harness';

const PRINTER = 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done';

function ticks(text: string): number[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^tick (\d+)$/.exec(l);
      if (!m) throw new Error(`unexpected log line ${JSON.stringify(l)}`);
      return Number(m[1]);
    });
}

describe('live restore across a SIGKILL of berthd', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  it('three containers survive; one exits 5 while berthd is down; restart sees it all', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'printer', 'busybox', 'sh', '-c', PRINTER]), 'run printer');
    okOut(await d.docker(['run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '1000']), 'run sleeper');
    // Exits with 5 four seconds after it starts: while berthd is down.
    okOut(await d.docker(['run', '-d', '--name', 'quitter', 'busybox', 'sh', '-c', 'sleep 4; exit 5']), 'run quitter');
    const t0 = Date.now();

    const info = async (name: string): Promise<{ pid: number; logPath: string }> => {
      const out = okOut(await d.docker(['inspect', '--format', '{{.State.Pid}} {{.LogPath}}', name]), `inspect ${name}`);
      const [pid, logPath] = out.split(' ');
      return { pid: Number(pid), logPath: logPath ?? '' };
    };
    const printer = await info('printer');
    const sleeper = await info('sleeper');
    const quitter = await info('quitter');
    for (const [n, p] of Object.entries({ printer, sleeper, quitter })) assert.ok(pidAlive(p.pid), `${n} pid ${p.pid} alive before the kill`);

    await waitFor('printer has printed', async () => ticks(okOut(await d.docker(['logs', 'printer']), 'logs')).length >= 5);
    const beforeKill = ticks(okOut(await d.docker(['logs', 'printer']), 'logs printer'));
    const lastBefore = beforeKill[beforeKill.length - 1]!;

    const berthdPid = d.pid!;
    await d.kill('SIGKILL');
    assert.ok(!pidAlive(berthdPid), 'berthd is dead');
    assert.ok(Date.now() - t0 < 3500, 'berthd was killed before the quitter exits (test timing)');

    // While berthd is down: the processes live on, the printer keeps printing.
    await sleep(300);
    assert.ok(pidAlive(printer.pid), 'printer survives the daemon');
    assert.ok(pidAlive(sleeper.pid), 'sleeper survives the daemon');
    assert.ok(pidAlive(quitter.pid), 'quitter survives the daemon (until it exits by itself)');
    let logSize = -1;
    if (printer.logPath && fs.existsSync(printer.logPath)) {
      logSize = fs.statSync(printer.logPath).size;
    }
    await waitFor('the quitter to exit while berthd is down', () => !pidAlive(quitter.pid), { timeoutMs: 10_000 });
    await sleep(500);
    assert.ok(pidAlive(printer.pid) && pidAlive(sleeper.pid), 'the other two still run');
    if (logSize >= 0) assert.ok(fs.statSync(printer.logPath).size > logSize, 'the printer\'s log file grows while berthd is down');
    const downUntil = Date.now();

    await d.start();

    const running = okOut(await d.docker(['ps', '--format', '{{.Names}}']), 'ps').split('\n').sort();
    assert.deepEqual(running, ['printer', 'sleeper'], 'ps shows the two running containers');
    const all = okOut(await d.docker(['ps', '-a', '--format', '{{.Names}}|{{.Status}}']), 'ps -a');
    const q = all.split('\n').find((l) => l.startsWith('quitter|'));
    assert.ok(q, `quitter missing from ps -a:\n${all}`);
    expectMatch(q, /^quitter\|Exited \(5\) /, 'ps -a shows the quitter Exited (5)');
    assert.equal(okOut(await d.docker(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}', 'quitter']), 'inspect quitter'), 'exited 5 0');
    assert.equal(okOut(await d.docker(['inspect', '--format', '{{.State.Status}} {{.State.Pid}}', 'printer']), 'inspect printer'), `running ${printer.pid}`);

    // The printer's lines from the whole downtime are in its logs, without gaps.
    const after = ticks(okOut(await d.docker(['logs', 'printer']), 'logs printer'));
    assert.equal(after[0], 0);
    for (let i = 1; i < after.length; i++) assert.equal(after[i], after[i - 1]! + 1, `gap in the printer's logs at ${after[i - 1]} → ${after[i]}`);
    const downMs = downUntil - t0;
    const last = after[after.length - 1]!;
    assert.ok(last >= lastBefore + Math.floor(downMs / 100 / 3), `logs end at tick ${last}, only ${last - lastBefore} ticks after the kill (down ${downMs} ms)`);

    // The restarted daemon manages the recovered containers fully.
    assert.equal(okOut(await d.docker(['exec', 'sleeper', 'echo', 'reachable']), 'exec after restore'), 'reachable');
    const t1 = Date.now();
    okOut(await d.docker(['stop', '-t', '1', 'printer']), 'stop printer after restore');
    assert.ok(Date.now() - t1 < 5000);
    assert.ok(!pidAlive(printer.pid), 'stop after restore kills the process');
    await d.docker(['wait', 'printer']);
    assert.equal(okOut(await d.docker(['inspect', '--format', '{{.State.Status}}', 'printer']), 'inspect'), 'exited');
    okOut(await d.docker(['rm', '-f', 'printer', 'sleeper', 'quitter']), 'rm -f all');
    assert.ok(!pidAlive(sleeper.pid));
    assert.equal(okOut(await d.docker(['ps', '-aq']), 'ps -aq'), '');
  });

  it('a graceful SIGTERM of berthd also leaves containers running', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'survivor', 'busybox', 'sleep', '1000']), 'run');
    const pid = Number(okOut(await d.docker(['inspect', '--format', '{{.State.Pid}}', 'survivor']), 'inspect'));
    const code = await d.stop();
    assert.equal(code, 0, 'berthd exits 0 on SIGTERM');
    assert.ok(pidAlive(pid), 'container survives a graceful daemon stop');
    await d.start();
    assert.equal(okOut(await d.docker(['inspect', '--format', '{{.State.Status}} {{.State.Pid}}', 'survivor']), 'inspect'), `running ${pid}`);
    // A paused container is found paused again (berthd reads runc's state and the freezer itself).
    okOut(await d.docker(['pause', 'survivor']), 'pause');
    await d.kill('SIGKILL');
    await d.start();
    assert.equal(okOut(await d.docker(['inspect', '--format', '{{.State.Status}} {{.State.Paused}} {{.State.Pid}}', 'survivor']), 'inspect'), `paused true ${pid}`);
    okOut(await d.docker(['unpause', 'survivor']), 'unpause');
    okOut(await d.docker(['rm', '-f', 'survivor']), 'rm -f');
    assert.ok(!pidAlive(pid));
  });

  it('recovered containers stay fully usable: logs -f, attach to a TTY, exec -i', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'rprinter', 'busybox', 'sh', '-c', PRINTER]), 'run');
    okOut(await d.docker(['run', '-dit', '--name', 'rtty', 'busybox', 'sh']), 'run -dit');
    await sleep(300);
    await d.kill('SIGKILL');
    await sleep(500);
    await d.start();

    const follow = startBackground(DOCKER_BIN, ['logs', '-f', '--tail', '1', 'rprinter'], { env: d.env });
    await sleep(1200);
    await follow.stop();
    const got = ticks(follow.stdout());
    assert.ok(got.length >= 5, `logs -f of a recovered container printed ${got.length} lines: ${follow.stdout()} ${follow.stderr()}`);

    const att = await TmuxSession.start(path.join(d.dir, 'tmux.sock'), 'rattach', [DOCKER_BIN, 'attach', 'rtty'], d.env);
    try {
      await sleep(500);
      await att.type('echo attached-$((2*21))');
      await att.waitFor(/^attached-42\s*$/m);
      await att.keys('C-p', 'C-q');
      await att.waitExit();
    } finally {
      await att.kill();
    }
    assert.equal(okOut(await d.docker(['exec', '-i', 'rtty', 'cat'], { input: 'exec-in\n' }), 'exec -i'), 'exec-in');

    // A follower connected while berthd is killed ends instead of hanging.
    const f2 = startBackground(DOCKER_BIN, ['logs', '-f', '--tail', '0', 'rprinter'], { env: d.env });
    await sleep(500);
    await d.kill('SIGKILL');
    const ended = await Promise.race([f2.exited.then(() => true), sleep(5000).then(() => false)]);
    await f2.stop();
    assert.ok(ended, 'docker logs -f hangs after berthd died');
    await d.start();
    okOut(await d.docker(['rm', '-f', 'rprinter', 'rtty']), 'rm -f');
  });
});
