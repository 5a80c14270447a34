// Image store semantics (Docker 20.10): import, lookup, tag, list filters, inspect, history, rmi, prune, restart.
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { packTar, type TarInput } from '../../src/common/archive';
import type { EngineEvent } from '../../src/common/events';
import { createImageService, type ImageConfig, type ImageService } from '../../src/images';

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-images-'));
  made.push(d);
  return d;
}

async function tarBuf(entries: TarInput[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of packTar(entries)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const file = (name: string, body: string): TarInput => ({ name, type: 'file', body: Buffer.from(body), mode: 0o755 });

async function setup(): Promise<{ root: string; s: ImageService; events: EngineEvent[] }> {
  const root = tmp();
  const events: EngineEvent[] = [];
  const s = await createImageService({ root, events: (e) => events.push(e) });
  return { root, s, events };
}

async function importSimple(s: ImageService, repo: string | undefined, body: string, changes: string[] = []): Promise<string> {
  const tar = await tarBuf([{ name: 'bin/', type: 'dir', mode: 0o755 }, file('bin/x', body)]);
  return s.importTar(Readable.from([tar]), { ...(repo ? { repo } : {}), changes });
}

/** A child config distinct from its parent's (as commit/build produce). */
function childConfig(s: ImageService, parent: string, step: string): ImageConfig {
  const c = s.get(parent).config;
  return { ...c, created: new Date().toISOString(), history: [...(c.history ?? []), { created: new Date().toISOString(), created_by: step }] };
}

const noUsers = { force: false, noprune: false, usedBy: (): string[] => [] };

test('import: ID is the config digest, events tag then import, Docker-shaped outputs', async () => {
  const { s, events } = await setup();
  const tar = await tarBuf([file('bin/busybox', 'BB')]);
  const id = await s.importTar(Readable.from([gzipSync(tar)]), { repo: 'docker.io/library/bb', tag: '1', message: 'hi', changes: ['CMD ["sh"]', 'LABEL a=b'] });
  assert.match(id, /^sha256:[a-f0-9]{64}$/);
  assert.deepEqual(events.map((e) => `${e.Action}:${e.Actor.ID}:${e.Actor.Attributes['name']}`), [`tag:${id}:bb:1`, `import:${id}:${id}`]);
  assert.equal(events[0]?.Actor.Attributes['a'], 'b');
  const img = s.get('bb:1');
  assert.equal(img.id, id);
  assert.deepEqual(img.repoTags, ['bb:1']);
  assert.equal(img.layers[0]?.blob?.digest, img.diffIds[0]); // the uncompressed tar is kept
  assert.ok(s.content.has(id));
  const list = s.list({ filters: new Map() }) as Array<Record<string, unknown>>;
  assert.deepEqual(Object.keys(list[0] ?? {}), ['Containers', 'Created', 'Id', 'Labels', 'ParentId', 'RepoDigests', 'RepoTags', 'SharedSize', 'Size', 'VirtualSize']);
  assert.equal(list[0]?.['Size'], 2);
  assert.equal(list[0]?.['RepoDigests'], null);
  const ins = s.inspect(id) as Record<string, unknown>;
  assert.equal(ins['Comment'], 'hi');
  assert.deepEqual(ins['RepoDigests'], []);
  assert.equal((ins['Config'] as Record<string, unknown>)['Hostname'], '');
  assert.deepEqual((ins['Config'] as Record<string, unknown>)['Cmd'], ['sh']);
  assert.deepEqual((ins['RootFS'] as Record<string, unknown>)['Layers'], img.diffIds);
  assert.match(String((ins['Metadata'] as Record<string, unknown>)['LastTagTime']), /^\d{4}-.*Z$/);
  const h = s.history('bb:1') as Array<Record<string, unknown>>;
  assert.deepEqual(h, [{ Comment: 'hi', Created: img.config.created ? Math.floor(Date.parse(img.config.created) / 1000) : 0, CreatedBy: '', Id: id, Size: 2, Tags: ['bb:1'] }]);
  const untagged = await importSimple(s, undefined, 'u');
  assert.equal((s.inspect(untagged) as Record<string, unknown>)['Comment'], 'Imported from -');
  assert.equal(((s.inspect(untagged) as Record<string, unknown>)['Metadata'] as Record<string, unknown>)['LastTagTime'], '0001-01-01T00:00:00Z');
});

test('import rejects bad input before reading it, and leaves nothing behind on failure', async () => {
  const { root, s } = await setup();
  let read = false;
  const body = new Readable({ read(): void { read = true; this.push(null); } });
  await assert.rejects(s.importTar(body, { repo: 'x', changes: ['RUN true'] }), /run is not a valid change command/);
  await assert.rejects(s.importTar(body, { repo: 'Bad' }), /repository name must be lowercase/);
  await assert.rejects(s.importTar(body, { repo: `x@sha256:${'a'.repeat(64)}` }), /cannot import digest reference/);
  await assert.rejects(s.importTar(body, { platform: 'windows/amd64' }), /operating system is not supported/);
  assert.equal(read, false);
  await assert.rejects(s.importTar(Readable.from([Buffer.alloc(2048, 1)]), {}), /tar/);
  assert.deepEqual(s.all(), []);
  assert.deepEqual(fs.readdirSync(path.join(root, 'content', 'ingest')), []);
  assert.deepEqual(fs.readdirSync(path.join(root, 'content', 'blobs', 'sha256')), []);
});

test('lookup by every form Docker accepts; not found and invalid errors', async () => {
  const { s } = await setup();
  const id = await importSimple(s, 'app:v1', 'a');
  const hex = id.slice(7);
  for (const ref of ['app:v1', 'docker.io/library/app:v1', 'library/app:v1', id, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 10)}`, hex.slice(0, 3)]) {
    assert.equal(s.get(ref).id, id, ref);
  }
  assert.throws(() => s.get('app'), (e: Error & { kind?: string }) => e.kind === 'not_found' && e.message === 'No such image: app:latest');
  assert.throws(() => s.get('nope:1'), /^EngineError: No such image: nope:1$|No such image: nope:1/);
  assert.throws(() => s.get(`sha256:${'0'.repeat(64)}`), /No such image: sha256:0000/);
  assert.throws(() => s.get('UPPER'), (e: Error & { kind?: string }) => e.kind === 'invalid_argument');
  assert.equal(s.tryGet('nope'), undefined);
});

test('tag: CLI 28 and docker-py forms, familiar RepoTags, tag events', async () => {
  const { s, events } = await setup();
  const id = await importSimple(s, undefined, 't');
  s.tag(id, 'docker.io/library/app', 'v1');
  s.tag('app:v1', 'app');
  s.tag('app', '127.0.0.1:5000/x', '1');
  s.tag(id, 'user/repo:given');
  assert.deepEqual(s.get(id).repoTags, ['127.0.0.1:5000/x:1', 'app:latest', 'app:v1', 'user/repo:given']);
  assert.deepEqual(events.filter((e) => e.Action === 'tag').map((e) => e.Actor.Attributes['name']), ['app:v1', 'app', '127.0.0.1:5000/x:1', 'user/repo:given']);
  assert.throws(() => s.tag(id, 'x', 'bad tag!'), /invalid tag format/);
  assert.throws(() => s.tag(id, 'sha256', 'x'), /ambiguous/);
  assert.throws(() => s.tag('missing', 'x'), /No such image: missing:latest/);
  // moving a tag leaves the old image dangling
  const other = await importSimple(s, undefined, 'o');
  s.tag(other, 'app', 'v1');
  assert.equal(s.get('app:v1').id, other);
});

test('rmi: Docker rules and messages', async () => {
  const { s, events } = await setup();
  const id = await importSimple(s, 'a:1', 'r');
  s.tag(id, 'b', '1');
  // one of several tags: untag only
  assert.deepEqual(s.remove('a:1', noUsers), [{ Untagged: 'a:1' }]);
  // last tag, used by a container
  const used = { force: false, noprune: false, usedBy: (): string[] => ['0123456789abcdef'] };
  assert.throws(() => s.remove('b:1', used), (e: Error & { kind?: string }) => e.kind === 'conflict' &&
    e.message === `conflict: unable to remove repository reference "b:1" (must force) - container 0123456789ab is using its referenced image ${id.slice(7, 19)}`);
  // by ID while referenced by a stopped container
  assert.throws(() => s.remove(id.slice(7, 19), used), /unable to delete .* \(must be forced\) - image is being used by stopped container 0123456789ab/);
  // running container: cannot be forced
  assert.throws(() => s.remove(id, { ...used, force: true, isRunning: () => true }), /\(cannot be forced\) - image is being used by running container 0123456789ab/);
  // by ID with tags in two repositories
  s.tag(id, 'c', '1');
  assert.throws(() => s.remove(id, noUsers), /\(must be forced\) - image is referenced in multiple repositories/);
  const top = s.get(id).chainIds[0];
  events.length = 0;
  const res = s.remove(id, { ...noUsers, force: true });
  assert.deepEqual(res, [{ Untagged: 'b:1' }, { Untagged: 'c:1' }, { Deleted: id }, { Deleted: top }]);
  assert.deepEqual(events.map((e) => e.Action), ['untag', 'untag', 'delete']);
  assert.throws(() => s.get(id), /No such image/);
  assert.ok(!s.content.has(id));
  assert.throws(() => s.remove('a:1', noUsers), /No such image: a:1/);
});

test('rmi keeps layers other images or containers still use', async () => {
  const { s } = await setup();
  const base = s.get(await importSimple(s, 'base', 'b'));
  const child = await s.createImage({ base: base.chainIds[0] ?? null, layers: [{ tar: Readable.from([await tarBuf([file('c', 'c')])]) }], config: childConfig(s, base.id, 'add c'), parent: base.id, tags: ['child'] });
  assert.deepEqual(child.chainIds.slice(0, 1), base.chainIds);
  assert.equal(child.parent, base.id);
  assert.equal(child.size, base.size + 1);
  // a parent with children cannot go, even forced
  s.remove('base', noUsers); // untag only... the image stays (it has a child)
  assert.throws(() => s.remove(base.id, { ...noUsers, force: true }), /\(cannot be forced\) - image has dependent child images/);
  // a container on the child protects its layers from a forced rmi
  await s.snapshots.prepare('ctr', child.chainIds[1] ?? null);
  const r = s.remove('child', { ...noUsers, force: true, usedBy: (id) => (id === child.id ? ['ctr'] : []) });
  assert.deepEqual(r, [{ Untagged: 'child:latest' }, { Deleted: child.id }, { Deleted: base.id }]); // parent pruned, no layer deleted
  assert.ok(s.snapshots.hasLayer(child.chainIds[1] ?? ''));
  // the container going releases the layers nothing references any more
  await s.snapshots.remove('ctr');
  assert.deepEqual(s.snapshots.listLayers(), []);
});

test('noprune keeps the untagged parent', async () => {
  const { s } = await setup();
  const base = s.get(await importSimple(s, undefined, 'b'));
  const child = await s.createImage({ base: base.chainIds[0] ?? null, config: childConfig(s, base.id, 'env'), parent: base.id });
  const r = s.remove(child.id, { ...noUsers, noprune: true });
  assert.deepEqual(r, [{ Deleted: child.id }]);
  assert.equal(s.get(base.id).id, base.id);
});

test('list filters: dangling, label, before/since, reference, all', async () => {
  const { s } = await setup();
  const a = await importSimple(s, 'a:1', 'a', ['LABEL k=v']);
  const b = await importSimple(s, 'b:1', 'b', ['LABEL k=w']);
  const c = await importSimple(s, undefined, 'c');
  const child = await s.createImage({ base: s.get(c).chainIds[0] ?? null, config: childConfig(s, c, 'kid'), parent: c, tags: ['kid'] });
  const ids = (f: Array<[string, string[]]>, all = false): string[] => (s.list({ all, filters: new Map(f) }) as Array<{ Id: string }>).map((i) => i.Id);
  assert.deepEqual(ids([]), [child.id, b, a]); // newest first; the untagged parent is hidden
  assert.deepEqual(ids([], true), [child.id, c, b, a]);
  const dang = s.list({ all: true, filters: new Map([['dangling', ['true']]]) }) as Array<{ Id: string; RepoTags: string[] }>;
  assert.deepEqual(dang.map((i) => [i.Id, i.RepoTags]), [[c, ['<none>:<none>']]]);
  assert.deepEqual(ids([['dangling', ['false']]], true), [child.id, b, a]);
  assert.throws(() => ids([['dangling', ['maybe']]]), /Invalid filter 'dangling=\[maybe\]'/);
  assert.throws(() => ids([['nope', ['x']]]), /invalid filter 'nope'/);
  assert.deepEqual(ids([['label', ['k']]]), [b, a]);
  assert.deepEqual(ids([['label', ['k=v']]]), [a]);
  assert.deepEqual(ids([['before', ['b:1']]]), [a]);
  assert.deepEqual(ids([['since', ['a:1']]]), [child.id, b]);
  assert.throws(() => ids([['since', ['missing']]]), /No such image/);
  assert.deepEqual(ids([['reference', ['a']]]), [a]);
  assert.deepEqual(ids([['reference', ['*:1']]]), [b, a]);
  const refd = s.list({ filters: new Map([['reference', ['b*']]]) }) as Array<{ RepoTags: string[] }>;
  assert.deepEqual(refd.map((i) => i.RepoTags), [['b:1']]);
  const counted = s.list({ filters: new Map(), containersUsing: (id) => (id === a ? 2 : 0) }) as Array<{ Id: string; Containers: number }>;
  assert.equal(counted.find((i) => i.Id === a)?.Containers, 2);
});

test('history: newest first, <missing> for layers without a local image', async () => {
  const { s } = await setup();
  const base = s.get(await importSimple(s, 'base', 'b'));
  const cfg = { ...base.config, history: [...(base.config.history ?? []), { created: '2024-01-02T03:04:05.123456789Z', created_by: '/bin/sh -c #(nop) ENV X=1', empty_layer: true }, { created: '2024-01-02T03:04:06Z', created_by: '/bin/sh -c make' }] };
  const img = await s.createImage({ base: base.chainIds[0] ?? null, layers: [{ tar: Readable.from([await tarBuf([file('m', 'made')])]) }], config: cfg, parent: base.id, tags: ['made'] });
  const h = s.history('made') as Array<Record<string, unknown>>;
  assert.deepEqual(h.map((x) => [x['Id'], x['CreatedBy'], x['Size'], x['Tags']]), [
    [img.id, '/bin/sh -c make', 4, ['made:latest']],
    [base.id, '/bin/sh -c #(nop) ENV X=1', 0, ['base:latest']],
    ['<missing>', '', 1, null],
  ]);
  assert.equal(h[0]?.['Created'], 1704164646);
});

test('prune: dangling by default, all unused with dangling=false, SpaceReclaimed', async () => {
  const { s, events } = await setup();
  const keep = await importSimple(s, 'keep', 'kk');
  const dangling = await importSimple(s, undefined, 'ddd');
  const usedTagged = await importSimple(s, 'used', 'uuuu');
  const r = await s.prune(new Map(), () => []);
  assert.deepEqual(r.ImagesDeleted?.filter((d) => 'Deleted' in d).map((d) => ('Deleted' in d ? d.Deleted : ''))[0], dangling);
  assert.equal(r.SpaceReclaimed, 3);
  assert.equal(events.at(-1)?.Action, 'prune');
  assert.equal(events.at(-1)?.Actor.Attributes['reclaimed'], '3');
  const r2 = await s.prune(new Map([['dangling', ['false']]]), (id) => (id === usedTagged ? ['c1'] : []));
  assert.deepEqual(r2.ImagesDeleted?.[0], { Untagged: 'keep:latest' });
  assert.equal(r2.SpaceReclaimed, 2);
  assert.equal(s.get('used').id, usedTagged);
  assert.throws(() => s.get(keep), /No such image/);
  assert.deepEqual(await s.prune(new Map(), () => []), { ImagesDeleted: null, SpaceReclaimed: 0 });
  await assert.rejects(s.prune(new Map([['bogus', ['1']]]), () => []), /invalid filter 'bogus'/);
});

test('state survives a restart; crash leftovers and orphans are cleaned at start', async () => {
  const { root, s } = await setup();
  const id = await importSimple(s, 'persist:1', 'p');
  const lost = await importSimple(s, undefined, 'orphan-to-be');
  const lostLayer = s.get(lost).chainIds[0] ?? '';
  // simulate crashes: an interrupted ingest, a half-built layer, a record whose blob vanished, a stray blob
  fs.writeFileSync(path.join(root, 'content', 'ingest', 'partial'), 'x');
  fs.mkdirSync(path.join(root, 'snapshots', 'tmp-half', 'fs'), { recursive: true });
  fs.rmSync(s.content.path(lost));
  const stray = await s.content.put(Buffer.from('stray'));
  const s2 = await createImageService({ root, events: () => undefined });
  assert.equal(s2.get('persist:1').id, id);
  assert.deepEqual(s2.all().map((i) => i.id), [id]);
  assert.deepEqual(fs.readdirSync(path.join(root, 'content', 'ingest')), []);
  assert.ok(!fs.existsSync(path.join(root, 'snapshots', 'tmp-half')));
  assert.ok(!s2.content.has(stray.digest));
  assert.ok(!s2.snapshots.hasLayer(lostLayer));
  assert.ok(s2.snapshots.hasLayer(s2.get(id).chainIds[0] ?? ''));
});

test('createImage with exact config bytes (load) reproduces the same ID elsewhere', async () => {
  const a = await setup();
  const img = a.s.get(await importSimple(a.s, 'src:1', 'load-me'));
  const bytes = a.s.configBytes(img.id);
  const b = await setup();
  const loaded = await b.s.createImage({ configBytes: bytes, layers: [{ tar: a.s.layerTar(img.chainIds[0] ?? '') }], tags: ['src:1'] });
  assert.equal(loaded.id, img.id);
  assert.deepEqual(b.s.get('src:1').chainIds, img.chainIds);
  // a layer that does not match the config is refused
  await assert.rejects(b.s.createImage({ configBytes: bytes, layers: [{ tar: Readable.from([await tarBuf([file('other', 'x')])]) }] }), /do not match/);
  // the tar regenerated from the snapshot matches the diff ID too
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  const regenerated = (await import('../../src/common/archive')).createTar(b.s.snapshots.layerPath(img.chainIds[0] ?? ''), { whiteouts: true });
  for await (const c of regenerated) h.update(c as Buffer);
  assert.equal(`sha256:${h.digest('hex')}`, img.diffIds[0]);
});

test('restart after a power loss: an image whose layer was never flushed is dropped with the layer; after a mere kill it stays', async () => {
  const { root, s } = await setup();
  const kept = await importSimple(s, 'kept', 'one');
  await s.snapshots.flush();
  const torn = await importSimple(s, 'torn', 'two');
  const killed = await importSimple(s, 'killed', 'three');
  const unsynced = path.join(root, 'snapshots', 'unsynced');
  const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const tornLayer = s.get(torn).chainIds[0]!.slice(7);
  // The torn image's layer as if written before another boot; the killed one's stays of this boot.
  fs.renameSync(path.join(unsynced, `${tornLayer}.${boot}`), path.join(unsynced, `${tornLayer}.11111111-2222-3333-4444-555555555555`));
  const s2 = await createImageService({ root, events: () => undefined });
  assert.equal(s2.get('kept:latest').id, kept);
  assert.equal(s2.get('killed:latest').id, killed);
  assert.throws(() => s2.get('torn:latest'), /No such image/);
  assert.equal(s2.snapshots.hasLayer(`sha256:${tornLayer}`), false);
  await s2.snapshots.flush();
  assert.deepEqual(fs.readdirSync(unsynced), []);
});

test('images made without fsyncs (build steps) that a power loss left empty are dropped at start; persist() makes one durable', async () => {
  const { root, s } = await setup();
  const base = await importSimple(s, 'base', 'b');
  const a = await s.createImage({ config: childConfig(s, base, 'RUN a'), base: s.get(base).chainIds[0]!, parent: base, durable: false });
  const b = await s.createImage({ config: childConfig(s, a.id, 'RUN b'), base: a.chainIds[0]!, parent: a.id, durable: false });
  s.persist(b.id);
  s.tag(a.id, 'inter:1');
  // What a power loss may leave of a's unsynced files: empty ones.
  fs.truncateSync(path.join(root, 'images', 'meta', `${a.id.slice(7)}.json`), 0);
  fs.truncateSync(s.content.path(a.id), 0);
  const s2 = await createImageService({ root, events: () => undefined });
  assert.throws(() => s2.get(a.id), /No such image/);
  assert.throws(() => s2.get('inter:1'), /No such image/);
  assert.equal(s2.get(b.id).id, b.id);
  assert.equal(s2.content.has(a.id), false, 'the empty config blob is collected');
});
