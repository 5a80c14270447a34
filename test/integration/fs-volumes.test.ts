// Volumes, bind mounts and tmpfs through the real docker CLI: named volumes
// shared between containers and across a berthd restart, copy-up from an
// image VOLUME (ownership and modes), anonymous volumes and rm -v / --rm,
// --volumes-from, read-only binds, tmpfs limits, ls filters and prune.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon, type Daemon } from '../harness';

describe('volumes, binds and tmpfs (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  let tmp = '';
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fsvol-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const volumes = async (...args: string[]): Promise<string[]> =>
    okOut(await d.docker(['volume', 'ls', '-q', ...args]), 'volume ls').split('\n').filter(Boolean).sort();

  it('volume create/inspect/ls/rm with labels and generated names', async () => {
    assert.equal(okOut(await d.docker(['volume', 'create', '--label', 'team=a', '--label', 'tier=db', 'v-named']), 'create'), 'v-named');
    const gen = okOut(await d.docker(['volume', 'create']), 'create without name');
    expectMatch(gen, /^[0-9a-f]{64}$/, 'generated name');
    const info = JSON.parse(okOut(await d.docker(['volume', 'inspect', 'v-named']), 'inspect')) as Array<Record<string, unknown>>;
    const v = info[0]!;
    assert.equal(v['Name'], 'v-named');
    assert.equal(v['Driver'], 'local');
    assert.equal(v['Scope'], 'local');
    assert.deepEqual(v['Labels'], { team: 'a', tier: 'db' });
    expectMatch(String(v['Mountpoint']), /\/volumes\/v-named\/_data$/, 'Mountpoint');
    expectMatch(String(v['CreatedAt']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'CreatedAt');
    assert.ok(fs.statSync(String(v['Mountpoint'])).isDirectory(), 'the mountpoint exists');
    // creating again is idempotent
    assert.equal(okOut(await d.docker(['volume', 'create', 'v-named']), 'create again'), 'v-named');
    assert.deepEqual(await volumes('--filter', 'label=team=a'), ['v-named']);
    assert.deepEqual(await volumes('--filter', 'name=v-nam'), ['v-named']);
    assert.deepEqual(await volumes('--filter', 'driver=local', '--filter', 'label=tier'), ['v-named']);
    assert.ok((await volumes('--filter', 'dangling=true')).includes(gen));
    const bad = await d.docker(['volume', 'create', 'bad/name']);
    expectCode(bad, 1, 'invalid name');
    expectMatch(bad.stderr, /includes invalid characters for a local volume name/, 'invalid name message');
    const badOpt = await d.docker(['volume', 'create', '-o', 'nope=1', 'v-badopt']);
    expectCode(badOpt, 1, 'invalid option');
    expectMatch(badOpt.stderr, /invalid option key: "nope"/, 'invalid option message');
    okOut(await d.docker(['volume', 'rm', gen, 'v-named']), 'rm');
    const miss = await d.docker(['volume', 'inspect', 'v-named']);
    expectCode(miss, 1, 'inspect removed');
    expectMatch(miss.stderr, /no such volume/, 'inspect removed');
    expectCode(await d.docker(['volume', 'rm', '-f', 'v-named']), 0, 'rm -f of a missing volume');
  });

  it('a named volume written by one container is read by the next, survives a restart, and rm refuses while in use', async () => {
    okOut(await d.docker(['run', '--name', 'writer', '-v', 'shared:/data', 'busybox', 'sh', '-c', 'echo payload > /data/file']), 'writer');
    okOut(await d.docker(['rm', 'writer']), 'rm writer');
    assert.equal(okOut(await d.docker(['run', '--rm', '-v', 'shared:/data', 'busybox', 'cat', '/data/file']), 'reader'), 'payload');
    const id = okOut(await d.docker(['run', '-d', '--name', 'holder', '-v', 'shared:/data', 'busybox', 'sleep', '1000']), 'holder');
    const rm = await d.docker(['volume', 'rm', 'shared']);
    expectCode(rm, 1, 'volume rm while in use');
    expectMatch(rm.stderr, new RegExp(`remove shared: volume is in use - \\[${id}\\]`), 'in-use message');
    expectCode(await d.docker(['volume', 'rm', '-f', 'shared']), 1, 'volume rm -f while in use');
    assert.deepEqual(await volumes('--filter', 'dangling=false'), ['shared']);
    await d.restart();
    assert.ok((await volumes()).includes('shared'), 'the volume survives the restart');
    expectCode(await d.docker(['volume', 'rm', 'shared']), 1, 'still in use after the restart');
    assert.equal(okOut(await d.docker(['exec', 'holder', 'cat', '/data/file']), 'exec after restart'), 'payload');
    okOut(await d.docker(['rm', '-f', 'holder']), 'rm holder');
    assert.equal(okOut(await d.docker(['run', '--rm', '-v', 'shared:/data', 'busybox', 'cat', '/data/file']), 'read after restart'), 'payload');
    okOut(await d.docker(['volume', 'rm', 'shared']), 'rm once unused');
  });

  it('copy-up: a fresh volume over an image VOLUME shows its files with their owners and modes; nocopy skips it; anonymous volumes go with rm -v', async () => {
    okOut(await d.docker(['run', '--name', 'mkimg', 'busybox', 'sh', '-c',
      'mkdir -p /data/sub && echo seeded > /data/hello && echo deep > /data/sub/deep && chown -R 1000:1000 /data && chmod 0750 /data && chmod 0604 /data/hello && ln -s hello /data/link']), 'prepare image content');
    okOut(await d.docker(['commit', '-c', 'VOLUME ["/data"]', 'mkimg', 'volimg:1']), 'commit with VOLUME');
    okOut(await d.docker(['rm', 'mkimg']), 'rm mkimg');
    assert.equal(okOut(await d.docker(['image', 'inspect', '--format', '{{json .Config.Volumes}}', 'volimg:1']), 'image volumes'), '{"/data":{}}');

    const ls = okOut(await d.docker(['run', '--rm', '-v', 'fresh:/data', 'volimg:1', 'sh', '-c', 'stat -c "%n %u:%g %a" /data /data/hello /data/sub/deep; readlink /data/link; cat /data/hello']), 'named volume over VOLUME');
    assert.equal(ls, '/data 1000:1000 750\n/data/hello 1000:1000 604\n/data/sub/deep 1000:1000 644\nhello\nseeded');
    const mp = okOut(await d.docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', 'fresh']), 'mountpoint');
    assert.equal(fs.readFileSync(path.join(mp, 'hello'), 'utf8'), 'seeded\n', 'the content is in the volume itself');
    // a non-empty volume is never copied into again
    okOut(await d.docker(['run', '--rm', '-v', 'fresh:/data', 'volimg:1', 'sh', '-c', 'rm /data/hello; echo mine > /data/mine']), 'change volume');
    assert.equal(okOut(await d.docker(['run', '--rm', '-v', 'fresh:/data', 'volimg:1', 'ls', '/data']), 'second run'), 'link\nmine\nsub');
    // a container that never ran: its volume is filled before docker cp looks at it, as Docker fills it at create
    okOut(await d.docker(['create', '--name', 'precopy', '-v', 'precopy:/data', 'volimg:1', 'true']), 'create');
    const cpOut = await d.docker(['cp', 'precopy:/data/sub/deep', '-']);
    expectCode(cpOut, 0, 'cp out of a never-started container\'s volume');
    expectMatch(cpOut.stdout, /deep\n/, 'the image content is there');
    okOut(await d.docker(['rm', '-v', 'precopy']), 'rm');
    okOut(await d.docker(['volume', 'rm', 'precopy']), 'rm volume');
    // nocopy
    assert.equal(okOut(await d.docker(['run', '--rm', '-v', 'empty-nc:/data:nocopy', 'volimg:1', 'ls', '-A', '/data']), 'nocopy'), '');
    assert.equal(okOut(await d.docker(['run', '--rm', '--mount', 'type=volume,src=empty-nc2,dst=/data,volume-nocopy', 'volimg:1', 'ls', '-A', '/data']), 'volume-nocopy'), '');

    // anonymous volume from the image VOLUME: listed while the container exists, gone with rm -v
    const before = await volumes();
    const cid = okOut(await d.docker(['run', '-d', '--name', 'anon', 'volimg:1', 'sleep', '1000']), 'run with anonymous volume');
    const anon = okOut(await d.docker(['inspect', '--format', '{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}', cid]), 'mounts');
    const m = /^volume ([0-9a-f]{64}) \/data$/.exec(anon);
    assert.ok(m, `an anonymous volume at /data: ${anon}`);
    const name = m[1]!;
    assert.deepEqual((await volumes()).filter((v) => !before.includes(v)), [name]);
    assert.equal(okOut(await d.docker(['exec', 'anon', 'cat', '/data/hello']), 'copy-up into the anonymous volume'), 'seeded');
    okOut(await d.docker(['rm', '-f', 'anon']), 'rm without -v');
    assert.ok((await volumes()).includes(name), 'rm without -v keeps the anonymous volume');
    okOut(await d.docker(['volume', 'rm', name]), 'cleanup');
    okOut(await d.docker(['run', '-d', '--name', 'anon2', '-v', '/scratch', 'volimg:1', 'sleep', '1000']), 'run with -v /path');
    const two = okOut(await d.docker(['inspect', '--format', '{{range .Mounts}}{{.Name}} {{end}}', 'anon2']), 'mounts').split(' ').filter(Boolean);
    assert.equal(two.length, 2, `two anonymous volumes (/data and /scratch): ${two.join(',')}`);
    okOut(await d.docker(['rm', '-f', '-v', 'anon2']), 'rm -v');
    for (const v of two) assert.ok(!(await volumes()).includes(v), `rm -v removed ${v}`);
    // --rm removes anonymous volumes too, but never named ones
    okOut(await d.docker(['run', '--rm', '-v', 'kept:/k', 'volimg:1', 'true']), 'run --rm');
    assert.deepEqual((await volumes()).filter((v) => !before.includes(v)), ['kept'], 'only the named volume of the --rm container is left');
  });

  it('--volumes-from shares volumes, read-only with :ro', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'vsrc', '-v', 'vfshared:/shared', '-v', '/anon', 'busybox', 'sh', '-c', 'echo s > /shared/f; echo a > /anon/f; sleep 1000']), 'source');
    await waitForFile(d, 'vsrc', '/anon/f');
    assert.equal(okOut(await d.docker(['run', '--rm', '--volumes-from', 'vsrc', 'busybox', 'sh', '-c', 'cat /shared/f /anon/f; echo w > /shared/w']), 'volumes-from'), 's\na');
    const ro = await d.docker(['run', '--rm', '--volumes-from', 'vsrc:ro', 'busybox', 'sh', '-c', 'cat /shared/w; echo x > /shared/x']);
    expectCode(ro, 1, 'write through :ro');
    assert.equal(ro.stdout, 'w\n');
    expectMatch(ro.stderr, /Read-only file system/, 'EROFS');
    // a 404, as Docker: (without --pull never the CLI would then try to pull the image, as with Docker)
    const miss = await d.docker(['run', '--rm', '--pull', 'never', '--volumes-from', 'nosuch', 'busybox', 'true']);
    expectCode(miss, 125, 'volumes-from a missing container');
    expectMatch(miss.stderr, /No such container: nosuch/, 'message');
    const api = await d.api<{ message: string }>('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { VolumesFrom: ['nosuch:ro'] } });
    assert.equal(api.status, 404, api.text);
    assert.equal(api.json.message, 'No such container: nosuch');
    okOut(await d.docker(['rm', '-f', '-v', 'vsrc']), 'rm source');
    okOut(await d.docker(['volume', 'rm', 'vfshared']), 'rm named');
  });

  it('volume events: mount at start and unmount at stop, with Docker\'s attributes', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    okOut(await d.docker(['run', '--name', 'vev', '-v', 'vevents:/data:ro', 'busybox', 'true']), 'run');
    const id = okOut(await d.docker(['inspect', '--format', '{{.Id}}', 'vev']), 'inspect');
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const lines = okOut(await d.docker(['events', '--since', String(since), '--until', until, '--filter', 'type=volume', '--filter', 'volume=vevents', '--format', '{{json .}}']), 'events')
      .split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Action: string; Actor: { ID: string; Attributes: Record<string, string> } });
    const acts = lines.map((e) => e.Action);
    assert.deepEqual(acts, ['create', 'mount', 'unmount'], JSON.stringify(lines));
    assert.deepEqual(lines[1]!.Actor.Attributes, { container: id, destination: '/data', driver: 'local', propagation: '', 'read/write': 'false' });
    assert.deepEqual(lines[2]!.Actor.Attributes, { container: id, driver: 'local' });
    // unmount comes before the container's die, as Docker's Cleanup runs first
    const all = okOut(await d.docker(['events', '--since', String(since), '--until', until, '--format', '{{.Type}} {{.Action}} {{.Actor.ID}}']), 'events').split('\n');
    const unmount = all.indexOf(`volume unmount vevents`);
    const die = all.indexOf(`container die ${id}`);
    assert.ok(unmount >= 0 && die > unmount, all.join('\n'));
    okOut(await d.docker(['rm', 'vev']), 'rm');
    okOut(await d.docker(['volume', 'rm', 'vevents']), 'volume rm');
  });

  it('bind mounts: --mount readonly gives EROFS, -v creates a missing host dir, --mount refuses one', async () => {
    const src = path.join(tmp, 'bind-src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'in'), 'from host\n');
    const ro = await d.docker(['run', '--rm', '--mount', `type=bind,source=${src},target=/b,readonly`, 'busybox', 'sh', '-c', 'cat /b/in; touch /b/new']);
    expectCode(ro, 1, 'write to a readonly bind');
    assert.equal(ro.stdout, 'from host\n');
    expectMatch(ro.stderr, /Read-only file system/, 'EROFS');
    assert.ok(!fs.existsSync(path.join(src, 'new')));
    okOut(await d.docker(['run', '--rm', '-v', `${src}:/b`, 'busybox', 'sh', '-c', 'echo back > /b/out']), 'rw bind');
    assert.equal(fs.readFileSync(path.join(src, 'out'), 'utf8'), 'back\n');
    const roV = await d.docker(['run', '--rm', '-v', `${src}:/b:ro`, 'busybox', 'touch', '/b/x']);
    expectCode(roV, 1, '-v :ro');
    const missing = path.join(tmp, 'made', 'by', 'v');
    okOut(await d.docker(['run', '--rm', '-v', `${missing}:/m`, 'busybox', 'sh', '-c', 'echo m > /m/f']), '-v of a missing dir');
    assert.equal(fs.readFileSync(path.join(missing, 'f'), 'utf8'), 'm\n', '-v created the host directory');
    const refused = path.join(tmp, 'never');
    const r = await d.docker(['run', '--rm', '--mount', `type=bind,source=${refused},target=/m`, 'busybox', 'true']);
    expectCode(r, 125, '--mount of a missing dir');
    expectMatch(r.stderr, /bind source path does not exist/, 'message');
    assert.ok(!fs.existsSync(refused));
    const dup = await d.docker(['run', '--rm', '-v', `${src}:/x`, '-v', 'dupv:/x', 'busybox', 'true']);
    expectCode(dup, 125, 'duplicate mount point');
    expectMatch(dup.stderr, /Duplicate mount point: \/x/, 'message');
    const inspect = okOut(await d.docker(['create', '--name', 'bindinfo', '--mount', `type=bind,src=${src},dst=/b,readonly,bind-propagation=rslave`, 'busybox', 'true']), 'create');
    const mounts = JSON.parse(okOut(await d.docker(['inspect', '--format', '{{json .Mounts}}', inspect]), 'inspect')) as Array<Record<string, unknown>>;
    assert.deepEqual(mounts, [{ Type: 'bind', Source: src, Destination: '/b', Mode: '', RW: false, Propagation: 'rslave' }]);
    okOut(await d.docker(['rm', 'bindinfo']), 'rm');
  });

  it('tmpfs: --tmpfs size limit gives ENOSPC, --mount type=tmpfs with size and mode', async () => {
    const r = await d.docker(['run', '--rm', '--tmpfs', '/scratch:size=1m', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/scratch/f bs=1k count=2048']);
    expectCode(r, 1, 'writing 2 MB into 1 MB');
    expectMatch(r.stderr, /No space left on device/, 'ENOSPC');
    const ok = await d.docker(['run', '--rm', '--tmpfs', '/scratch:size=1m', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/scratch/f bs=1k count=512 2>/dev/null && mount | grep " /scratch "']);
    expectCode(ok, 0, '512 KiB fits');
    expectMatch(ok.stdout, /tmpfs on \/scratch type tmpfs \(.*nosuid.*nodev.*noexec/, 'Docker\'s default tmpfs flags');
    const m = okOut(await d.docker(['run', '--rm', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1048576,tmpfs-mode=1770', 'busybox', 'sh', '-c',
      'stat -c %a /t; dd if=/dev/zero of=/t/f bs=1k count=2048 2>&1 | grep -c "No space left"']), '--mount tmpfs');
    assert.equal(m, '1770\n1');
  });

  it('device volumes: -o type=tmpfs -o device=tmpfs -o o=size=1m', async () => {
    okOut(await d.docker(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'tv']), 'create');
    const opts = JSON.parse(okOut(await d.docker(['volume', 'inspect', '--format', '{{json .Options}}', 'tv']), 'options')) as unknown;
    assert.deepEqual(opts, { device: 'tmpfs', o: 'size=1m', type: 'tmpfs' });
    const r = await d.docker(['run', '--rm', '-v', 'tv:/t', 'busybox', 'sh', '-c', 'mount | grep " /t "; dd if=/dev/zero of=/t/f bs=1k count=2048']);
    expectCode(r, 1, 'write beyond the tmpfs volume size');
    expectMatch(r.stdout, /on \/t type tmpfs/, 'a tmpfs');
    expectMatch(r.stderr, /No space left on device/, 'ENOSPC');
    const bindSrc = path.join(tmp, 'devbind');
    fs.mkdirSync(bindSrc);
    fs.writeFileSync(path.join(bindSrc, 'x'), 'bound\n');
    okOut(await d.docker(['volume', 'create', '-o', 'type=none', '-o', `device=${bindSrc}`, '-o', 'o=bind', 'bv']), 'create bind volume');
    assert.equal(okOut(await d.docker(['run', '--rm', '-v', 'bv:/b', 'busybox', 'cat', '/b/x']), 'bind volume'), 'bound');
    okOut(await d.docker(['volume', 'rm', 'tv', 'bv']), 'rm');
    assert.ok(fs.existsSync(path.join(bindSrc, 'x')), 'removing a bind volume leaves its device alone');
  });

  it('volume prune removes unused volumes (all of them at API 1.41), honours label filters, keeps used ones', async () => {
    okOut(await d.docker(['volume', 'create', '--label', 'keep=yes', 'p-keep']), 'create');
    okOut(await d.docker(['volume', 'create', 'p-drop']), 'create');
    okOut(await d.docker(['run', '-d', '--name', 'puser', '-v', 'p-used:/u', 'busybox', 'sleep', '1000']), 'user');
    const f = okOut(await d.docker(['volume', 'prune', '-f', '--filter', 'label!=keep']), 'prune with filter');
    expectMatch(f, /p-drop/, 'p-drop pruned');
    assert.ok(!f.includes('p-keep'));
    const all = await volumes();
    assert.ok(all.includes('p-keep') && all.includes('p-used') && !all.includes('p-drop'), all.join(','));
    okOut(await d.docker(['volume', 'prune', '-f']), 'prune');
    assert.deepEqual(await volumes(), ['p-used']);
    okOut(await d.docker(['rm', '-f', 'puser']), 'rm');
    okOut(await d.docker(['volume', 'prune', '-f']), 'prune');
    assert.deepEqual(await volumes(), []);
  });
});

async function waitForFile(d: Daemon, ctr: string, file: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await d.docker(['exec', ctr, 'test', '-e', file])).code === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${file} never appeared in ${ctr}`);
}
