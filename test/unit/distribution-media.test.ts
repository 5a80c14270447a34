// Manifests, platform selection, Docker's progress rendering and manifest bytes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  buildDockerManifest, marshalIndent3, MT_DOCKER_LIST, MT_DOCKER_MANIFEST, MT_OCI_INDEX, MT_OCI_MANIFEST, normalizePlatform, parseConfigSummary, parseManifest,
  platformMatches, platformString, schema1Error, selectManifest, type ImageIndex,
} from '../../src/distribution/media';
import { humanSize, plainMessage, progressMessage, progressString, statusMessage } from '../../src/distribution/progress';

const D = (c: string): string => `sha256:${c.repeat(64)}`;

test('parseManifest: Docker schema2, OCI manifest, OCI index, Docker manifest list', () => {
  const m = parseManifest(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MT_DOCKER_MANIFEST,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: D('a'), size: 10 },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: D('b'), size: 20 }],
  })));
  assert.equal(m.kind, 'manifest');
  assert.equal(m.mediaType, MT_DOCKER_MANIFEST);
  if (m.kind === 'manifest') assert.equal(m.layers[0]!.digest, D('b'));
  // OCI manifests may omit mediaType: the Content-Type or the shape decides.
  const o = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: D('a'), size: 1 }, layers: [] })), `${MT_OCI_MANIFEST}; charset=utf-8`);
  assert.equal(o.mediaType, MT_OCI_MANIFEST);
  const i = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ digest: D('c'), size: 5, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }] })));
  assert.equal(i.kind, 'index');
  assert.equal(i.mediaType, MT_OCI_INDEX);
  const l = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT_DOCKER_LIST, manifests: [] })));
  assert.equal(l.kind, 'index');
  // Docker 28's refusal, whatever names the manifest schema1 (body, Content-Type).
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1,"fsLayers":[]}')), (e: Error) => {
    assert.equal(e.message, 'Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. More information at https://docs.docker.com/go/deprecated-image-specs/');
    assert.equal((e as Error & { kind?: string }).kind, 'invalid_argument');
    return true;
  });
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[],"signatures":[]}'), 'application/vnd.docker.distribution.manifest.v1+prettyjws'), /schema 1 support has been removed/);
  assert.equal(schema1Error('docker.io/library/busybox:1').message, 'Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of docker.io/library/busybox:1 to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/');
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":2,"config":{"digest":"sha256:xyz","size":1},"layers":[]}')), /invalid digest/);
  assert.throws(() => parseManifest(Buffer.from('not json')), /not JSON/);
});

test('platform normalisation and matching follow containerd', () => {
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'x86_64' }), { os: 'linux', architecture: 'amd64', variant: '' });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' }), { os: 'linux', architecture: 'arm64', variant: '' });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm' }), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.equal(platformString({ os: 'linux', architecture: 'arm64' }), 'linux/arm64');
  assert.ok(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm', variant: 'v6' }));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm', variant: 'v7' }));
  assert.ok(!platformMatches({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }));
});

test('selectManifest: exact platform first, compatible variants next, attestations never', () => {
  const mk = (c: string, p?: { os: string; architecture: string; variant?: string }): ImageIndex['manifests'][number] => ({ mediaType: MT_OCI_MANIFEST, digest: D(c), size: 1, ...(p ? { platform: p } : {}) });
  const idx: ImageIndex = {
    kind: 'index', mediaType: MT_OCI_INDEX,
    manifests: [
      mk('0', { os: 'unknown', architecture: 'unknown' }),
      mk('1', { os: 'linux', architecture: 'amd64' }),
      mk('2', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
      mk('3', { os: 'linux', architecture: 'arm', variant: 'v6' }),
      mk('4', { os: 'linux', architecture: 'arm', variant: 'v7' }),
      mk('5'),
    ],
  };
  assert.equal(selectManifest(idx, { os: 'linux', architecture: 'amd64' })?.digest, D('1'));
  assert.equal(selectManifest(idx, { os: 'linux', architecture: 'arm64' })?.digest, D('2'));
  assert.equal(selectManifest(idx, { os: 'linux', architecture: 'arm', variant: 'v7' })?.digest, D('4'));
  assert.equal(selectManifest(idx, { os: 'linux', architecture: 'arm', variant: 'v8' })?.digest, D('4'), 'v8 accepts v7 before v6');
  assert.equal(selectManifest(idx, { os: 'linux', architecture: 'arm', variant: 'v6' })?.digest, D('3'));
  assert.equal(selectManifest(idx, { os: 'linux', architecture: 's390x' }), undefined);
});

test('parseConfigSummary reads the diff IDs and platform', () => {
  const s = parseConfigSummary(Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', variant: 'v8', rootfs: { type: 'layers', diff_ids: [D('a')] } })));
  assert.deepEqual(s, { os: 'linux', architecture: 'arm64', variant: 'v8', diffIds: [D('a')] });
  assert.throws(() => parseConfigSummary(Buffer.from('{"rootfs":{"diff_ids":["nope"]}}')), /diff_ids/);
});

test('humanSize and progress text match go-units / jsonmessage as a daemon renders them', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(116), '116B');
  assert.equal(humanSize(1984172), '1.984MB');
  assert.equal(humanSize(1000), '1kB');
  assert.equal(humanSize(52_330_000), '52.33MB');
  assert.equal(humanSize(1_500_000_000), '1.5GB');
  assert.equal(progressString(116, 116), `[${'='.repeat(50)}>]     116B/116B`);
  assert.equal(progressString(1_080_000, 52_330_000), `[=>${' '.repeat(49)}]   1.08MB/52.33MB`);
  assert.equal(progressString(26_165_000, 52_330_000), `[${'='.repeat(25)}>${' '.repeat(25)}]  26.16MB/52.33MB`);
  assert.equal(progressString(0, 0), '');
  assert.deepEqual(progressMessage('a01aee370db7', 'Downloading', 116, 116), {
    status: 'Downloading', progressDetail: { current: 116, total: 116 }, progress: progressString(116, 116), id: 'a01aee370db7',
  });
  assert.deepEqual(statusMessage('Pull complete', 'a01aee370db7'), { status: 'Pull complete', progressDetail: {}, id: 'a01aee370db7' });
  assert.deepEqual(plainMessage('Pulling from library/busybox', '1.36'), { status: 'Pulling from library/busybox', id: '1.36' });
  assert.deepEqual(plainMessage('Digest: x'), { status: 'Digest: x' });
});

test('Docker schema2 manifests are written as Docker writes them (3-space MarshalIndent)', () => {
  const m = buildDockerManifest({ digest: D('a'), size: 1469 }, [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: D('b'), size: 772806 }]);
  const want = [
    '{',
    '   "schemaVersion": 2,',
    '   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",',
    '   "config": {',
    '      "mediaType": "application/vnd.docker.container.image.v1+json",',
    '      "size": 1469,',
    `      "digest": "${D('a')}"`,
    '   },',
    '   "layers": [',
    '      {',
    '         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",',
    '         "size": 772806,',
    `         "digest": "${D('b')}"`,
    '      }',
    '   ]',
    '}',
  ].join('\n');
  assert.equal(m.toString(), want);
  assert.equal(marshalIndent3({ a: [], b: {}, c: '<&>' }), '{\n   "a": [],\n   "b": {},\n   "c": "\\u003c\\u0026\\u003e"\n}');
});
