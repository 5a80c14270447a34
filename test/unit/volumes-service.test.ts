// The volume service (local driver) on a temp root: create/inspect/list
// filters/remove/prune with Docker's messages, references, crash leftovers;
// and the parsing of -v / --mount specs with Docker's errors.
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EngineEvent } from '../../src/common/events';
import { parseFilters } from '../../src/common/filters';
import { VolumeService, parseMountOptions } from '../../src/volumes/service';
import { parseBindSpec, parseMountSpec, VolumeMounts } from '../../src/volumes/mounts';
import { goFileMode, mergeConfig } from '../../src/containers/filesystem';
import type { ContainerRecord } from '../../src/containers/types';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function service(): { v: VolumeService; events: EngineEvent[]; root: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-volsvc-'));
  made.push(root);
  const events: EngineEvent[] = [];
  const v = new VolumeService(path.join(root, 'volumes'), (e) => events.push(e));
  v.init();
  return { v, events, root: path.join(root, 'volumes') };
}

const f = (o: Record<string, string[]>): Map<string, string[]> => parseFilters(JSON.stringify(o));

test('create, inspect, idempotent create, generated names, events', () => {
  const { v, events, root } = service();
  const a = v.create('data', { labels: { a: 'b' } });
  assert.equal(a.Name, 'data');
  assert.deepEqual(v.view(a), {
    CreatedAt: a.CreatedAt, Driver: 'local', Labels: { a: 'b' }, Mountpoint: path.join(root, 'data', '_data'), Name: 'data', Options: null, Scope: 'local',
  });
  assert.match(a.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(fs.statSync(path.join(root, 'data', '_data')).isDirectory());
  assert.equal(v.create('data', { labels: { other: 'x' } }), a, 'an existing volume is returned as is');
  const g = v.create(undefined);
  assert.match(g.Name, /^[0-9a-f]{64}$/);
  assert.deepEqual(events.map((e) => `${e.Type} ${e.Action} ${e.Actor.ID}`), ['volume create data', `volume create ${g.Name}`]);
  assert.throws(() => v.get('nope'), { message: 'get nope: no such volume' });
  assert.throws(() => v.create('a'), /includes invalid characters for a local volume name/, 'one character is too short, as Docker');
  assert.throws(() => v.create('x/y'), /includes invalid characters/);
  assert.throws(() => v.create('o1', { options: { bogus: '1' } }), { message: 'create o1: invalid option key: "bogus"' });
  assert.throws(() => v.create('o2', { options: { type: 'tmpfs' } }), { message: 'create o2: missing required option: "device"' });
  assert.throws(() => v.create('o3', { options: { o: 'size=1m', device: 'tmpfs' } }), { message: 'create o3: missing required option: "type"' });
  assert.throws(() => v.create('o4', { driver: 'flocker' }), /plugin "flocker" not found/);
  assert.deepEqual(v.create('o5', { options: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } }).Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
});

test('list filters: dangling, name (regexp), label, driver', () => {
  const { v } = service();
  v.create('alpha', { labels: { tier: 'db', team: 'x' } });
  v.create('beta', { labels: { tier: 'web' } });
  v.create('gamma');
  v.addRef('beta', 'c1');
  const names = (o: Record<string, string[]>): string[] => v.list(f(o)).map((x) => x.Name).sort();
  assert.deepEqual(names({}), ['alpha', 'beta', 'gamma']);
  assert.deepEqual(names({ dangling: ['true'] }), ['alpha', 'gamma']);
  assert.deepEqual(names({ dangling: ['0'] }), ['beta']);
  assert.deepEqual(names({ name: ['^al'] }), ['alpha']);
  assert.deepEqual(names({ name: ['mm'] }), ['gamma']);
  assert.deepEqual(names({ label: ['tier'] }), ['alpha', 'beta']);
  assert.deepEqual(names({ label: ['tier=db'] }), ['alpha']);
  assert.deepEqual(names({ driver: ['local'] }), ['alpha', 'beta', 'gamma']);
  assert.throws(() => v.list(f({ dangling: ['maybe'] })), /Invalid filter 'dangling=maybe'/);
  assert.throws(() => v.list(f({ until: ['1h'] })), /invalid filter 'until'/);
});

test('remove: 409 while referenced, force only ignores missing ones; prune by API version', async () => {
  const { v, root, events } = service();
  v.create('used');
  v.create('named');
  const anon = v.create(undefined, { anonymous: true });
  v.addRef('used', 'aaaa');
  v.addRef('used', 'bbbb');
  assert.throws(() => v.remove('used'), { message: 'remove used: volume is in use - [aaaa, bbbb]' });
  assert.throws(() => v.remove('used', true), /volume is in use/);
  assert.throws(() => v.remove('missing'), { message: 'get missing: no such volume' });
  v.remove('missing', true);
  v.removeRef('used', 'aaaa');
  assert.deepEqual(v.users('used'), ['bbbb']);
  // API 1.42+: anonymous only, unless all=true
  let r = await v.prune(new Map(), '1.43', () => 5);
  assert.deepEqual(r, { VolumesDeleted: [anon.Name], SpaceReclaimed: 5 });
  r = await v.prune(new Map(), '1.41', () => 7);
  assert.deepEqual(r, { VolumesDeleted: ['named'], SpaceReclaimed: 7 }, 'API 1.41 prunes every unused volume');
  assert.deepEqual(v.all().map((x) => x.Name), ['used']);
  assert.ok(!fs.existsSync(path.join(root, 'named')));
  assert.deepEqual(fs.readdirSync(root).sort(), ['used'], 'nothing left behind');
  assert.ok(events.some((e) => e.Action === 'destroy' && e.Actor.ID === 'named'));
  assert.ok(events.some((e) => e.Action === 'prune' && e.Actor.Attributes['reclaimed'] === '7'));
  v.create('lbl', { labels: { keep: '1' } });
  r = await v.prune(f({ 'label!': ['keep'] }), '1.41', () => 0);
  assert.equal(r.VolumesDeleted, null);
  await assert.rejects(v.prune(f({ until: ['1h'] }), '1.41', () => 0), /invalid filter 'until'/);
});

test('start-up: leftovers of a crash are removed, volumes are reloaded, references rebuilt', () => {
  const { v, root } = service();
  v.create('keep', { labels: { x: 'y' } });
  fs.mkdirSync(path.join(root, '.tmp-123456', '_data'), { recursive: true });
  fs.mkdirSync(path.join(root, '.rm-abcdef', '_data'), { recursive: true });
  fs.writeFileSync(path.join(root, '.rm-abcdef', '_data', 'f'), 'x');
  fs.mkdirSync(path.join(root, 'nometa', '_data'), { recursive: true });
  const again = new VolumeService(root, () => undefined);
  again.init();
  assert.deepEqual(again.all().map((x) => x.Name), ['keep']);
  assert.deepEqual(again.get('keep').Labels, { x: 'y' });
  assert.ok(!fs.existsSync(path.join(root, '.tmp-123456')) && !fs.existsSync(path.join(root, '.rm-abcdef')));
  again.restore([{ id: 'c1', volumes: ['keep'] }]);
  assert.equal(again.refCount('keep'), 1);
  assert.throws(() => again.remove('keep'), /in use/);
});

test('mount options of the local driver', () => {
  assert.deepEqual(parseMountOptions('bind,ro'), { flags: 4096 | 1, data: '' });
  assert.deepEqual(parseMountOptions('size=1m,uid=1000,noexec'), { flags: 8, data: 'size=1m,uid=1000' });
  assert.deepEqual(parseMountOptions('rw,rprivate'), { flags: 0, data: '' });
});

test('-v specs: Docker\'s parser and messages', () => {
  assert.deepEqual(parseBindSpec('/host:/ctr:ro,rslave'), { type: 'bind', source: '/host', target: '/ctr', readOnly: true, mode: 'ro,rslave', propagation: 'rslave', noCopy: false, createHostDir: true, raw: true });
  assert.equal(parseBindSpec('vol:/data').type, 'volume');
  assert.equal(parseBindSpec('vol:/data:nocopy').noCopy, true);
  assert.deepEqual(parseBindSpec('/anon'), { type: 'volume', source: '', target: '/anon', readOnly: false, mode: '', propagation: '', noCopy: false, createHostDir: true, raw: true });
  assert.equal(parseBindSpec('/a/b/../c/:/x/./y/').target, '/x/y');
  assert.throws(() => parseBindSpec('/a:/b:c:d'), { message: "invalid volume specification: '/a:/b:c:d'" });
  assert.throws(() => parseBindSpec('/a:rw'), { message: "invalid volume specification: '/a:rw'" });
  assert.throws(() => parseBindSpec('/a:/b:bogus'), { message: 'invalid mode: bogus' });
  assert.throws(() => parseBindSpec('/a:/b:ro,rw'), { message: 'invalid mode: ro,rw' });
  assert.throws(() => parseBindSpec('/a:relative'), /invalid mount path: 'relative' mount path must be absolute/);
  assert.throws(() => parseBindSpec('/a:/'), /destination can't be '\/'/);
  assert.throws(() => parseBindSpec('/a:/b:nocopy'), /field VolumeOptions must not be specified/);
});

test('--mount specs: Docker\'s validateMountConfig', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-mnt-'));
  made.push(dir);
  const b = parseMountSpec({ Type: 'bind', Source: dir, Target: '/b', ReadOnly: true, BindOptions: { Propagation: 'rshared' } });
  assert.equal(b.readOnly, true);
  assert.equal(b.propagation, 'rshared');
  assert.equal(b.createHostDir, false);
  assert.throws(() => parseMountSpec({ Type: 'bind', Source: path.join(dir, 'nope'), Target: '/b' }), { message: `invalid mount config for type "bind": bind source path does not exist: ${path.join(dir, 'nope')}` });
  assert.throws(() => parseMountSpec({ Type: 'bind', Target: '/b' }), { message: 'invalid mount config for type "bind": field Source must not be empty' });
  assert.throws(() => parseMountSpec({ Type: 'bind', Source: dir, Target: '/b', BindOptions: { Propagation: 'weird' } }), /invalid propagation mode: weird/);
  assert.throws(() => parseMountSpec({ Type: 'volume', Target: '/v', ReadOnly: true }), /must not set ReadOnly mode when using anonymous volumes/);
  assert.throws(() => parseMountSpec({ Type: 'tmpfs', Source: 'x', Target: '/t' }), /field Source must not be specified/);
  assert.throws(() => parseMountSpec({ Type: 'nfs', Target: '/t' }), /mount type unknown/);
  assert.throws(() => parseMountSpec({ Type: 'volume', Target: '' }), /field Target must not be empty/);
  const v = parseMountSpec({ Type: 'volume', Source: 'v', Target: '/v', VolumeOptions: { NoCopy: true, Labels: { a: 'b' }, DriverConfig: { Name: 'local', Options: { type: 'tmpfs', device: 'tmpfs' } } } });
  assert.equal(v.noCopy, true);
  assert.deepEqual(v.volumeOptions, { labels: { a: 'b' }, driver: 'local', driverOpts: { type: 'tmpfs', device: 'tmpfs' } });
  assert.deepEqual(parseMountSpec({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1777 } }).tmpfs, ['size=1m', 'mode=1777']);
  assert.deepEqual(parseMountSpec({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1000 } }).tmpfs, ['size=1000']);
  assert.deepEqual(parseMountSpec({ Type: 'tmpfs', Target: '/t', ReadOnly: true }).tmpfs, ['ro']);
});

