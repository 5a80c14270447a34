// The berth CLI (bin/berth): run/ps/logs/exec/inspect/rm, its exit codes
// (125/126/127 like docker's), and -H / BERTH_HOST.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { expectCode, expectMatch, okOut, pidAlive, skipUnlessRoot, useDaemon, waitFor } from '../harness';

describe('berth CLI', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  /** The handle's client env minus every variable that names a daemon. */
  const bareEnv = (): NodeJS.ProcessEnv => {
    const env = { ...d.env };
    delete env['BERTH_HOST'];
    delete env['DOCKER_HOST'];
    return env;
  };

  it('berth version and berth ps work', async () => {
    const v = await d.berth(['version']);
    expectCode(v, 0, 'berth version');
    expectMatch(v.stdout, /1\.41/, 'berth version shows the API version');
    const ps = okOut(await d.berth(['ps']), 'berth ps');
    expectMatch(ps, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES/, 'berth ps header');
  });

  it('berth run prints output and passes the exit code through', async () => {
    const r = await d.berth(['run', '--rm', 'busybox', 'echo', 'hello from berth']);
    expectCode(r, 0, 'berth run echo');
    assert.equal(r.stdout, 'hello from berth\n');
    const split = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
    assert.equal(split.stdout, 'out\n');
    assert.equal(split.stderr, 'err\n');
    expectCode(await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']), 3, 'berth run exit 3');
    const stdin = await d.berth(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'via stdin\n' });
    assert.equal(okOut(stdin, 'berth run -i'), 'via stdin');
  });

  it('berth run exit codes: 127 command not found, 126 not executable, 125 daemon error', async () => {
    const nf = await d.berth(['run', '--rm', 'busybox', 'nosuchcmd']);
    expectCode(nf, 127, 'berth run nosuchcmd');
    expectMatch(nf.stderr, /executable file not found/, 'stderr');
    const ne = await d.berth(['run', '--rm', 'busybox', '/etc/passwd']);
    expectCode(ne, 126, 'berth run /etc/passwd');
    expectMatch(ne.stderr, /permission denied/, 'stderr');
    okOut(await d.berth(['run', '-d', '--name', 'dup', 'busybox', 'sleep', '1000']), 'run -d dup');
    const taken = await d.berth(['run', '--name', 'dup', 'busybox', 'true']);
    expectCode(taken, 125, 'berth run with a taken name');
    expectMatch(taken.stderr, /already in use/, 'stderr');
    expectCode(await d.berth(['run', '--no-such-flag', 'busybox', 'true']), 125, 'berth run with a bad flag');
    okOut(await d.berth(['rm', '-f', 'dup']), 'rm -f dup');
    assert.equal(okOut(await d.berth(['ps', '-aq']), 'ps -aq'), '', 'the --rm runs left nothing');
  });

  it('run -d, ps, logs, exec, inspect, rm', async () => {
    const id = okOut(await d.berth(['run', '-d', '--name', 'bc', 'busybox', 'sh', '-c', 'echo started; echo oops >&2; exec sleep 1000']), 'berth run -d');
    expectMatch(id, /^[0-9a-f]{64}$/, 'run -d prints the ID');
    const ps = okOut(await d.berth(['ps']), 'berth ps');
    expectMatch(ps, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+.*Up .*\\s+bc$`, 'm'), 'berth ps row');
    assert.equal(okOut(await d.berth(['ps', '-q']), 'berth ps -q'), id.slice(0, 12));

    await waitFor('logs', async () => (await d.berth(['logs', 'bc'])).stdout.includes('started'));
    const logs = await d.berth(['logs', 'bc']);
    expectCode(logs, 0, 'berth logs');
    assert.equal(logs.stdout, 'started\n');
    assert.equal(logs.stderr, 'oops\n');

    assert.equal(okOut(await d.berth(['exec', 'bc', 'echo', 'in-exec']), 'berth exec'), 'in-exec');
    expectCode(await d.berth(['exec', 'bc', 'sh', '-c', 'exit 4']), 4, 'berth exec exit code');
    expectCode(await d.berth(['exec', 'bc', 'nosuchcmd']), 127, 'berth exec of a missing command');

    const ins = okOut(await d.berth(['inspect', 'bc']), 'berth inspect');
    const arr = JSON.parse(ins) as { Id: string; Name: string; State: { Status: string; Pid: number } }[];
    assert.equal(arr.length, 1);
    assert.equal(arr[0]!.Id, id);
    assert.equal(arr[0]!.Name, '/bc');
    assert.equal(arr[0]!.State.Status, 'running');
    assert.ok(pidAlive(arr[0]!.State.Pid));
    const missing = await d.berth(['inspect', 'nosuchctr']);
    expectCode(missing, 1, 'berth inspect of a missing container');
    expectMatch(missing.stderr, /No such (container|object): nosuchctr/, 'stderr');

    const rm = await d.berth(['rm', 'bc']);
    expectCode(rm, 1, 'berth rm of a running container');
    expectMatch(rm.stderr, /cannot remove a running container/i, 'stderr');
    assert.equal(okOut(await d.berth(['rm', '-f', 'bc']), 'berth rm -f'), 'bc');
    assert.ok(!pidAlive(arr[0]!.State.Pid));
    assert.equal(okOut(await d.berth(['ps', '-aq']), 'ps -aq'), '');
  });

  it('-H and BERTH_HOST pick the daemon', async () => {
    okOut(await d.berth(['-H', d.host, 'ps'], { env: bareEnv() }), 'berth -H unix://... ps');
    okOut(await d.berth(['--host', d.host, 'ps'], { env: bareEnv() }), 'berth --host unix://... ps');
    okOut(await d.berth(['ps'], { env: { ...bareEnv(), BERTH_HOST: d.host } }), 'BERTH_HOST=... berth ps');
    const nowhere = `unix://${path.join(d.dir, 'nowhere.sock')}`;
    const bad = await d.berth(['ps'], { env: { ...bareEnv(), BERTH_HOST: nowhere } });
    assert.notEqual(bad.code, 0, 'BERTH_HOST at a dead socket must fail');
    expectMatch(bad.stderr, /nowhere\.sock/, 'the error names the socket');
    okOut(await d.berth(['-H', d.host, 'ps'], { env: { ...bareEnv(), BERTH_HOST: nowhere } }), '-H wins over BERTH_HOST');
    const r = await d.berth(['-H', d.host, 'run', '--rm', 'busybox', 'echo', 'via -H'], { env: bareEnv() });
    assert.equal(okOut(r, 'berth -H run'), 'via -H');
  });
});
