// Interactive containers under a real terminal (tmux): docker run -it,
// ctrl-p ctrl-q detach, docker attach; and `run -t` under script(1).
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DOCKER_BIN, expectMatch, okOut, pidAlive, run, skipUnlessRoot, sleep, TmuxSession, useDaemon, waitFor } from '../harness';

describe('interactive TTY (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  const tmuxSock = (): string => path.join(d.dir, 'tmux.sock');
  const inspect = async (fmt: string, name: string): Promise<string> => okOut(await d.docker(['inspect', '--format', fmt, name]), `inspect ${name}`);

  it('docker run -it busybox sh is interactive; ctrl-p ctrl-q detaches; docker attach re-attaches', async () => {
    try {
      await runDetachAttach();
    } finally {
      await d.docker(['rm', '-f', 'itsh']);
    }
  });

  const runDetachAttach = async (): Promise<void> => {
    const run1 = await TmuxSession.start(tmuxSock(), 'run-it', [DOCKER_BIN, 'run', '-it', '--name', 'itsh', 'busybox', 'sh'], d.env);
    try {
      await run1.waitFor(/\/ # ?$/m, 15_000);
      await run1.type('echo hi-$((1+2)); tty');
      await run1.waitFor(/^hi-3\s*\n\/dev\/pts\/\d+/m);
      // Terminal size reaches the container (ConsoleSize / resize).
      await run1.type('stty size');
      const size = await run1.paneSize();
      await run1.waitFor(new RegExp(`^${size.rows} ${size.cols}\\s*$`, 'm'));
      // Leave a marker in the shell's state to prove attach finds the same shell.
      await run1.type('MARK=kept-$((40+2))');
      await sleep(200);
      await run1.keys('C-p', 'C-q');
      const status = await run1.waitExit(10_000);
      assert.equal(status, 0, `docker run -it after detach exits 0; pane:\n${await run1.capture()}`);
    } finally {
      await run1.kill();
    }
    assert.equal(await inspect('{{.State.Status}}', 'itsh'), 'running', 'still running after detach');
    const pid = Number(await inspect('{{.State.Pid}}', 'itsh'));
    assert.ok(pidAlive(pid));

    const att = await TmuxSession.start(tmuxSock(), 'attach', [DOCKER_BIN, 'attach', 'itsh'], d.env);
    try {
      await sleep(500);
      await att.type('echo back-$MARK');
      await att.waitFor(/^back-kept-42\s*$/m, 10_000);
      // Detach again from the attach session.
      await att.keys('C-p', 'C-q');
      // CLI 28's `docker attach` reports the detach as the error "read escape sequence" (exit 1).
      const code = await att.waitExit(10_000);
      const pane = await att.capture();
      assert.ok(code === 0 || (code === 1 && /read escape sequence/.test(pane)), `docker attach after detach exited ${code}; pane:\n${pane}`);
    } finally {
      await att.kill();
    }
    assert.equal(await inspect('{{.State.Status}}', 'itsh'), 'running');

    // Attach once more and leave the shell: attach exits with the shell's status.
    const att2 = await TmuxSession.start(tmuxSock(), 'attach2', [DOCKER_BIN, 'attach', 'itsh'], d.env);
    try {
      await sleep(500);
      await att2.type('exit 4');
      assert.equal(await att2.waitExit(10_000), 4, `docker attach exits with the container's code; pane:\n${await att2.capture()}`);
    } finally {
      await att2.kill();
    }
    await waitFor('itsh exited', async () => (await inspect('{{.State.Status}}', 'itsh')) === 'exited');
    assert.equal(await inspect('{{.State.ExitCode}}', 'itsh'), '4');
    assert.ok(!pidAlive(pid));
    okOut(await d.docker(['rm', 'itsh']), 'rm');
  };

  it('docker run -it --rm: exiting the shell returns its status and removes the container', async () => {
    const s = await TmuxSession.start(tmuxSock(), 'run-rm', [DOCKER_BIN, 'run', '-it', '--rm', '--name', 'itrm', 'busybox', 'sh'], d.env);
    try {
      await s.waitFor(/\/ # ?$/m, 15_000);
      await s.type('exit 6');
      assert.equal(await s.waitExit(10_000), 6);
    } finally {
      await s.kill();
    }
    assert.equal(okOut(await d.docker(['ps', '-aq', '--filter', 'name=itrm']), 'ps -aq'), '', '--rm removed the container');
  });

  it('docker run -t under script(1) gets a raw TTY stream', async () => {
    const r = await run('script', ['-qefc', `${DOCKER_BIN} run --rm -t busybox sh -c 'tty; echo tty-ok'`, '/dev/null'], { env: d.env, timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The container's pty turns \n into \r\n (and script's own pty may add another \r).
    expectMatch(r.stdout, /\/dev\/pts\/\d+\r+\n/, 'tty in the container');
    expectMatch(r.stdout, /tty-ok\r+\n/, 'TTY output comes from a pty');
  });
});
