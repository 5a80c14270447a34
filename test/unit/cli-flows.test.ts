// End-to-end CLI flows against the in-process fake daemon: the request
// sequences of run/exec/attach, exit codes and error texts.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { main } from '../../src/cli/app';
import { FakeDaemon, sampleState } from './cli-fake-daemon';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe('berth CLI against a fake daemon', () => {
  let dir: string;
  let d: FakeDaemon;

  const berth = async (argv: string[], input?: string): Promise<Result> => {
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    let stderr = '';
    out.on('data', (c: Buffer) => (stdout += c.toString()));
    err.on('data', (c: Buffer) => (stderr += c.toString()));
    const inp = Readable.from(input === undefined ? [] : [Buffer.from(input)]);
    const code = await main(['-H', `unix://${d.socketPath}`, ...argv], { streams: { out, err, in: inp }, env: {} });
    await new Promise((r) => setImmediate(r));
    return { code, stdout, stderr };
  };
  const seq = (): string[] => d.requests.map((r) => `${r.method} ${r.path}${r.upgrade ? ' (upgrade)' : ''}`);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-flows-'));
    d = new FakeDaemon(path.join(dir, 'd.sock'));
    sampleState(d);
    d.programs.busybox = { stdout: 'hello\n', stderr: 'warn\n', exitCode: 3 };
    d.programs.ok = { stdout: 'fine\n', exitCode: 0 };
    d.programs.catimg = { cat: true };
    d.programs.ttyimg = { stdout: 'tty output\r\n' };
    d.programs.badcmd = { stderr: 'START-FAIL:failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "nosuch": executable file not found in $PATH: unknown' };
    d.programs.noexec = { stderr: 'START-FAIL:failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/etc/passwd": permission denied: unknown' };
    d.logs = [{ stream: 1, text: 'out line\n' }, { stream: 2, text: 'err line\n' }];
    await d.start();
  });

  after(async () => {
    await d.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    d.requests.length = 0;
  });

  it('ps prints the docker table and -q the short IDs', async () => {
    const r = await berth(['ps']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^CONTAINER ID   IMAGE          COMMAND                  CREATED              STATUS              PORTS                                                    NAMES\n/);
    assert.match(r.stdout, /\na1b2c3d4e5f6   nginx:latest   "sh -c 'i=0; while :…"   .*   web\n$/);
    assert.deepEqual(seq(), ['GET /containers/json']);
    assert.equal((await berth(['ps', '-aq'])).stdout, 'a1b2c3d4e5f6\nf00dfeedbeef\n');
    assert.equal((await berth(['container', 'ls', '-a', '--format', '{{.Names}}:{{.State}}'])).stdout, 'web:running\ndb:exited\n');
  });

  it('run -d: create, wait, start, and prints the ID', async () => {
    const r = await berth(['run', '-d', '--name', 'bg1', 'ok']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-f]{64}\n$/);
    assert.deepEqual(seq(), ['POST /containers/create', 'POST /containers/' + r.stdout.trim() + '/wait', 'POST /containers/' + r.stdout.trim() + '/start']);
    assert.equal(d.requests[0]!.query.get('name'), 'bg1');
    assert.equal(d.requests[1]!.query.get('condition'), 'next-exit');
    const body = JSON.parse(d.requests[0]!.body) as Record<string, unknown>;
    assert.equal(body.AttachStdout, false);
  });

  it('run (attached): attach before wait before start; stdout/stderr split; exit code passed through', async () => {
    const r = await berth(['run', 'busybox']);
    assert.equal(r.stdout, 'hello\n');
    assert.equal(r.stderr, 'warn\n');
    assert.equal(r.code, 3);
    const s = seq();
    assert.equal(s[0], 'POST /containers/create');
    assert.match(s[1]!, /^POST \/containers\/[0-9a-f]+\/attach \(upgrade\)$/);
    assert.match(s[2]!, /\/wait$/);
    assert.match(s[3]!, /\/start$/);
    assert.equal(d.requests[1]!.query.toString(), 'stderr=1&stdout=1&stream=1');
  });

  it('run --rm waits for condition=removed', async () => {
    const r = await berth(['run', '--rm', 'ok']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'fine\n');
    assert.equal(d.requests.find((x) => x.path.endsWith('/wait'))!.query.get('condition'), 'removed');
  });

  it('run -i pipes stdin and half-closes when it ends', async () => {
    const r = await berth(['run', '--rm', '-i', 'catimg'], 'via stdin\n');
    assert.equal(r.stdout, 'via stdin\n');
    assert.equal(r.code, 0);
    assert.equal(d.requests.find((x) => x.upgrade)!.query.get('stdin'), '1');
  });

  it('run -i: a stream the daemon ends while the container keeps running is a detach (exit 0)', async () => {
    d.programs.detachimg = { keepRunning: true, detachOn: '\x10\x11' };
    const r = await berth(['run', '-i', '--name', 'det1', 'detachimg'], '\x10\x11');
    assert.equal(r.code, 0);
    assert.equal(d.find('det1')!.running, true);
  });

  it('run -t streams raw output', async () => {
    const r = await berth(['run', '--rm', '-t', 'ttyimg']);
    assert.equal(r.stdout, 'tty output\r\n');
    assert.equal(r.code, 0);
  });

  it('run -it without a terminal fails like docker', async () => {
    const r = await berth(['run', '-it', 'ok']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'the input device is not a TTY\n');
  });

  it('run of a missing image: tries to pull, exit 125', async () => {
    const r = await berth(['run', 'nosuchimage']);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, "Unable to find image 'nosuchimage:latest' locally\nberth: Error response from daemon: page not found\n\nRun 'berth run --help' for more information\n");
    const pull = d.requests.find((x) => x.path === '/images/create')!;
    assert.equal(pull.query.get('fromImage'), 'docker.io/library/nosuchimage');
    assert.equal(pull.query.get('tag'), 'latest');
    assert.equal(pull.headers['x-registry-auth'], 'e30=');
  });

  it('start failures map to 127 / 126', async () => {
    const nf = await berth(['run', '--rm', 'badcmd']);
    assert.equal(nf.code, 127);
    assert.match(nf.stderr, /^berth: Error response from daemon: .*executable file not found in \$PATH: unknown\n\nRun 'berth run --help' for more information\n$/);
    const pd = await berth(['run', 'noexec']);
    assert.equal(pd.code, 126);
  });

  it('a taken name and bad flags exit 125', async () => {
    await berth(['create', '--name', 'taken', 'ok']);
    const r = await berth(['run', '--name', 'taken', 'ok']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /already in use/);
    const f = await berth(['run', '--no-such-flag', 'ok']);
    assert.equal(f.code, 125);
    assert.equal(f.stderr, "unknown flag: --no-such-flag\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information\n");
  });

  it('exec: output, exit code, stdin', async () => {
    d.addContainer({ name: 'exc', running: true, program: { keepRunning: true } });
    const r = await berth(['exec', '-e', 'X=1', '-w', '/tmp', 'exc', 'echo', 'hi']);
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.stderr, 'to-stderr\n');
    assert.equal(r.code, 0);
    assert.deepEqual(seq().map((s) => s.replace(/[0-9a-f]{64}/, 'ID')), ['GET /containers/exc/json', 'POST /containers/exc/exec', 'POST /exec/ID/start (upgrade)', 'GET /exec/ID/json']);
    const create = JSON.parse(d.requests[1]!.body) as Record<string, unknown>;
    assert.deepEqual(create, { User: '', Privileged: false, Tty: false, AttachStdin: false, AttachStderr: true, AttachStdout: true, Detach: false, DetachKeys: '', Env: ['X=1'], WorkingDir: '/tmp', Cmd: ['echo', 'hi'] });
    assert.equal((await berth(['exec', 'exc', 'sh', '-c', 'exit 4'])).code, 4);
    assert.equal((await berth(['exec', 'exc', 'nosuch'])).code, 127);
    const cat = await berth(['exec', '-i', 'exc', 'cat'], 'piped\n');
    assert.equal(cat.stdout, 'piped\n');
    const det = await berth(['exec', '-d', 'exc', 'echo', 'x']);
    assert.equal(det.code, 0);
    assert.equal(det.stdout, '');
    const miss = await berth(['exec', 'nosuchctr', 'true']);
    assert.equal(miss.code, 1);
    assert.equal(miss.stderr, 'Error response from daemon: No such container: nosuchctr\n');
  });

  it('logs demultiplexes stdout and stderr', async () => {
    d.addContainer({ name: 'lg', running: true, program: { keepRunning: true } });
    const r = await berth(['logs', '--tail', '5', '-t', 'lg']);
    assert.equal(r.stdout, 'out line\n');
    assert.equal(r.stderr, 'err line\n');
    const q = d.requests.find((x) => x.path.endsWith('/logs'))!.query;
    assert.equal(q.toString(), 'stderr=1&stdout=1&tail=5&timestamps=1');
  });

  it('inspect walks object types and prints docker texts', async () => {
    d.addContainer({ name: 'ins', running: true, labels: { b: '2', a: '1' } });
    const r = await berth(['inspect', 'ins']);
    assert.equal(r.code, 0);
    const arr = JSON.parse(r.stdout) as { Name: string }[];
    assert.equal(arr[0]!.Name, '/ins');
    assert.match(r.stdout, /^\[\n {4}\{\n {8}"Id": /);
    const f = await berth(['inspect', '-f', '{{.State.Status}} {{.Name}} {{json .Config.Labels}} {{.Nope}}', 'ins']);
    assert.equal(f.stdout, 'running /ins {"a":"1","b":"2"} <no value>\n');
    const miss = await berth(['inspect', 'nothing']);
    assert.equal(miss.code, 1);
    assert.equal(miss.stdout, '[]\n');
    assert.equal(miss.stderr, 'Error: No such object: nothing\n');
    assert.deepEqual(seq().slice(-6), ['GET /containers/nothing/json', 'GET /images/nothing/json', 'GET /networks/nothing', 'GET /volumes/nothing', 'GET /info', 'GET /plugins/nothing/json']);
    const typed = await berth(['container', 'inspect', 'nothing']);
    assert.equal(typed.stderr, 'Error response from daemon: No such container: nothing\n');
    const bad = await berth(['inspect', '-f', '{{.State.Health.Status}}', 'ins']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '\n');
    assert.match(bad.stderr, /^template parsing error: template: :1:8: executing "" at <.State.Health.Status>: map has no entry for key "Health"\n$/);
  });

  it('rm / stop / kill: 304 is success, 409 and 404 are errors', async () => {
    d.addContainer({ name: 'lc', running: true, program: { keepRunning: true } });
    const rm = await berth(['rm', 'lc']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /You cannot remove a running container/);
    assert.equal((await berth(['stop', 'lc'])).stdout, 'lc\n');
    await new Promise((r) => setTimeout(r, 40));
    const again = await berth(['stop', 'lc']);
    assert.equal(again.code, 0, 'a second stop (304) succeeds');
    const kill = await berth(['kill', 'lc']);
    assert.equal(kill.code, 1);
    assert.match(kill.stderr, /is not running/);
    const rmf = await berth(['rm', '-f', 'lc', 'ghost']);
    assert.equal(rmf.code, 0, '-f ignores missing containers');
    assert.equal(rmf.stdout, 'lc\n');
    assert.equal(rmf.stderr, 'Error response from daemon: No such container: ghost\n');
  });

  it('start prints names and fails with docker\'s summary', async () => {
    d.addContainer({ name: 'st', program: { keepRunning: true } });
    const r = await berth(['start', 'st', 'ghost']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'st\n');
    assert.equal(r.stderr, 'Error response from daemon: No such container: ghost\nError: failed to start containers: ghost\n');
  });

  it('top, port, wait, images, version, info', async () => {
    d.addContainer({ name: 'misc', running: true, program: { keepRunning: true } });
    assert.match((await berth(['top', 'misc'])).stdout, /^UID {17}PID {17}PPID {16}C/);
    assert.equal((await berth(['port', 'misc'])).stdout, '80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n');
    assert.equal((await berth(['port', 'misc', '80'])).stdout, '0.0.0.0:8080\n[::]:8080\n');
    const np = await berth(['port', 'misc', '53/udp']);
    assert.equal(np.stderr, "Error: No public port '53/udp' published for misc\n");
    d.addContainer({ name: 'done', exitCode: 7 });
    assert.equal((await berth(['wait', 'done'])).stdout, '7\n');
    assert.match((await berth(['images'])).stdout, /^REPOSITORY {14}TAG {7}IMAGE ID {7}CREATED +SIZE\n/);
    const v = await berth(['version', '--format', '{{.Server.APIVersion}} {{.Client.APIVersion}}']);
    assert.equal(v.stdout, '1.41 1.41\n');
    const full = await berth(['version']);
    assert.match(full.stdout, /\n API version:       1\.41\n/);
    assert.match(full.stdout, /\nServer:\n Engine:\n  Version:          20\.10\.24\n  API version:      1\.41 \(minimum version 1\.12\)\n/);
    assert.equal((await berth(['info', '--format', '{{.OSType}} {{.Swarm.LocalNodeState}}'])).stdout, 'linux inactive\n');
    assert.match((await berth(['info'])).stdout, /^Client:\n Version: {4}.*\n Context: {4}default\n Debug Mode: false\n\nServer:\n Containers: \d+\n  Running: 0\n/);
  });

  it('usage errors', async () => {
    const u = await berth(['nosuchcommand']);
    assert.equal(u.code, 1);
    assert.equal(u.stderr, "berth: unknown command: berth nosuchcommand\n\nRun 'berth --help' for more information\n");
    const a = await berth(['logs']);
    assert.equal(a.code, 1);
    assert.equal(a.stderr, "berth: 'berth logs' requires 1 argument\n\nUsage:  berth logs [OPTIONS] CONTAINER\n\nRun 'berth logs --help' for more information\n");
    const n = await berth(['ps', 'extra']);
    assert.equal(n.stderr, "berth: 'berth ps' accepts no arguments\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n");
    const h = await berth(['ps', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Usage: {2}berth ps \[OPTIONS\]\n\nList containers\n/);
    const m = await berth(['container', 'nope']);
    assert.equal(m.code, 1);
    assert.equal(d.requests.length, 0, 'usage errors never reach the daemon');
  });

  it('events print the stream and honour --format', async () => {
    d.events = [{ status: 'die', id: 'abc', from: 'busybox', Type: 'container', Action: 'die', Actor: { ID: 'abc', Attributes: { exitCode: '0', name: 'x' } }, scope: 'local', time: 1795320758, timeNano: 1795320758290382092 }];
    const r = await berth(['events', '--since', '1', '--until', '2', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Status}}']);
    assert.equal(r.stdout, 'die x die\n');
    assert.equal(d.requests[0]!.query.get('since'), '1');
  });
});
