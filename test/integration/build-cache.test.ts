// The build cache: unchanged rebuilds reuse every step and give the same
// image; a changed COPY source reruns from that step on; metadata (not
// mtimes) counts; --no-cache; build args; persistence across a berthd
// restart; --cache-from; builder prune / system prune; system df.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { expectMatch, okOut, skipUnlessRoot, useDaemon } from '../harness';
import { buildOk, builtId, cachedSteps, context, ranSteps, writeFiles } from './build-util';

const NINE = [
  'FROM busybox', //               1
  'ENV APP=/app', //               2
  'WORKDIR /app', //               3
  'COPY a.txt .', //               4
  'RUN cat a.txt > a.out', //      5
  'ARG V=1', //                    6
  'COPY b.txt .', //               7
  'RUN echo "v=$V" > v.out && cat b.txt > b.out', // 8
  'CMD ["cat", "/app/b.out"]', //  9
].join('\n');

describe('docker build: cache', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  const dir = context({ Dockerfile: NINE, 'a.txt': 'a1\n', 'b.txt': 'b1\n' });
  let first = '';

  it('an unchanged rebuild uses the cache at every step and gives the same image ID', async () => {
    const out1 = await buildOk(d, dir, ['-t', 'cached:1']);
    first = builtId(out1);
    assert.deepEqual(cachedSteps(out1), []);
    assert.deepEqual(ranSteps(out1), [5, 8]);
    const out2 = await buildOk(d, dir, ['-t', 'cached:1']);
    assert.deepEqual(cachedSteps(out2), [2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(ranSteps(out2), []);
    assert.equal(builtId(out2), first);
    assert.equal(okOut(await d.docker(['run', '--rm', 'cached:1']), 'run'), 'b1');
  });

  it('changing the file copied at step 7 of 9 reruns only steps 7-9', async () => {
    writeFiles(dir, { 'b.txt': 'b2\n' });
    const out = await buildOk(d, dir, ['-t', 'cached:2']);
    assert.deepEqual(cachedSteps(out), [2, 3, 4, 5, 6]);
    assert.deepEqual(ranSteps(out), [8]);
    assert.notEqual(builtId(out), first);
    assert.equal(okOut(await d.docker(['run', '--rm', 'cached:2']), 'run'), 'b2');
  });

  it('the checksum covers content and metadata, not modification times', async () => {
    fs.utimesSync(path.join(dir, 'b.txt'), 1_000_000, 1_000_000);
    fs.utimesSync(path.join(dir, 'a.txt'), 2_000_000, 2_000_000);
    const touched = await buildOk(d, dir);
    assert.deepEqual(cachedSteps(touched), [2, 3, 4, 5, 6, 7, 8, 9], 'mtime changes do not invalidate');
    fs.chmodSync(path.join(dir, 'b.txt'), 0o755);
    const chmodded = await buildOk(d, dir);
    assert.deepEqual(cachedSteps(chmodded), [2, 3, 4, 5, 6], 'a mode change does');
    fs.chmodSync(path.join(dir, 'b.txt'), 0o644);
  });

  it('a build arg reruns the RUN that sees it; --no-cache reruns everything', async () => {
    const arg = await buildOk(d, dir, ['--build-arg', 'V=2']);
    assert.deepEqual(cachedSteps(arg), [2, 3, 4, 5, 6, 7]);
    assert.deepEqual(ranSteps(arg), [8]);
    const again = await buildOk(d, dir, ['--build-arg', 'V=2']);
    assert.deepEqual(cachedSteps(again), [2, 3, 4, 5, 6, 7, 8, 9]);
    const nc = await buildOk(d, dir, ['--no-cache', '-t', 'cached:nc']);
    assert.deepEqual(cachedSteps(nc), []);
    assert.deepEqual(ranSteps(nc), [5, 8]);
    // --no-cache hashes the COPY sources later (while the layer is written): the same checksums in the history.
    const hist = async (ref: string): Promise<string[]> =>
      okOut(await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', ref]), 'history').split('\n').filter((l) => l.includes('COPY'));
    const copies = await hist('cached:nc');
    assert.equal(copies.length, 2);
    assert.deepEqual(copies, await hist(builtId(again)));
  });

  it('the cache survives a berthd restart', async () => {
    const before = builtId(await buildOk(d, dir, ['-t', 'cached:r']));
    await d.restart();
    const out = await buildOk(d, dir, ['-t', 'cached:r']);
    assert.deepEqual(cachedSteps(out), [2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(builtId(out), before);
  });

  it('system df counts the build cache; builder prune removes it', async () => {
    const df = JSON.parse(okOut(await d.docker(['system', 'df', '--format', '{{json .}}']), 'df').split('\n').find((l) => l.includes('Build Cache')) ?? '{}') as { TotalCount?: string | number };
    assert.ok(Number(df.TotalCount) >= 8, JSON.stringify(df));
    const prune = okOut(await d.docker(['builder', 'prune', '-f']), 'builder prune');
    expectMatch(prune, /Deleted build cache objects:\n/, 'prune output');
    expectMatch(prune, /Total reclaimed space: /, 'prune output');
    const after = await d.api<{ BuildCache: unknown[]; BuilderSize: number }>('GET', '/v1.41/system/df');
    assert.deepEqual([after.json.BuildCache.length, after.json.BuilderSize], [0, 0]);
    const out = await buildOk(d, dir);
    assert.deepEqual(cachedSteps(out), [], 'nothing is cached after a prune');
    assert.deepEqual(ranSteps(out), [5, 8]);
  });

  it('--cache-from reuses the steps of a given image after the local cache is gone', async () => {
    const src = builtId(await buildOk(d, dir, ['-t', 'cachesrc:1']));
    okOut(await d.docker(['builder', 'prune', '-af']), 'prune');
    const out = await buildOk(d, dir, ['--cache-from', 'cachesrc:1', '-t', 'fromcache:1']);
    assert.deepEqual(cachedSteps(out), [2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(ranSteps(out), []);
    assert.equal(builtId(out), src, 'the same image comes out');
    // ...and those steps are in the local cache again.
    assert.deepEqual(cachedSteps(await buildOk(d, dir)), [2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('system prune clears the build cache too', async () => {
    await buildOk(d, dir);
    const out = okOut(await d.docker(['system', 'prune', '-f']), 'system prune');
    expectMatch(out, /Total reclaimed space/, 'system prune');
    const after = await d.api<{ BuildCache: unknown[] }>('GET', '/v1.41/system/df');
    assert.equal(after.json.BuildCache.length, 0);
  });
});
