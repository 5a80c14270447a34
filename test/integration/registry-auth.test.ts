// A registry with htpasswd basic auth behind TLS, its certificate signed by a
// CA the test makes: berthd trusts it only once the CA is in
// <config-dir>/certs.d/<host:port>/ca.crt; pushes and pulls need `docker
// login`, which stores the credentials in the CLI's config; `docker logout`
// removes them again.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectMatch, okOut, skipUnlessRoot, useDaemon } from '../harness';
import { haveRegistry, makeCerts, nsExec, startRegistry, TEST_PASSWORD, TEST_USER, type RegistryPeer } from './registry-peer';

const skip = skipUnlessRoot() || (haveRegistry() ? false : 'docker-registry is not installed (apt-get install docker-registry)');

/** A non-loopback address inside the sandbox's network namespace: not insecure by default, so TLS is verified. */
const REGISTRY_IP = '10.213.0.1';

describe('registry with basic auth behind TLS', { skip }, () => {
  const d = useDaemon();
  let reg: RegistryPeer;
  let ca = '';

  before(async () => {
    const r = nsExec(d, 'ip', ['addr', 'add', `${REGISTRY_IP}/32`, 'dev', 'lo']);
    assert.equal(r.code, 0, r.stderr);
    const certs = makeCerts(path.join(d.dir, 'certs'), [REGISTRY_IP, '127.0.0.1']);
    ca = certs.ca;
    reg = await startRegistry(d, { ip: REGISTRY_IP, htpasswd: true, tls: { cert: certs.cert, key: certs.key } });
  });
  after(async () => {
    await reg?.stop();
  });

  const configJson = (): Record<string, unknown> => {
    try {
      return JSON.parse(fs.readFileSync(path.join(d.dockerConfig, 'config.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      return {};
    }
  };

  it('the registry\'s certificate is refused until its CA is in certs.d', async () => {
    const r = await d.docker(['pull', `${reg.host}/test/app:1`]);
    assert.equal(r.code, 1, r.stdout);
    expectMatch(r.stderr, /x509: certificate signed by unknown authority/, 'pull with an unknown CA');
    const dir = path.join(path.dirname(d.configFile), 'certs.d', reg.host);
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(ca, path.join(dir, 'ca.crt'));
  });

  it('push and pull without login fail with Docker\'s message', async () => {
    okOut(await d.docker(['tag', 'busybox', `${reg.host}/test/app:1`]), 'tag');
    const p = await d.docker(['push', `${reg.host}/test/app:1`]);
    assert.equal(p.code, 1, p.stdout);
    expectMatch(p.stderr + p.stdout, /no basic auth credentials/, 'push without login');
    const r = await d.docker(['pull', `${reg.host}/test/app:1`]);
    assert.equal(r.code, 1, r.stdout);
    expectMatch(r.stderr, new RegExp(`Error response from daemon: Get "https://${reg.host}/v2/test/app/manifests/1": no basic auth credentials`), 'pull without login');
  });

  it('docker login with a wrong password is refused', async () => {
    const r = await d.docker(['login', '-u', TEST_USER, '--password-stdin', reg.host], { input: 'wrong\n' });
    assert.equal(r.code, 1, r.stdout);
    expectMatch(r.stderr, new RegExp(`login attempt to https://${reg.host}/v2/ failed with status: 401 Unauthorized`), 'wrong password');
    assert.equal((configJson()['auths'] as Record<string, unknown> | undefined)?.[reg.host], undefined);
  });

  it('after docker login, push and pull work; logout removes the credentials', async () => {
    const l = await d.docker(['login', '-u', TEST_USER, '--password-stdin', reg.host], { input: `${TEST_PASSWORD}\n` });
    expectMatch(okOut(l, 'docker login'), /Login Succeeded/, 'login');
    const auths = configJson()['auths'] as Record<string, { auth?: string }> | undefined;
    assert.ok(auths?.[reg.host]?.auth, `credentials stored: ${JSON.stringify(configJson())}`);
    assert.equal(Buffer.from(auths![reg.host]!.auth!, 'base64').toString(), `${TEST_USER}:${TEST_PASSWORD}`);

    const push = okOut(await d.docker(['push', `${reg.host}/test/app:1`], { timeoutMs: 120_000 }), 'push after login');
    expectMatch(push, /1: digest: sha256:[0-9a-f]{64} size: \d+/, 'push');
    const id = okOut(await d.docker(['image', 'inspect', '-f', '{{.Id}}', `${reg.host}/test/app:1`]), 'inspect');
    okOut(await d.docker(['rmi', `${reg.host}/test/app:1`]), 'rmi');
    const pull = okOut(await d.docker(['pull', `${reg.host}/test/app:1`], { timeoutMs: 120_000 }), 'pull after login');
    expectMatch(pull, /Status: Downloaded newer image/, 'pull');
    assert.equal(okOut(await d.docker(['image', 'inspect', '-f', '{{.Id}}', `${reg.host}/test/app:1`]), 'inspect'), id);

    expectMatch(okOut(await d.docker(['logout', reg.host]), 'logout'), new RegExp(`Removing login credentials for ${reg.host}`), 'logout');
    assert.equal((configJson()['auths'] as Record<string, unknown> | undefined)?.[reg.host], undefined, 'credentials removed');
    okOut(await d.docker(['rmi', `${reg.host}/test/app:1`]), 'rmi');
    const again = await d.docker(['pull', `${reg.host}/test/app:1`]);
    assert.equal(again.code, 1);
    expectMatch(again.stderr, /no basic auth credentials/, 'pull after logout');
  });

  it('POST /auth answers Docker\'s shapes', async () => {
    const ok = await d.api('POST', '/auth', { username: TEST_USER, password: TEST_PASSWORD, serveraddress: reg.host });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json, { IdentityToken: '', Status: 'Login Succeeded' });
    const bad = await d.api('POST', '/auth', { username: TEST_USER, password: 'nope', serveraddress: `https://${reg.host}` });
    assert.equal(bad.status, 401, bad.text);
    assert.equal(bad.headers['content-type'], 'application/json');
  });
});