function record(hc: Record<string, unknown>, volumes: Record<string, object> | null = null): ContainerRecord {
  return {
    Id: `c${Math.random().toString(16).slice(2)}`, Created: '', Path: 'true', Args: [], Image: 'sha256:x', Name: '/x', RestartCount: 0, SnapshotParent: null,
    State: { Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: '', FinishedAt: '' },
    Config: { Volumes: volumes, Labels: {} } as ContainerRecord['Config'],
    HostConfig: { Binds: null, VolumesFrom: null, Tmpfs: {}, ...hc } as unknown as ContainerRecord['HostConfig'],
  };
}

test('mount provider: what a container mounts, references and rm -v', async () => {
  const { v } = service();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-mp-'));
  made.push(dir);
  const m = new VolumeMounts(v);
  const a = record({ Binds: [`${dir}:/host:ro`, 'named:/data', '/anon1'], Mounts: [{ Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 2048 } }], Tmpfs: { '/run': 'size=1m' } }, { '/img': {}, '/data': {}, '/run': {} });
  await m.prepare(a);
  const pts = a.MountPoints as Array<Record<string, unknown>>;
  assert.deepEqual(pts.map((p) => `${p['Type']} ${p['Destination']} ${p['Anonymous'] ? 'anon' : ''}`.trim()), ['volume /anon1 anon', 'volume /data', 'bind /host', 'volume /img anon', 'tmpfs /scratch']);
  assert.equal(v.refCount('named'), 1);
  const anons = pts.filter((p) => p['Anonymous']).map((p) => p['Name'] as string);
  assert.equal(anons.length, 2);
  assert.deepEqual(m.inspect(a).map((x) => (x as { Type: string; Mode: string; RW: boolean }).Mode), ['', 'z', 'ro', '', '']);
  // --volumes-from with :ro
  m.setContainers({ get: (ref) => { if (ref === 'a') return a; throw Object.assign(new Error(`No such container: ${ref}`), { kind: 'not_found' }); } });
  const b = record({ VolumesFrom: ['a:ro'] });
  await m.prepare(b);
  assert.deepEqual((b.MountPoints as Array<{ Destination: string; RW: boolean }>).map((p) => `${p.Destination} ${p.RW}`), ['/anon1 false', '/data false', '/host false', '/img false']);
  await assert.rejects(m.prepare(record({ VolumesFrom: ['zzz'] })), { message: 'No such container: zzz' });
  await assert.rejects(m.prepare(record({ Binds: ['/a:/x', 'v:/x'] })), { message: 'Duplicate mount point: /x' });
  await assert.rejects(m.prepare(record({ Binds: ['/a:/run'], Tmpfs: { '/run': '' } })), { message: 'Duplicate mount point: /run' });
  // rm -v of b: inherited anonymous volumes are still used by a, so they stay
  await m.release(b, true);
  for (const n of anons) assert.ok(v.has(n));
  await m.release(a, true);
  for (const n of anons) assert.ok(!v.has(n), 'rm -v deleted the anonymous volume');
  assert.ok(v.has('named') && v.refCount('named') === 0, 'named volumes stay');
});

