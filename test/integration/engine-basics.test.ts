// Engine core through the real docker CLI: version/info, import + images,
// run with exit codes, and API version negotiation.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { busyboxTar, expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon } from '../harness';

describe('engine basics (docker CLI)', { skip: skipUnlessRoot() }, () => {
  // busybox is imported by a test below, through `docker import`.
  const d = useDaemon({ busybox: false });

  it('docker version shows berth as the server at API 1.41', async () => {
    const text = okOut(await d.docker(['version']), 'docker version');
    const server = text.slice(text.indexOf('Server:'));
    assert.ok(text.includes('Server:'), `no Server section in:\n${text}`);
    expectMatch(server, /berth/i, 'Server section names berth');
    const json = okOut(await d.docker(['version', '--format', '{{json .Server}}']), 'docker version --format');
    const srv = JSON.parse(json) as { APIVersion?: string; ApiVersion?: string; Os?: string; Components?: { Name: string }[] };
    assert.equal(srv.APIVersion ?? srv.ApiVersion, '1.41');
    assert.equal(srv.Os, 'linux');
    assert.equal(okOut(await d.docker(['version', '--format', '{{.Client.APIVersion}}']), 'client version'), '1.41', 'the CLI negotiates down to 1.41');
  });

  it('docker info renders without errors', async () => {
    const r = await d.docker(['info']);
    expectCode(r, 0, 'docker info');
    assert.doesNotMatch(r.stderr + r.stdout, /errors pretty printing info|error during connect|Error response|failed to/i, r.stderr + r.stdout);
    expectMatch(r.stdout, /Server Version:/, 'docker info');
    expectMatch(r.stdout, /Containers: \d+/, 'docker info');
    assert.equal(okOut(await d.docker(['info', '--format', '{{.OSType}} {{.Swarm.LocalNodeState}}']), 'info --format'), 'linux inactive');
  });

  it('docker import of the busybox rootfs tar, then docker images lists it', async () => {
    const id = okOut(await d.docker(['import', busyboxTar(), 'busybox:latest'], { timeoutMs: 120_000 }), 'docker import');
    expectMatch(id, /^sha256:[0-9a-f]{64}$/, 'docker import prints the image ID');
    const images = okOut(await d.docker(['images']), 'docker images');
    expectMatch(images, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE/m, 'docker images header');
    expectMatch(images, new RegExp(`^busybox\\s+latest\\s+${id.slice(7, 19)}\\s`, 'm'), 'docker images row');
    const fmt = okOut(await d.docker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']), 'docker images --format');
    assert.ok(fmt.split('\n').includes(`busybox:latest ${id.slice(7, 19)}`), fmt);
    assert.equal(okOut(await d.docker(['image', 'inspect', '--format', '{{.Id}}', 'busybox']), 'image inspect'), id);
  });

  it('docker run --rm busybox echo hello prints hello', async () => {
    const r = await d.docker(['run', '--rm', 'busybox', 'echo', 'hello']);
    expectCode(r, 0, 'docker run echo');
    assert.equal(r.stdout, 'hello\n');
    assert.equal(okOut(await d.docker(['ps', '-aq']), 'ps -aq'), '', '--rm removed the container');
  });

  it('docker run keeps stdout and stderr apart', async () => {
    const r = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
    expectCode(r, 0, 'docker run');
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  it('docker run --rm busybox sh -c "exit 3" exits 3', async () => {
    expectCode(await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']), 3, 'docker run exit 3');
  });

  it('docker run --rm busybox nosuchcmd exits 127 with Docker\'s message', async () => {
    const r = await d.docker(['run', '--rm', 'busybox', 'nosuchcmd']);
    expectCode(r, 127, 'docker run nosuchcmd');
    expectMatch(r.stderr, /Error response from daemon: .*exec: "nosuchcmd": executable file not found in \$PATH/, 'stderr');
    assert.equal(okOut(await d.docker(['ps', '-aq']), 'ps -aq'), '', 'the failed --rm container is removed');
  });

  it('docker run of a non-executable file exits 126', async () => {
    const r = await d.docker(['run', '--rm', 'busybox', '/etc/passwd']);
    expectCode(r, 126, 'docker run /etc/passwd');
    expectMatch(r.stderr, /permission denied/, 'stderr');
  });

  it('docker run -i passes stdin through', async () => {
    const r = await d.docker(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'], { input: 'piped\n' });
    expectCode(r, 0, 'docker run -i');
    assert.equal(r.stdout, 'piped\ndone\n');
  });

  describe('API version negotiation', () => {
    it('/_ping answers OK with the API headers', async () => {
      const r = await d.api('GET', '/_ping');
      assert.equal(r.status, 200);
      assert.equal(r.text, 'OK');
      assert.equal(r.headers['api-version'], '1.41');
      assert.equal(r.headers['ostype'], 'linux');
      const head = await d.api('HEAD', '/_ping');
      assert.equal(head.status, 200);
      assert.equal(head.headers['api-version'], '1.41');
    });

    it('unversioned and /v1.41/ paths both work', async () => {
      for (const p of ['/version', '/v1.41/version', '/v1.24/version']) {
        const r = await d.api<{ ApiVersion: string; MinAPIVersion: string }>('GET', p);
        assert.equal(r.status, 200, `${p}: ${r.text}`);
        assert.equal(r.headers['content-type'], 'application/json', p);
        assert.equal(r.json.ApiVersion, '1.41', p);
      }
      for (const p of ['/containers/json', '/v1.41/containers/json?all=1']) {
        const r = await d.api('GET', p);
        assert.equal(r.status, 200, `${p}: ${r.text}`);
        assert.ok(Array.isArray(r.json), p);
      }
    });

    it('/v1.99/ is rejected with 400 "client version 1.99 is too new"', async () => {
      const r = await d.api<{ message: string }>('GET', '/v1.99/version');
      assert.equal(r.status, 400, r.text);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.json.message, 'client version 1.99 is too new. Maximum supported API version is 1.41');
      const c = await d.api<{ message: string }>('GET', '/v1.99/containers/json');
      assert.equal(c.status, 400, c.text);
    });

    it('/v1.5/ is rejected with 400 "client version 1.5 is too old"', async () => {
      const r = await d.api<{ message: string }>('GET', '/v1.5/version');
      assert.equal(r.status, 400, r.text);
      expectMatch(r.json.message, /^client version 1\.5 is too old\. Minimum supported API version is 1\.12/, 'message');
    });

    it('DOCKER_API_VERSION=1.41 pins the CLI and works; 1.99 is refused by the daemon', async () => {
      const ok = await d.docker(['ps'], { env: { ...d.env, DOCKER_API_VERSION: '1.41' } });
      expectCode(ok, 0, 'DOCKER_API_VERSION=1.41 docker ps');
      const bad = await d.docker(['ps'], { env: { ...d.env, DOCKER_API_VERSION: '1.99' } });
      assert.notEqual(bad.code, 0, 'docker ps at 1.99 must fail');
      expectMatch(bad.stderr, /client version 1\.99 is too new/, 'stderr');
    });

    it('unknown routes get 404 "page not found"', async () => {
      const r = await d.api<{ message: string }>('GET', '/v1.41/no/such/route');
      assert.equal(r.status, 404);
      assert.equal(r.json.message, 'page not found');
    });
  });
});
