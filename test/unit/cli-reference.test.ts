// The CLI's reference parsing (src/cli/reference.ts over src/common/reference.ts)
// words its errors and splits hosts as the docker CLI 28 does.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { familiarString, fullName, parseNormalizedNamed, referenceString, tagNameOnly, truncateId } from '../../src/cli/reference';

describe('cli reference adapter', () => {
  it('names the repository in the lower-case error, as docker 28 prints it', () => {
    const cases: Array<[string, string]> = [
      ['Foo', 'library/Foo'],
      ['FOO:tag', 'library/FOO'],
      ['docker.io/Foo', 'library/Foo'],
      ['index.docker.io/Foo:1', 'library/Foo'],
      ['localhost:5000/Foo:tag', 'Foo'],
      ['reg.example/ns/App', 'ns/App'],
      ['user/App', 'user/App'],
    ];
    for (const [input, remote] of cases) {
      assert.throws(() => parseNormalizedNamed(input), { message: `invalid reference format: repository name (${remote}) must be lowercase` }, input);
    }
  });

  it('an upper-case first component is a registry host', () => {
    assert.deepEqual(parseNormalizedNamed('Foo/bar:1'), { domain: 'Foo', path: 'bar', tag: '1' });
    assert.equal(familiarString(parseNormalizedNamed('Foo/bar')), 'Foo/bar');
  });

  it('delegates everything else to the shared parser', () => {
    const r = tagNameOnly(parseNormalizedNamed('busybox'));
    assert.equal(referenceString(r), 'docker.io/library/busybox:latest');
    assert.equal(fullName(parseNormalizedNamed('localhost:5000/a/b')), 'localhost:5000/a/b');
    assert.throws(() => parseNormalizedNamed('a'.repeat(64)), /cannot specify 64-byte hexadecimal strings/);
    assert.throws(() => parseNormalizedNamed('a b'), /invalid reference format/);
    assert.throws(() => parseNormalizedNamed('x:bad tag'), /invalid reference format/);
    assert.equal(truncateId('sha256:' + 'ab'.repeat(32)), 'abababababab');
  });
});
