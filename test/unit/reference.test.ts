import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  familiarMatch, familiarName, familiarString, normalizeReference, parseAnyReference, parseNormalizedNamed, pathMatch, refString, tagNameOnly, withTag,
} from '../../src/common/reference';

test('normalisation like Docker', () => {
  const cases: Array<[string, string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/library/busybox:x', 'docker.io/library/busybox:x', 'busybox:x'],
    ['index.docker.io/user/app', 'docker.io/user/app:latest', 'user/app:latest'],
    ['user/app:v1', 'docker.io/user/app:v1', 'user/app:v1'],
    ['127.0.0.1:5000/x:1', '127.0.0.1:5000/x:1', '127.0.0.1:5000/x:1'],
    ['localhost/x', 'localhost/x:latest', 'localhost/x:latest'],
    ['localhost:5000/a/b/c', 'localhost:5000/a/b/c:latest', 'localhost:5000/a/b/c:latest'],
    ['example.com/Org/x'.toLowerCase(), 'example.com/org/x:latest', 'example.com/org/x:latest'],
    ['a__b.c-d---e', 'docker.io/library/a__b.c-d---e:latest', 'a__b.c-d---e:latest'],
  ];
  for (const [input, full, fam] of cases) {
    assert.equal(normalizeReference(input), full, input);
    assert.equal(familiarString(tagNameOnly(parseNormalizedNamed(input))), fam, input);
  }
  const d = `sha256:${'a'.repeat(64)}`;
  const r = parseNormalizedNamed(`busybox@${d}`);
  assert.equal(r.digest, d);
  assert.equal(r.tag, undefined);
  assert.equal(refString(tagNameOnly(r)), `docker.io/library/busybox@${d}`);
  assert.equal(familiarString(r), `busybox@${d}`);
  assert.equal(familiarName(parseNormalizedNamed('docker.io/library/a/b')), 'library/a/b');
});

test('invalid references use Docker wording', () => {
  const bad: Array<[string, RegExp]> = [
    ['Busybox', /^invalid reference format: repository name must be lowercase$/],
    ['user/App:1', /^invalid reference format: repository name must be lowercase$/],
    ['busybox:', /^invalid reference format$/],
    ['bus box', /^invalid reference format$/],
    ['-x', /^invalid reference format$/],
    ['x:@', /^invalid reference format$/],
    ['', /^invalid reference format$/],
    ['a'.repeat(64), /cannot specify 64-byte hexadecimal strings/],
    [`x@sha256:${'a'.repeat(10)}`, /invalid reference format/],
    [`${'a'.repeat(250)}/${'b'.repeat(10)}`, /must not be more than 255 characters/],
  ];
  for (const [s, re] of bad) assert.throws(() => parseNormalizedNamed(s), (e: Error) => re.test(e.message), s);
  assert.throws(() => withTag(parseNormalizedNamed('x'), 'bad tag'), /invalid tag format/);
  assert.throws(() => parseNormalizedNamed('UPPER:tag'), (e: Error & { kind?: string }) => e.kind === 'invalid_argument');
});

test('parseAnyReference recognises IDs', () => {
  const hex = 'b'.repeat(64);
  assert.deepEqual(parseAnyReference(hex), { kind: 'id', digest: `sha256:${hex}` });
  assert.deepEqual(parseAnyReference(`sha256:${hex}`), { kind: 'id', digest: `sha256:${hex}` });
  const short = parseAnyReference('3853d78f71f5');
  assert.equal(short.kind, 'named');
  const prefixed = parseAnyReference('sha256:abc');
  assert.equal(prefixed.kind, 'named'); // then resolved by ID prefix, like Docker
});

test('Go path.Match globbing and the reference filter', () => {
  assert.ok(pathMatch('busy*', 'busybox:latest'));
  assert.ok(!pathMatch('*', 'a/b'));
  assert.ok(pathMatch('a/*', 'a/b'));
  assert.ok(pathMatch('b?sybox', 'busybox'));
  assert.ok(pathMatch('[a-c]x', 'bx'));
  assert.ok(!pathMatch('[^a-c]x', 'bx'));
  assert.ok(pathMatch('a\\*', 'a*'));
  assert.throws(() => pathMatch('[', 'x'));
  const r = parseNormalizedNamed('127.0.0.1:5000/x:1');
  assert.ok(familiarMatch('127.0.0.1:5000/x', r));
  assert.ok(familiarMatch('*/x:1', r)); // '*' spans the host:port (no slash in it)
  assert.ok(!familiarMatch('x*', r));
  assert.ok(familiarMatch('busybox', parseNormalizedNamed('busybox:latest')));
  assert.ok(familiarMatch('busybox:lat*', parseNormalizedNamed('busybox:latest')));
  assert.ok(!familiarMatch('busy', parseNormalizedNamed('busybox:latest')));
});
