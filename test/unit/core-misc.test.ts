import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DetachScanner, parseDetachKeys } from '../../src/containers/attach';
import { parseSignal } from '../../src/containers/service';
import { resolveUser } from '../../src/containers/user';
import { resolveInRoot } from '../../src/containers/root-path';
import { parseFilters, parseBool, matchLabels } from '../../src/common/filters';
import { buildSpec, effectiveCapabilities, defaultCapabilities } from '../../src/runtime/spec';
import { httpStatus } from '../../src/api/errors';
import { notFound, conflict, invalid, notModified } from '../../src/common/errors';

test('detach keys: default ctrl-p ctrl-q, custom specs, pass-through of near misses', () => {
  assert.deepEqual(parseDetachKeys(undefined), [16, 17]);
  assert.deepEqual(parseDetachKeys('ctrl-a,x'), [1, 120]);
  assert.throws(() => parseDetachKeys('ctrl-1'));
  const s = new DetachScanner([16, 17]);
  let [out, det] = s.feed(Buffer.from([97, 16]));
  assert.deepEqual([...out], [97]);
  assert.equal(det, false);
  [out, det] = s.feed(Buffer.from([98]));
  assert.deepEqual([...out], [16, 98]);
  [out, det] = s.feed(Buffer.from([16, 17, 99]));
  assert.equal(det, true);
  assert.deepEqual([...out], []);
});

test('signals parse like Docker', () => {
  assert.equal(parseSignal('SIGTERM'), 15);
  assert.equal(parseSignal('kill'), 9);
  assert.equal(parseSignal('10'), 10);
  assert.equal(parseSignal('RTMIN+3'), 37);
  assert.throws(() => parseSignal('NOPE'), /Invalid signal/);
});

test('filters accept both wire shapes; booleans parse as moby does', () => {
  assert.deepEqual(parseFilters('{"label":{"a=b":true},"name":{"x":true}}').get('label'), ['a=b']);
  assert.deepEqual(parseFilters('{"label":["a=b"]}').get('label'), ['a=b']);
  assert.throws(() => parseFilters('{bad'));
  assert.equal(parseBool('0'), false);
  assert.equal(parseBool('False'), false);
  assert.equal(parseBool('1'), true);
  assert.equal(matchLabels(parseFilters('{"label":["a=b","c"]}'), { a: 'b', c: '' }), true);
  assert.equal(matchLabels(parseFilters('{"label":["a=x"]}'), { a: 'b' }), false);
});

test('user resolution reads the container passwd and group files, never the host', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-user-'));
  fs.mkdirSync(path.join(root, 'etc'));
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n');
  assert.deepEqual(resolveUser(root, 'app'), { uid: 1000, gid: 1000, additionalGids: [2000], home: '/home/app' });
  assert.equal(resolveUser(root, '').home, '/root');
  assert.deepEqual(resolveUser(root, '1234:5').uid, 1234);
  assert.equal(resolveUser(root, 'app:root').gid, 0);
  assert.throws(() => resolveUser(root, 'nobody'), /unable to find user nobody/);
  // a passwd that is a symlink to the host's file resolves inside the root
  fs.rmSync(path.join(root, 'etc/passwd'));
  fs.symlinkSync('/etc/../../../etc/passwd-host', path.join(root, 'etc/passwd'));
  assert.equal(resolveInRoot(root, '/etc/passwd'), path.join(root, 'etc/passwd-host'));
  fs.rmSync(root, { recursive: true });
});

test('resolveInRoot clamps .. and absolute links at the root', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-root-'));
  fs.mkdirSync(path.join(root, 'a'));
  fs.symlinkSync('/', path.join(root, 'a/up'));
  fs.symlinkSync('../../../../etc', path.join(root, 'a/etc'));
  assert.equal(resolveInRoot(root, '/a/up/etc/shadow'), path.join(root, 'etc/shadow'));
  assert.equal(resolveInRoot(root, '/a/etc/shadow'), path.join(root, 'etc/shadow'));
  assert.equal(resolveInRoot(root, '../../x'), path.join(root, 'x'));
  fs.rmSync(root, { recursive: true });
});

test('OCI spec carries Docker defaults', () => {
  const spec = buildSpec({
    id: 'x', rootfs: '/r', readonlyRootfs: false, args: ['sh'], env: ['A=1'], cwd: '/', uid: 0, gid: 0, additionalGids: [], terminal: false,
    hostname: 'h', privileged: false, capAdd: ['NET_ADMIN'], capDrop: ['MKNOD'], mounts: [], network: 'new', ipcHost: false, pidHost: false,
    utsHost: false, cgroupsPath: '/berth/x', shmSize: 1024, sysctls: {}, noNewPrivileges: false, annotations: {},
  }) as { process: { capabilities: { bounding: string[] } }; linux: { maskedPaths: string[]; namespaces: Array<{ type: string }> }; mounts: Array<{ destination: string }> };
  assert.ok(spec.process.capabilities.bounding.includes('CAP_NET_ADMIN') || !effectiveCapabilities(true, [], []).includes('CAP_NET_ADMIN'));
  assert.ok(!spec.process.capabilities.bounding.includes('CAP_MKNOD'));
  assert.ok(spec.linux.maskedPaths.includes('/proc/kcore'));
  assert.deepEqual(spec.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.ok(spec.mounts.some((m) => m.destination === '/dev/shm'));
  assert.equal(defaultCapabilities.length, 14);
  // privileged never asks for more than the host's bounding set
  const host = effectiveCapabilities(true, [], []);
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  if (!/CapBnd:\s*000001ffffffffff/.test(status)) assert.ok(host.length < 41);
});

test('error kinds map to Docker status codes in one place', () => {
  assert.equal(httpStatus(notFound('x')), 404);
  assert.equal(httpStatus(conflict('x')), 409);
  assert.equal(httpStatus(invalid('x')), 400);
  assert.equal(httpStatus(notModified()), 304);
  assert.equal(httpStatus(new Error('boom')), 500);
});
