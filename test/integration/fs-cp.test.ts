// docker cp through the archive endpoints: files and directories both ways,
// for running and stopped containers (volumes included), Docker's trailing
// "/" and "/." rules, -a and -L, the path-stat header, and the guarantee that
// symlinks in the container (even swapped while copying) never reach a host
// file.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, expectMatch, okOut, runSync, skipUnlessRoot, useDaemon, type Daemon } from '../harness';

interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

async function statHeader(d: Daemon, ctr: string, p: string): Promise<{ status: number; stat?: PathStat }> {
  const r = await d.api('HEAD', `/v1.41/containers/${ctr}/archive?path=${encodeURIComponent(p)}`);
  const h = r.headers['x-docker-container-path-stat'];
  return { status: r.status, ...(typeof h === 'string' ? { stat: JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as PathStat } : {}) };
}

/** Names in a tar (GNU tar's listing). */
function tarNames(file: string): string[] {
  const r = runSync('tar', ['-tf', file]);
  if (r.code !== 0) throw new Error(`tar -tf ${file}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).sort();
}

function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(p);
      if (st.isDirectory()) {
        out.push(`${r}/`);
        walk(p, r);
      } else out.push(`${r}:${fs.readFileSync(p, 'utf8')}`);
    }
  };
  walk(dir, '');
  return out;
}

describe('docker cp (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  let tmp = '';
  let src = '';
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fscp-'));
    src = path.join(tmp, 'src');
    fs.mkdirSync(path.join(src, 'sub', 'deeper'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
    fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'beta\n');
    fs.writeFileSync(path.join(src, 'sub', 'deeper', 'c.txt'), 'gamma\n');
    fs.chmodSync(path.join(src, 'a.txt'), 0o640);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const expected = ['a.txt:alpha\n', 'sub/', 'sub/b.txt:beta\n', 'sub/deeper/', 'sub/deeper/c.txt:gamma\n'];

  for (const state of ['running', 'stopped'] as const) {
    it(`copies a file and a directory into and out of a ${state} container`, async () => {
      const name = `cp-${state}`;
      okOut(await d.docker(['run', '-d', '--name', name, '-v', `${name}-vol:/vol`, 'busybox', 'sh', '-c', 'mkdir -p /work/existing; sleep 1000']), 'run');
      if (state === 'stopped') okOut(await d.docker(['stop', '-t', '0', name]), 'stop');
      // into: a file into a directory, a file to a new name, a directory to a new name, dir/. into an existing directory
      okOut(await d.docker(['cp', path.join(src, 'a.txt'), `${name}:/work/`]), 'cp file into dir');
      okOut(await d.docker(['cp', path.join(src, 'a.txt'), `${name}:/work/renamed.txt`]), 'cp file to new name');
      okOut(await d.docker(['cp', src, `${name}:/work/copied`]), 'cp dir to new name');
      okOut(await d.docker(['cp', `${src}/.`, `${name}:/work/existing`]), 'cp dir/. into existing dir');
      okOut(await d.docker(['cp', src, `${name}:/vol/`]), 'cp dir into a volume');
      // out
      const out = path.join(tmp, `out-${state}`);
      fs.mkdirSync(out);
      okOut(await d.docker(['cp', `${name}:/work/a.txt`, path.join(out, 'a.txt')]), 'cp file out');
      assert.equal(fs.readFileSync(path.join(out, 'a.txt'), 'utf8'), 'alpha\n');
      assert.equal(fs.statSync(path.join(out, 'a.txt')).mode & 0o777, 0o640, 'mode kept');
      assert.equal(fs.readFileSync(path.join(out, 'a.txt'), 'utf8'), 'alpha\n');
      okOut(await d.docker(['cp', `${name}:/work/copied`, path.join(out, 'copied')]), 'cp dir out');
      assert.deepEqual(tree(path.join(out, 'copied')), expected);
      okOut(await d.docker(['cp', `${name}:/work/existing/.`, path.join(out, 'existing')]), 'cp dir/. out');
      assert.deepEqual(tree(path.join(out, 'existing')), expected);
      okOut(await d.docker(['cp', `${name}:/vol/src`, path.join(out, 'fromvol')]), 'cp out of a volume');
      assert.deepEqual(tree(path.join(out, 'fromvol')), expected);
      assert.equal(fs.readFileSync(path.join(out, 'a.txt'), 'utf8'), 'alpha\n');
      const renamed = await d.docker(['cp', `${name}:/work/renamed.txt`, '-']);
      expectCode(renamed, 0, 'cp to stdout');
      // the volume got the content, not the container's root filesystem
      assert.equal(okOut(await d.docker(['run', '--rm', '-v', `${name}-vol:/v`, 'busybox', 'cat', '/v/src/sub/deeper/c.txt']), 'volume content'), 'gamma');
      if (state === 'stopped') {
        okOut(await d.docker(['start', name]), 'start');
      }
      assert.equal(okOut(await d.docker(['exec', name, 'sh', '-c', 'cat /work/a.txt /work/renamed.txt /work/copied/sub/b.txt /work/existing/sub/deeper/c.txt']), 'seen inside'), 'alpha\nalpha\nbeta\ngamma');
      okOut(await d.docker(['rm', '-f', name]), 'rm');
      okOut(await d.docker(['volume', 'rm', `${name}-vol`]), 'rm volume');
    });
  }

  it('answers HEAD with the path stat, and archives with Docker\'s names', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'statc', 'busybox', 'sh', '-c', 'mkdir -p /d/inner && echo hello > /d/f && ln -s /d/f /d/link && ln -s .. /d/inner/up && sleep 1000']), 'run');
    for (let i = 0; i < 50 && (await d.docker(['exec', 'statc', 'test', '-L', '/d/inner/up'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    const f = await statHeader(d, 'statc', '/d/f');
    assert.equal(f.status, 200);
    assert.equal(f.stat?.name, 'f');
    assert.equal(f.stat?.size, 6);
    assert.equal(f.stat?.mode, 0o644);
    expectMatch(f.stat?.mtime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'mtime');
    const dir = await statHeader(d, 'statc', '/d/');
    assert.equal(dir.stat?.mode, 2 ** 31 + 0o755, 'a directory: ModeDir | 0755');
    assert.equal(dir.stat?.name, 'd');
    const link = await statHeader(d, 'statc', '/d/link');
    assert.equal(link.stat?.mode, 2 ** 27 + 0o777, 'a symlink: ModeSymlink | 0777');
    assert.equal(link.stat?.linkTarget, '/d/f');
    const up = await statHeader(d, 'statc', '/d/inner/up');
    assert.equal(up.stat?.linkTarget, '/d');
    assert.equal((await statHeader(d, 'statc', '/nope')).status, 404);
    const miss = await d.docker(['cp', 'statc:/nope', path.join(tmp, 'nope')]);
    expectCode(miss, 1, 'cp of a missing path');
    expectMatch(miss.stderr, /Could not find the file \/nope in container statc/, 'message');
    // names in the archives
    const t1 = path.join(tmp, 'd.tar');
    fs.writeFileSync(t1, Buffer.from((await d.api('GET', '/containers/statc/archive?path=/d')).text));
    assert.deepEqual(tarNames(t1), ['d/', 'd/f', 'd/inner/', 'd/inner/up', 'd/link']);
    fs.writeFileSync(t1, Buffer.from((await d.api('GET', '/containers/statc/archive?path=/d/.')).text));
    assert.deepEqual(tarNames(t1), ['./', './f', './inner/', './inner/up', './link']);
    fs.writeFileSync(t1, Buffer.from((await d.api('GET', '/containers/statc/archive?path=/d/inner/up/')).text));
    assert.deepEqual(tarNames(t1), ['up/', 'up/f', 'up/inner/', 'up/inner/up', 'up/link'], 'a trailing slash follows the link, entries named after it');
    // extraction point errors
    const put = await d.api('PUT', '/containers/statc/archive?path=/d/f', Buffer.alloc(1024));
    assert.equal(put.status, 400);
    expectMatch(put.text, /extraction point is not a directory/, 'PUT onto a file');
    const put404 = await d.api('PUT', '/containers/statc/archive?path=/nowhere', Buffer.alloc(1024));
    assert.equal(put404.status, 404);
    okOut(await d.docker(['rm', '-f', 'statc']), 'rm');
  });

  it('-a gives the container user\'s ownership; without it the archive\'s owners are kept', async () => {
    const f = path.join(tmp, 'owned.txt');
    fs.writeFileSync(f, 'owned\n');
    fs.chownSync(f, 4321, 4322);
    okOut(await d.docker(['create', '--name', 'ownc', '--user', 'app', 'busybox', 'sleep', '1000']), 'create');
    okOut(await d.docker(['cp', f, 'ownc:/tmp/plain.txt']), 'cp');
    okOut(await d.docker(['cp', '-a', f, 'ownc:/tmp/archive.txt']), 'cp -a');
    okOut(await d.docker(['start', 'ownc']), 'start');
    assert.equal(okOut(await d.docker(['exec', 'ownc', 'stat', '-c', '%u:%g', '/tmp/plain.txt', '/tmp/archive.txt']), 'owners'), '4321:4322\n1000:1000');
    okOut(await d.docker(['rm', '-f', 'ownc']), 'rm');
  });

  it('read-only rootfs and read-only volumes refuse writes', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'roc', '--read-only', '-v', 'rovol:/ro:ro', '-v', 'rwvol:/rw', 'busybox', 'sleep', '1000']), 'run');
    const a = await d.docker(['cp', path.join(src, 'a.txt'), 'roc:/tmp/']);
    expectCode(a, 1, 'cp into a read-only rootfs');
    expectMatch(a.stderr, /container rootfs is marked read-only/, 'message');
    const b = await d.docker(['cp', path.join(src, 'a.txt'), 'roc:/ro/']);
    expectCode(b, 1, 'cp into a read-only volume');
    expectMatch(b.stderr, /mounted volume is marked read-only/, 'message');
    okOut(await d.docker(['cp', path.join(src, 'a.txt'), 'roc:/rw/']), 'cp into a writable volume of a read-only container');
    okOut(await d.docker(['rm', '-f', '-v', 'roc']), 'rm');
    okOut(await d.docker(['volume', 'rm', 'rovol', 'rwvol']), 'rm volumes');
  });

  it('a symlink to /etc/shadow gives the container\'s file (or the link itself), never the host\'s', async () => {
    const secret = `container-secret-${crypto.randomBytes(4).toString('hex')}`;
    okOut(await d.docker(['run', '-d', '--name', 'evil', 'busybox', 'sh', '-c',
      `echo ${secret} > /etc/shadow; ln -s /etc/shadow /tmp/abs; ln -s ../../../../../../../../etc/shadow /tmp/rel; ln -s /etc /tmp/etcdir; ln -s / /tmp/root; sleep 1000`]), 'run');
    for (let i = 0; i < 50 && (await d.docker(['exec', 'evil', 'test', '-L', '/tmp/root'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    const host = fs.readFileSync('/etc/shadow', 'utf8');
    const read = async (args: string[]): Promise<string> => {
      const out = path.join(tmp, `evil-${crypto.randomBytes(3).toString('hex')}`);
      okOut(await d.docker(['cp', ...args, out]), `cp ${args.join(' ')}`);
      const st = fs.lstatSync(out);
      return st.isSymbolicLink() ? `link:${fs.readlinkSync(out)}` : fs.readFileSync(out, 'utf8');
    };
    assert.equal(await read(['evil:/tmp/abs']), 'link:/etc/shadow', 'without -L the link itself');
    for (const p of ['/tmp/abs', '/tmp/rel']) {
      const got = await read(['-L', `evil:${p}`]);
      assert.equal(got, `${secret}\n`, `-L ${p}`);
      assert.notEqual(got, host);
    }
    for (const p of ['/tmp/etcdir/shadow', '/tmp/root/etc/shadow', '/tmp/root/../../etc/shadow']) {
      assert.equal(await read([`evil:${p}`]), `${secret}\n`, p);
    }
    // writing through a link to / lands in the container's root
    const probe = `berth-cp-probe-${crypto.randomBytes(4).toString('hex')}`;
    fs.writeFileSync(path.join(tmp, probe), 'probe\n');
    okOut(await d.docker(['cp', path.join(tmp, probe), 'evil:/tmp/root/']), 'cp through a link to /');
    assert.ok(!fs.existsSync(`/${probe}`), 'nothing was written on the host');
    assert.equal(okOut(await d.docker(['exec', 'evil', 'cat', `/${probe}`]), 'in the container root'), 'probe');
    okOut(await d.docker(['rm', '-f', 'evil']), 'rm');
  });

  it('a symlink swapped in a loop while copying never makes cp touch the host', async () => {
    const secret = `swap-secret-${crypto.randomBytes(4).toString('hex')}`;
    okOut(await d.docker(['run', '-d', '--name', 'swapper', 'busybox', 'sh', '-c',
      `echo ${secret} > /etc/shadow; mkdir -p /tmp/real/etc; echo ${secret} > /tmp/real/etc/shadow; while true; do rm -rf /tmp/x; ln -s / /tmp/x; rm -f /tmp/x; ln -s /tmp/real /tmp/x; rm -f /tmp/x; mkdir /tmp/x; done`]), 'run swapper');
    const probe = `berth-swap-probe-${crypto.randomBytes(4).toString('hex')}`;
    const probeDir = path.join(tmp, 'probe-dir');
    fs.mkdirSync(path.join(probeDir, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(probeDir, 'etc', probe), 'x\n');
    fs.writeFileSync(path.join(tmp, probe), 'x\n');
    const host = fs.readFileSync('/etc/shadow', 'utf8');
    let wrote = 0;
    let read = 0;
    for (let i = 0; i < 40; i++) {
      if ((await d.docker(['cp', path.join(tmp, probe), 'swapper:/tmp/x/'])).code === 0) wrote++;
      if ((await d.docker(['cp', `${probeDir}/.`, 'swapper:/tmp/x'])).code === 0) wrote++;
      const r = await d.docker(['cp', 'swapper:/tmp/x/etc/shadow', '-']);
      if (r.code === 0) {
        read++;
        assert.ok(!r.stdout.includes(host.slice(0, 40)) || host.length === 0, 'the host\'s /etc/shadow never comes out');
        assert.ok(r.stdout.includes(secret), `only the container's file comes out: ${JSON.stringify(r.stdout.slice(0, 200))}`);
      }
      assert.ok(!fs.existsSync(`/${probe}`) && !fs.existsSync(`/etc/${probe}`), `iteration ${i}: nothing written on the host`);
    }
    const ns = d.nsRun('ls', [`/${probe}`, `/etc/${probe}`]);
    assert.notEqual(ns.code, 0, 'nothing on the host in the daemon\'s mount namespace either');
    assert.ok(wrote > 0 && read > 0, `some copies went through while swapping (wrote ${wrote}, read ${read})`);
    okOut(await d.docker(['rm', '-f', 'swapper']), 'rm');
  });
});