test('Go FileMode and commit config merging', () => {
  const st = (mode: number, kind: string): import('node:fs').Stats => ({
    mode, isDirectory: () => kind === 'd', isSymbolicLink: () => kind === 'l', isBlockDevice: () => kind === 'b', isCharacterDevice: () => kind === 'c', isFIFO: () => kind === 'p', isSocket: () => kind === 's',
  }) as unknown as import('node:fs').Stats;
  assert.equal(goFileMode(st(0o644, 'f')), 0o644);
  assert.equal(goFileMode(st(0o755, 'd')), 2147484141);
  assert.equal(goFileMode(st(0o777, 'l')), 2 ** 27 + 0o777);
  assert.equal(goFileMode(st(0o4755, 'f')), 2 ** 23 + 0o755);
  assert.equal(goFileMode(st(0o1777, 'd')), 2 ** 31 + 2 ** 20 + 0o777);
  assert.equal(goFileMode(st(0o620, 'c')), 2 ** 26 + 2 ** 21 + 0o620);
  const merged = mergeConfig({ Env: ['A=1'], Cmd: ['x'] }, { Env: ['A=0', 'PATH=/bin'], Cmd: ['sh'], Entrypoint: ['/ep'], Labels: { l: '1' }, WorkingDir: '/w', User: 'u', Volumes: { '/v': {} } });
  assert.deepEqual(merged, { Env: ['A=1', 'PATH=/bin'], Cmd: ['x'], Entrypoint: ['/ep'], Labels: { l: '1' }, WorkingDir: '/w', User: 'u', ExposedPorts: null, Volumes: { '/v': {} } });
});
