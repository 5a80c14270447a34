// The berth CLI's registry commands: login stores credentials in the docker
// config format (auths, or a credential helper), push/pull send them, logout
// removes them; save and load round-trip an image.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { berthBin, expectMatch, okOut, skipUnlessRoot, TmuxSession, useDaemon } from '../harness';
import { haveRegistry, makeCerts, startRegistry, TEST_PASSWORD, TEST_USER, type RegistryPeer } from './registry-peer';

const skip = skipUnlessRoot() || (haveRegistry() ? false : 'docker-registry is not installed (apt-get install docker-registry)');

describe('berth login / push / pull / logout / save / load', { skip }, () => {
  const d = useDaemon();
  let reg: RegistryPeer;

  before(async () => {
    const certs = makeCerts(path.join(d.dir, 'cli-certs'), ['127.0.0.1']);
    // Loopback is insecure by default: TLS without verification, as Docker does.
    reg = await startRegistry(d, { htpasswd: true, tls: { cert: certs.cert, key: certs.key } });
  });
  after(async () => {
    await reg?.stop();
  });

  const config = (): Record<string, unknown> => {
    try {
      return JSON.parse(fs.readFileSync(path.join(d.dockerConfig, 'config.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      return {};
    }
  };

  it('login stores the credentials in config.json; push and pull use them; logout removes them', async () => {
    const ref = `${reg.host}/cli/app:1`;
    okOut(await d.berth(['tag', 'busybox', ref]), 'berth tag');
    const denied = await d.berth(['push', ref]);
    assert.equal(denied.code, 1);
    expectMatch(denied.stderr + denied.stdout, /no basic auth credentials/, 'push before login');

    const bad = await d.berth(['login', '-u', TEST_USER, '--password-stdin', reg.host], { input: 'nope\n' });
    assert.equal(bad.code, 1);
    expectMatch(bad.stderr, /401 Unauthorized/, 'bad login');

    const l = await d.berth(['login', '-u', TEST_USER, '--password-stdin', reg.host], { input: `${TEST_PASSWORD}\n` });
    expectMatch(okOut(l, 'berth login'), /^Login Succeeded$/m, 'login');
    const auths = config()['auths'] as Record<string, { auth: string }>;
    assert.equal(Buffer.from(auths[reg.host]!.auth, 'base64').toString(), `${TEST_USER}:${TEST_PASSWORD}`);

    const p = okOut(await d.berth(['push', ref], { timeoutMs: 120_000 }), 'berth push');
    expectMatch(p, /1: digest: sha256:[0-9a-f]{64} size: \d+/, 'push');
    okOut(await d.berth(['rmi', ref]), 'rmi');
    const pl = okOut(await d.berth(['pull', ref], { timeoutMs: 120_000 }), 'berth pull');
    expectMatch(pl, /Status: Downloaded newer image/, 'pull with stored credentials');

    // On a terminal, berth pull redraws one line per layer like the docker CLI (busybox goes too, so the layer is downloaded).
    okOut(await d.berth(['rmi', ref, 'busybox']), 'rmi');
    const tmux = await TmuxSession.start(path.join(d.dir, 'tmux.sock'), 'pull-tty', [berthBin(), 'pull', ref], d.env);
    try {
      const screen = await tmux.waitFor(/__harness_exit=\d+/, 60_000);
      assert.equal(await tmux.exitStatus(), 0, screen);
      expectMatch(screen, /^[0-9a-f]{12}: Pull complete\s*$/m, 'layer line');
      expectMatch(screen, /^Digest: sha256:[0-9a-f]{64}\s*$/m, 'digest line');
      expectMatch(screen, /^Status: Downloaded newer image for /m, 'status line');
      assert.doesNotMatch(screen, /Downloading|Verifying Checksum/, 'progress lines were redrawn in place');
    } finally {
      await tmux.kill();
    }
    okOut(await d.berth(['tag', ref, 'busybox']), 'busybox back');

    expectMatch(okOut(await d.berth(['logout', reg.host]), 'logout'), new RegExp(`Removing login credentials for ${reg.host}`), 'logout');
    assert.equal((config()['auths'] as Record<string, unknown>)[reg.host], undefined);
    okOut(await d.berth(['rmi', ref]), 'rmi');
    const after = await d.berth(['pull', ref]);
    assert.equal(after.code, 1);
    expectMatch(after.stderr, /no basic auth credentials/, 'pull after logout');
  });

  it('credsStore: the credential helper stores, serves and erases the credentials', async () => {
    const bin = path.join(d.dir, 'helper-bin');
    const store = path.join(d.dir, 'helper-store.json');
    fs.mkdirSync(bin, { recursive: true });
    // A credential helper speaking the docker-credential protocol, keeping secrets in a JSON file.
    fs.writeFileSync(path.join(bin, 'docker-credential-berthtest'), `#!${process.execPath}
const fs = require('fs'); const f = ${JSON.stringify(store)};
const db = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : {};
const input = fs.readFileSync(0, 'utf8').trim();
const op = process.argv[2];
if (op === 'store') { const c = JSON.parse(input); db[c.ServerURL] = c; fs.writeFileSync(f, JSON.stringify(db)); }
else if (op === 'get') { const c = db[input]; if (!c) { process.stdout.write('credentials not found in native keychain'); process.exit(1); } process.stdout.write(JSON.stringify(c)); }
else if (op === 'erase') { delete db[input]; fs.writeFileSync(f, JSON.stringify(db)); }
`, { mode: 0o755 });
    fs.writeFileSync(path.join(d.dockerConfig, 'config.json'), JSON.stringify({ credsStore: 'berthtest' }));
    const env = { ...d.env, PATH: `${bin}:${d.env['PATH'] ?? ''}` };
    okOut(await d.berth(['login', '-u', TEST_USER, '--password-stdin', reg.host], { input: `${TEST_PASSWORD}\n`, env }), 'login via helper');
    const db = JSON.parse(fs.readFileSync(store, 'utf8')) as Record<string, { Username: string; Secret: string }>;
    assert.deepEqual(db[reg.host], { ServerURL: reg.host, Username: TEST_USER, Secret: TEST_PASSWORD });
    assert.equal(config()['auths'], undefined, 'nothing in config.json');
    const ref = `${reg.host}/cli/app:1`;
    expectMatch(okOut(await d.berth(['pull', ref], { env, timeoutMs: 120_000 }), 'pull via helper'), /Status: /, 'pull');
    okOut(await d.berth(['logout', reg.host], { env }), 'logout via helper');
    assert.equal((JSON.parse(fs.readFileSync(store, 'utf8')) as Record<string, unknown>)[reg.host], undefined);
    fs.rmSync(path.join(d.dockerConfig, 'config.json'), { force: true });
  });

  it('save -o and load -i round-trip an image', async () => {
    const file = path.join(d.dir, 'berth-save.tar');
    const id = okOut(await d.berth(['image', 'inspect', '-f', '{{.Id}}', 'busybox']), 'inspect');
    okOut(await d.berth(['save', '-o', file, 'busybox']), 'berth save');
    assert.ok(fs.statSync(file).size > 100_000);
    okOut(await d.berth(['tag', 'busybox', 'keep/busybox:1']), 'tag');
    okOut(await d.berth(['rmi', 'busybox']), 'rmi');
    expectMatch(okOut(await d.berth(['load', '-i', file]), 'berth load'), /^Loaded image: busybox:latest$/m, 'load');
    assert.equal(okOut(await d.berth(['image', 'inspect', '-f', '{{.Id}}', 'busybox']), 'inspect'), id);
    const r = await d.berth(['save', 'busybox']);
    assert.equal(r.code, 0, 'stdout is not a terminal here: the tar goes to stdout');
    assert.ok(r.stdout.length > 100_000);
  });
});
