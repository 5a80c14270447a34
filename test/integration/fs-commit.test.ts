// diff, commit and export/import through the real docker CLI: the changes a
// container made (added, changed, deleted) are what diff reports, what the
// committed image carries (whiteouts for deletions) and what history shows;
// an exported container imports back with the same files and modes.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, expectMatch, okOut, runSync, skipUnlessRoot, useDaemon } from '../harness';

const CHANGES = [
  'mkdir -p /added/dir',
  'echo new > /added/dir/file',
  'echo more >> /etc/passwd',
  'chmod 0600 /etc/group',
  'rm /etc/shadow',
  'rm -rf /home/app',
  'ln -s /added/dir/file /added/link',
].join(' && ');

describe('diff, commit, export and import (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  let tmp = '';
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fscommit-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('diff lists added, changed and deleted paths from the writable layer', async () => {
    okOut(await d.docker(['run', '--name', 'changer', 'busybox', 'sh', '-c', CHANGES]), 'make changes');
    const diff = okOut(await d.docker(['diff', 'changer']), 'diff').split('\n');
    assert.deepEqual(diff, [
      'A /added', 'A /added/dir', 'A /added/dir/file', 'A /added/link',
      'C /etc', 'C /etc/group', 'C /etc/passwd', 'D /etc/shadow',
      'C /home', 'D /home/app',
    ]);
    // a running container too, and nothing for the runtime's own mount points
    okOut(await d.docker(['run', '-d', '--name', 'quiet', 'busybox', 'sleep', '1000']), 'run');
    assert.equal(okOut(await d.docker(['diff', 'quiet']), 'diff of an untouched running container'), '');
    okOut(await d.docker(['exec', 'quiet', 'sh', '-c', 'echo x > /tmp/x']), 'exec');
    assert.equal(okOut(await d.docker(['diff', 'quiet']), 'diff after exec'), 'C /tmp\nA /tmp/x');
    const api = await d.api<Array<{ Path: string; Kind: number }>>('GET', '/containers/quiet/changes');
    assert.deepEqual(api.json, [{ Path: '/tmp', Kind: 0 }, { Path: '/tmp/x', Kind: 1 }]);
    okOut(await d.docker(['rm', '-f', 'quiet']), 'rm');
  });

  it('commit: a container from the new image sees exactly those changes; history shows the layer; -c, -m, -a apply', async () => {
    const id = okOut(await d.docker(['commit', '-m', 'the message', '-a', 'Ann Author <ann@example.com>', '-c', 'ENV COMMITTED=yes', '-c', 'CMD ["cat", "/added/dir/file"]', '-c', 'LABEL stage=two', 'changer', 'committed:v1']), 'commit');
    expectMatch(id, /^sha256:[0-9a-f]{64}$/, 'commit prints the image ID');
    assert.equal(okOut(await d.docker(['run', '--rm', 'committed:v1']), 'CMD from -c'), 'new');
    const check = okOut(await d.docker(['run', '--rm', 'committed:v1', 'sh', '-c',
      'cat /added/dir/file; readlink /added/link; tail -n1 /etc/passwd; stat -c %a /etc/group; test -e /etc/shadow && echo shadow-present || echo shadow-gone; ls -A /home; echo "env=$COMMITTED"']), 'run the new image');
    assert.equal(check, 'new\n/added/dir/file\nmore\n600\nshadow-gone\nenv=yes');
    const before = okOut(await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'test -e /etc/shadow && echo present; ls -A /home']), 'base image unchanged');
    assert.equal(before, 'present\napp');
    const info = JSON.parse(okOut(await d.docker(['image', 'inspect', 'committed:v1']), 'inspect'))[0] as Record<string, unknown>;
    assert.equal(info['Comment'], 'the message');
    assert.equal(info['Author'], 'Ann Author <ann@example.com>');
    const cfg = info['Config'] as Record<string, unknown>;
    assert.deepEqual(cfg['Labels'], { stage: 'two' });
    assert.ok((cfg['Env'] as string[]).includes('COMMITTED=yes'));
    assert.equal((info['RootFS'] as { Layers: string[] }).Layers.length, 2, 'one new layer on top of busybox\'s');
    const hist = okOut(await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}|{{.Size}}', 'committed:v1']), 'history').split('\n');
    assert.equal(hist.length, 2);
    expectMatch(hist[0]!, /^sh -c mkdir -p \/added\/dir.*\|the message\|\d+(\.\d+)?[kM]?B$/, 'the new layer on top of history');
    // the layer carries whiteouts for the deletions (overlay whiteouts in the layer's snapshot)
    const upper = okOut(await d.docker(['image', 'inspect', '--format', '{{.GraphDriver.Data.UpperDir}}', 'committed:v1']), 'layer dir');
    for (const p of ['etc/shadow', 'home/app']) {
      const st = fs.lstatSync(path.join(upper, p));
      assert.ok(st.isCharacterDevice() && st.rdev === 0, `${p} is a whiteout in the new layer`);
    }
    assert.ok(!fs.existsSync(path.join(upper, 'etc', 'hosts')), 'runtime mount points are not committed');
    const save = path.join(tmp, 'committed.tar');
    const saved = await d.docker(['save', '-o', save, 'committed:v1']);
    if (saved.code === 0) {
      const outer = runSync('tar', ['-tf', save]).stdout.split('\n');
      const layerTar = outer.filter((n) => n.endsWith('.tar') || /blobs\/sha256\/[0-9a-f]{64}$/.test(n));
      const names: string[] = [];
      const dir = path.join(tmp, 'saved');
      fs.mkdirSync(dir);
      runSync('tar', ['-xf', save, '-C', dir]);
      for (const l of layerTar) {
        const r = runSync('tar', ['-tf', path.join(dir, l)]);
        if (r.code === 0) names.push(...r.stdout.split('\n'));
      }
      assert.ok(names.includes('etc/.wh.shadow'), `a whiteout for /etc/shadow in: ${names.filter((n) => n.includes('.wh.')).join(',')}`);
      assert.ok(names.includes('home/.wh.app'), 'a whiteout for /home/app');
    }
  });

  it('commit --pause of a running container, with an event; commit of a container without changes adds an empty layer entry', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'live', 'busybox', 'sh', '-c', 'echo live > /live; sleep 1000']), 'run');
    for (let i = 0; i < 50 && (await d.docker(['exec', 'live', 'test', '-e', '/live'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    const since = Math.floor(Date.now() / 1000) - 1;
    okOut(await d.docker(['commit', 'live', 'live:1']), 'commit running (pauses)');
    assert.equal(okOut(await d.docker(['inspect', '--format', '{{.State.Status}}', 'live']), 'still running'), 'running');
    const ev = okOut(await d.docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'container=live', '--format', '{{.Action}}']), 'events').split('\n');
    assert.deepEqual(ev.filter((a) => ['pause', 'unpause', 'commit'].includes(a)), ['pause', 'commit', 'unpause']);
    assert.equal(okOut(await d.docker(['run', '--rm', 'live:1', 'cat', '/live']), 'run committed'), 'live');
    okOut(await d.docker(['commit', '--pause=false', 'live', 'live:2']), 'commit --pause=false');
    okOut(await d.docker(['rm', '-f', 'live']), 'rm');
    okOut(await d.docker(['create', '--name', 'untouched', 'busybox', 'true']), 'create');
    okOut(await d.docker(['commit', 'untouched', 'untouched:1']), 'commit without changes');
    const layers = okOut(await d.docker(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', 'untouched:1']), 'layers');
    assert.equal(layers, '1', 'no layer for no changes');
    const bad = await d.docker(['commit', '-c', 'RUN echo no', 'untouched', 'nope:1']);
    expectCode(bad, 1, 'invalid change');
    expectMatch(bad.stderr, /run is not a valid change command/i, 'message');
    okOut(await d.docker(['rm', 'untouched']), 'rm');
  });

  it('export then import: the same file list and modes, and the image runs', async () => {
    const exp = path.join(tmp, 'export.tar');
    okOut(await d.docker(['export', '-o', exp, 'changer']), 'export');
    const list = (file: string): string[] => {
      const r = runSync('tar', ['-tvf', file, '--numeric-owner']);
      if (r.code !== 0) throw new Error(r.stderr);
      // mode, owner, name (and link target); not sizes of directories or times
      return r.stdout.split('\n').filter(Boolean).map((l) => {
        const f = l.split(/\s+/);
        return `${f[0]} ${f[1]} ${f.slice(5).join(' ')}`;
      }).sort();
    };
    const names = list(exp);
    assert.ok(names.some((n) => n.endsWith(' added/dir/file')), 'the added file is exported');
    assert.ok(!names.some((n) => n.endsWith(' etc/shadow')), 'the deleted file is not');
    assert.ok(names.some((n) => /^-rw------- 0\/0 etc\/group$/.test(n)), 'modes are kept');
    okOut(await d.docker(['import', exp, 'reimported:1']), 'import');
    assert.equal(okOut(await d.docker(['run', '--rm', 'reimported:1', 'cat', '/added/dir/file']), 'run the import'), 'new');
    const again = path.join(tmp, 'export2.tar');
    okOut(await d.docker(['create', '--name', 'reimp', 'reimported:1', 'true']), 'create from the import');
    okOut(await d.docker(['export', '-o', again, 'reimp']), 'export again');
    assert.deepEqual(list(again), names, 'export → import → export gives the same file list and modes');
    okOut(await d.docker(['rm', 'reimp', 'changer']), 'rm');
  });
});
