// docker cp's path rules (src/cli/cppath.ts), against cases worked out from
// moby/go-archive's copy.go.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertsDirectory, CopyRuleError, getRebaseName, goBase, goClean, goDir, prepareArchiveCopy, preserveTrailingDotOrSeparator,
  rebaseEntryName, splitCpArg, splitPathDirEntry, type CopyInfo,
} from '../../src/cli/cppath';

const info = (path: string, exists: boolean, isDir: boolean, rebaseName = ''): CopyInfo => ({ path, exists, isDir, rebaseName });

describe('cp path helpers', () => {
  it('Go path functions', () => {
    assert.equal(goClean('/a/b/../c/./'), '/a/c');
    assert.equal(goClean(''), '.');
    assert.equal(goClean('a/../..'), '..');
    assert.equal(goClean('/../x'), '/x');
    assert.equal(goBase('/a/b/'), 'b');
    assert.equal(goBase('/'), '/');
    assert.equal(goBase(''), '.');
    assert.equal(goBase('/a/.'), '.');
    assert.equal(goDir('/a/b'), '/a');
    assert.equal(goDir('b'), '.');
    assert.equal(goDir('/b'), '/');
  });

  it('trailing / and /. are kept and split as Docker does', () => {
    assert.equal(preserveTrailingDotOrSeparator('/x/d', '/x/d/.'), '/x/d/.');
    assert.equal(preserveTrailingDotOrSeparator('/x/d', 'd/'), '/x/d/');
    assert.equal(preserveTrailingDotOrSeparator('/', './'), '/./');
    assert.deepEqual(splitPathDirEntry('/x/d/.'), ['/x/d', '.']);
    assert.deepEqual(splitPathDirEntry('/x/d/'), ['/x', 'd']);
    assert.deepEqual(splitPathDirEntry('/x'), ['/', 'x']);
    assert.ok(assertsDirectory('/x/'));
    assert.ok(assertsDirectory('/x/.'));
    assert.ok(!assertsDirectory('/x'));
  });

  it('CONTAINER:PATH splitting', () => {
    assert.deepEqual(splitCpArg('c1:/etc/hosts'), ['c1', '/etc/hosts']);
    assert.deepEqual(splitCpArg('/abs/with:colon'), ['', '/abs/with:colon']);
    assert.deepEqual(splitCpArg('./rel:colon'), ['', './rel:colon']);
    assert.deepEqual(splitCpArg('plain'), ['', 'plain']);
    assert.deepEqual(splitCpArg('c:'), ['c', '']);
  });

  it('GetRebaseName', () => {
    assert.deepEqual(getRebaseName('/d/link', '/d/target'), ['/d/target', 'link']);
    assert.deepEqual(getRebaseName('/d/link/', '/t'), ['/t/', 'link']);
    assert.deepEqual(getRebaseName('/d/link/.', '/t'), ['/t/.', '']);
    assert.deepEqual(getRebaseName('/d/same', '/other/same'), ['/other/same', '']);
  });

  it('PrepareArchiveCopy decides the extraction dir and the rename', () => {
    // into an existing directory: as is
    assert.deepEqual(prepareArchiveCopy(info('/s/file', true, false), info('/d', true, true)), { dstDir: '/d' });
    // over an existing file: renamed to the destination's name
    assert.deepEqual(prepareArchiveCopy(info('/s/file', true, false), info('/d/other', true, false)), { dstDir: '/d', rebase: ['file', 'other'] });
    // a directory over a file
    assert.throws(() => prepareArchiveCopy(info('/s/dir', true, true), info('/d/f', true, false)), (e: Error) => e instanceof CopyRuleError && e.message === 'cannot copy directory');
    // a directory to a new name, and its contents (/.) to a new name
    assert.deepEqual(prepareArchiveCopy(info('/s/dir', true, true), info('/d/new', false, false)), { dstDir: '/d', rebase: ['dir', 'new'] });
    assert.deepEqual(prepareArchiveCopy(info('/s/dir/.', true, true), info('/d/new', false, false)), { dstDir: '/d', rebase: ['.', 'new'] });
    // a file to a missing directory asserted by a trailing slash
    assert.throws(() => prepareArchiveCopy(info('/s/f', true, false), info('/d/missing/', false, false)), /no such directory/);
    // a rebased source uses its rebase name
    assert.deepEqual(prepareArchiveCopy(info('/s/target', true, false, 'link'), info('/d/x', false, false)), { dstDir: '/d', rebase: ['link', 'x'] });
  });

  it('RebaseArchiveEntries replaces the first occurrence, "/" meaning the root', () => {
    assert.equal(rebaseEntryName('dir/a/dir', 'dir', 'new'), 'new/a/dir');
    assert.equal(rebaseEntryName('./x', '.', 'new'), 'new/x');
    assert.equal(rebaseEntryName('.', '.', 'new'), 'new');
    assert.equal(rebaseEntryName('etc/x', '/', 'root'), 'rootetc/x');
    assert.equal(rebaseEntryName('other', 'dir', 'new'), 'other');
  });
});
