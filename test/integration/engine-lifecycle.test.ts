// A detached looping container through the docker CLI: ps, logs -f, exec
// (plain and under a real TTY), inspect against the kernel, stop within the
// timeout, start, restart, rm -f.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  DOCKER_BIN,
  expectCode,
  expectMatch,
  okOut,
  pidAlive,
  skipUnlessRoot,
  sleep,
  startBackground,
  TmuxSession,
  useDaemon,
  waitFor,
} from '../harness';

const LOOP = 'i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done';

function lineNumbers(text: string): number[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const m = /^line (\d+)$/.exec(l);
      if (!m) throw new Error(`unexpected log line ${JSON.stringify(l)} in:\n${text}`);
      return Number(m[1]);
    });
}

function assertConsecutive(nums: number[], what: string): void {
  for (let i = 1; i < nums.length; i++) {
    assert.equal(nums[i], nums[i - 1]! + 1, `${what}: lines are not consecutive: ${nums.join(',')}`);
  }
}

/** The command line of a host pid, NUL-separated args joined by spaces. */
function cmdline(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
}

describe('detached looping container (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  let id = '';

  const state = async (): Promise<{ status: string; pid: number; exitCode: number; startedAt: string }> => {
    const out = okOut(await d.docker(['inspect', '--format', '{{.State.Status}} {{.State.Pid}} {{.State.ExitCode}} {{.State.StartedAt}}', 'loop']), 'inspect');
    const [status, pid, exitCode, startedAt] = out.split(' ');
    return { status: status!, pid: Number(pid), exitCode: Number(exitCode), startedAt: startedAt! };
  };

  it('docker run -d prints the ID and ps shows it Up', async () => {
    id = okOut(await d.docker(['run', '-d', '--name', 'loop', 'busybox', 'sh', '-c', LOOP]), 'run -d');
    expectMatch(id, /^[0-9a-f]{64}$/, 'run -d output');
    const row = okOut(await d.docker(['ps', '--filter', 'name=loop', '--format', '{{.ID}} {{.Names}} {{.Image}} {{.Status}}']), 'ps --format');
    expectMatch(row, new RegExp(`^${id.slice(0, 12)} loop busybox Up `), 'ps row');
    const table = okOut(await d.docker(['ps']), 'ps');
    expectMatch(table, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/m, 'ps header');
    expectMatch(table, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+"sh -c '?i=0;.*"\\s+.*\\sUp .*\\s+loop$`, 'm'), 'ps table row');
  });

  it('inspect --format "{{.State.Status}} {{.State.Pid}}" prints what the kernel says', async () => {
    const out = okOut(await d.docker(['inspect', '--format', '{{.State.Status}} {{.State.Pid}}', 'loop']), 'inspect');
    const m = /^running (\d+)$/.exec(out);
    assert.ok(m, `inspect printed ${JSON.stringify(out)}`);
    const pid = Number(m[1]);
    assert.ok(pidAlive(pid), `pid ${pid} is not alive`);
    assert.equal(cmdline(pid), `sh -c ${LOOP}`, 'the pid runs the container command');
    // It is PID 1 of its own pid namespace, not berthd's.
    assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/pid`), fs.readlinkSync('/proc/self/ns/pid'), 'container has its own pid namespace');
    const nspid = /^NSpid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    assert.ok(nspid, 'NSpid in /proc/pid/status');
    assert.equal(nspid[1]!.trim().split(/\s+/).pop(), '1', 'the container process is PID 1 in its namespace');
  });

  it('logs -f --tail 2 streams', async () => {
    await waitFor('a few log lines', async () => lineNumbers((await d.docker(['logs', 'loop'])).stdout).length >= 4, { timeoutMs: 10_000 });
    const before = lineNumbers(okOut(await d.docker(['logs', 'loop']), 'logs'));
    assertConsecutive(before, 'docker logs');
    assert.equal(before[0], 0, 'logs start at line 0');
    const follow = startBackground(DOCKER_BIN, ['logs', '-f', '--tail', '2', 'loop'], { env: d.env });
    await sleep(1800);
    assert.ok(follow.pid !== undefined);
    const code = await follow.stop();
    const got = lineNumbers(follow.stdout());
    assert.ok(got.length >= 5, `logs -f --tail 2 printed only ${got.length} lines (code ${code}, stderr ${follow.stderr()}):\n${follow.stdout()}`);
    assertConsecutive(got, 'logs -f');
    assert.ok(got[0]! >= before[before.length - 1]! - 1, `the first of the 2 tail lines (${got[0]}) is older than the end of the log (${before[before.length - 1]})`);
    const tail = lineNumbers(okOut(await d.docker(['logs', '--tail', '2', 'loop']), 'logs --tail 2'));
    assert.equal(tail.length, 2, 'logs --tail 2 prints 2 lines');
  });

  it('exec ... ps shows the command as PID 1', async () => {
    const out = okOut(await d.docker(['exec', 'loop', 'ps']), 'exec ps');
    expectMatch(out, /^\s*PID\s+USER\s+(TIME\s+)?COMMAND/m, 'ps header');
    expectMatch(out, /^\s*1\s+root\s+(\d+:\d+\s+)?sh -c i=0; while true/m, 'PID 1 row');
  });

  it('exec passes env, workdir, exit code and stdin', async () => {
    const r = await d.docker(['exec', '-e', 'X=1', '-w', '/tmp', 'loop', 'sh', '-c', 'echo $X $(pwd)']);
    assert.equal(okOut(r, 'exec env/workdir'), '1 /tmp');
    expectCode(await d.docker(['exec', 'loop', 'sh', '-c', 'exit 4']), 4, 'exec exit 4');
    assert.equal(okOut(await d.docker(['exec', '-i', 'loop', 'cat'], { input: 'in\n', timeoutMs: 15_000 }), 'exec -i'), 'in');
  });

  it('exec -i delivers stdin and its EOF every time (40 runs)', async () => {
    const failures: string[] = [];
    for (let i = 0; i < 40 && failures.length < 3; i++) {
      const r = await d.docker(['exec', '-i', 'loop', 'cat'], { input: `in-${i}\n`, timeoutMs: 10_000 });
      if (r.code !== 0 || r.stdout !== `in-${i}\n`) failures.push(`#${i}: exit ${r.code}${r.timedOut ? ' (hung 10 s)' : ''}, stdout ${JSON.stringify(r.stdout)}`);
    }
    const stuck = (await d.docker(['exec', 'loop', 'ps'])).stdout.split('\n').filter((l) => /\scat$/.test(l));
    assert.deepEqual(failures, [], `echo in-N | docker exec -i loop cat failed ${failures.length} time(s) (stops at 3)`);
    assert.deepEqual(stuck, [], 'exec processes left behind after their clients went away');
  });

  it('exec start whose JSON body arrives after the headers still gets stdin (API)', async () => {
    // The docker CLI writes the upgrade request's headers and its JSON body separately;
    // sometimes they reach berthd as two chunks. Force that here.
    const created = await d.api<{ Id: string }>('POST', '/v1.41/containers/loop/exec', { AttachStdin: true, AttachStdout: true, AttachStderr: true, Cmd: ['cat'] });
    assert.equal(created.status, 201, created.text);
    const body = JSON.stringify({ Detach: false, Tty: false });
    const conn = net.connect(d.sock);
    let got = Buffer.alloc(0);
    conn.on('data', (b: Buffer) => (got = Buffer.concat([got, b])));
    conn.on('error', () => undefined);
    const closed = new Promise<void>((r) => conn.on('close', () => r()));
    try {
      conn.write(`POST /v1.41/exec/${created.json.Id}/start HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
      await sleep(100);
      conn.write(body);
      await waitFor('101 UPGRADED', () => got.toString('latin1').includes('\r\n\r\n'));
      assert.match(got.toString('latin1'), /^HTTP\/1\.1 101 /);
      conn.end('hello\n');
      const ended = await Promise.race([closed.then(() => true), sleep(5000).then(() => false)]);
      const payload = got.subarray(got.indexOf('\r\n\r\n') + 4);
      // JSON-quoted, so a failure prints the frame header legibly.
      assert.equal(JSON.stringify(payload.toString('latin1')), JSON.stringify('\x01\x00\x00\x00\x00\x00\x00\x06hello\n'), 'stdin reached cat and its output came back framed');
      assert.ok(ended, 'the stream ends once cat has exited');
    } finally {
      conn.destroy();
    }
  });

  it('killing an exec client closes the exec process\'s stdin', async () => {
    const bg = startBackground(DOCKER_BIN, ['exec', '-i', 'loop', 'sh', '-c', 'cat; true', 'killtest'], { env: d.env, stdin: 'pipe' });
    const running = async (): Promise<boolean> => /killtest/.test((await d.docker(['exec', 'loop', 'ps', '-o', 'args'])).stdout);
    await waitFor('the exec running in the container', running, { timeoutMs: 10_000 });
    if (bg.pid !== undefined) process.kill(bg.pid, 'SIGKILL');
    await bg.exited;
    await waitFor('the exec to end after its client died', async () => !(await running()), { timeoutMs: 10_000 });
  });

  it('exec -it ... sh works under a real TTY', async () => {
    const tmux = await TmuxSession.start(path.join(d.dir, 'tmux.sock'), 'exec-it', [DOCKER_BIN, 'exec', '-it', 'loop', 'sh'], d.env);
    try {
      await tmux.waitFor(/\/ # ?$/m);
      await tmux.type('echo tty-$((6*7)); tty');
      await tmux.waitFor(/^tty-42\s*\n\/dev\/pts\/\d+\s*$/m);
      await tmux.type('echo size=$(stty size 2>&1)');
      const text = await tmux.waitFor(/^size=.*$/m);
      await tmux.type('exit 7');
      assert.equal(await tmux.waitExit(), 7, 'docker exec -it exits with the shell status');
      const size = await tmux.paneSize();
      expectMatch(text, new RegExp(`^size=${size.rows} ${size.cols}\\s*$`, 'm'), 'the exec TTY has the terminal size (stty size)');
    } finally {
      await tmux.kill();
    }
  });

  it('stop returns within the timeout', async () => {
    // sh as PID 1 ignores SIGTERM, so stop must fall back to SIGKILL after -t.
    const before = await state();
    const t0 = Date.now();
    const r = await d.docker(['stop', '-t', '2', 'loop']);
    const took = Date.now() - t0;
    assert.equal(okOut(r, 'stop'), 'loop');
    assert.ok(took < 2000 + 3000, `docker stop -t 2 took ${took} ms`);
    const after = await state();
    assert.equal(after.status, 'exited');
    assert.equal(after.pid, 0);
    assert.equal(after.exitCode, 137, 'killed by SIGKILL after the timeout');
    assert.ok(!pidAlive(before.pid), `old pid ${before.pid} still alive`);
    const row = okOut(await d.docker(['ps', '-a', '--filter', 'name=loop', '--format', '{{.Status}}']), 'ps -a');
    expectMatch(row, /^Exited \(137\) /, 'ps -a status');
    assert.equal(okOut(await d.docker(['ps', '-q']), 'ps -q'), '', 'not listed as running');
    // A second stop of a stopped container succeeds (304).
    assert.equal(okOut(await d.docker(['stop', 'loop']), 'second stop'), 'loop');
  });

  it('stop of a container that handles SIGTERM returns at once', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'trap', 'busybox', 'sh', '-c', "trap 'exit 0' TERM; while true; do sleep 0.1; done"]), 'run trap');
    await sleep(300);
    const t0 = Date.now();
    okOut(await d.docker(['stop', '-t', '10', 'trap']), 'stop trap');
    const took = Date.now() - t0;
    assert.ok(took < 4000, `stop of a SIGTERM-handling container took ${took} ms`);
    assert.equal(okOut(await d.docker(['inspect', '--format', '{{.State.ExitCode}}', 'trap']), 'inspect'), '0');
    okOut(await d.docker(['rm', 'trap']), 'rm trap');
  });

  it('start, restart and rm -f work', async () => {
    assert.equal(okOut(await d.docker(['start', 'loop']), 'start'), 'loop');
    const s1 = await state();
    assert.equal(s1.status, 'running');
    assert.ok(pidAlive(s1.pid), 'started pid alive');
    // Starting a running container is not an error (304).
    expectCode(await d.docker(['start', 'loop']), 0, 'start of running');

    assert.equal(okOut(await d.docker(['restart', '-t', '1', 'loop']), 'restart'), 'loop');
    const s2 = await state();
    assert.equal(s2.status, 'running');
    assert.notEqual(s2.pid, s1.pid, 'restart gives a new process');
    assert.ok(pidAlive(s2.pid));
    assert.ok(!pidAlive(s1.pid), 'the old process is gone');
    assert.notEqual(s2.startedAt, s1.startedAt, 'StartedAt changes on restart');

    const rm = await d.docker(['rm', 'loop']);
    expectCode(rm, 1, 'rm of a running container');
    expectMatch(rm.stderr, /You cannot remove a running container/, 'rm stderr');

    assert.equal(okOut(await d.docker(['rm', '-f', 'loop']), 'rm -f'), 'loop');
    assert.ok(!pidAlive(s2.pid), 'rm -f killed the process');
    assert.equal(okOut(await d.docker(['ps', '-aq']), 'ps -aq'), '');
    const gone = await d.docker(['inspect', 'loop']);
    expectCode(gone, 1, 'inspect removed');
    expectMatch(gone.stderr, /No such object: loop/, 'inspect stderr');
    assert.equal(d.runcStates().length, 0, `runc states left: ${JSON.stringify(d.runcStates())}`);
  });

  it('kill sends the signal; kill of a stopped container is a 409', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'killme', 'busybox', 'sleep', '1000']), 'run');
    assert.equal(okOut(await d.docker(['kill', '-s', 'KILL', 'killme']), 'kill'), 'killme');
    await waitFor('killme exited', async () => okOut(await d.docker(['inspect', '-f', '{{.State.Status}}', 'killme']), 'inspect') === 'exited');
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.State.ExitCode}}', 'killme']), 'inspect'), '137');
    const again = await d.docker(['kill', 'killme']);
    expectCode(again, 1, 'kill of stopped');
    expectMatch(again.stderr, /is not running/, 'kill stderr');
    okOut(await d.docker(['rm', 'killme']), 'rm');
  });
});
