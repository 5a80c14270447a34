// Push and pull against a real registry (Debian's docker-registry, the CNCF
// distribution registry 2.8) on loopback, through the real docker CLI: the
// same image ID and digest come back into a fresh data-root, a second push
// finds every layer there, and a multi-platform OCI index written by skopeo
// pulls the host's platform by default and another with --platform.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectMatch, okOut, skipUnlessRoot, useDaemon } from '../harness';
import {
  haveRegistry, haveSkopeo, jsonLines, makeLayerTar, skopeoCopy, startRegistry, writeOciImage, writeOciLayout, type RegistryPeer,
} from './registry-peer';

const skip = skipUnlessRoot() || (haveRegistry() ? false : 'docker-registry is not installed (apt-get install docker-registry)');

describe('push and pull with a loopback registry', { skip }, () => {
  const a = useDaemon();
  const b = useDaemon({ busybox: false }); // the fresh data-root
  let regA: RegistryPeer;
  let regB: RegistryPeer;
  let pushed: { id: string; digest: string } | undefined;

  before(async () => {
    regA = await startRegistry(a);
    // The same storage served in b's network namespace: "the registry", seen from the second daemon.
    regB = await startRegistry(b, { storage: regA.storage, port: regA.port });
  });
  after(async () => {
    await regA?.stop();
    await regB?.stop();
  });

  it('docker push prints the digest; a second push finds every layer', async () => {
    const ref = `${regA.host}/test/busybox:1`;
    okOut(await a.docker(['tag', 'busybox', ref]), 'docker tag');
    const r = okOut(await a.docker(['push', ref], { timeoutMs: 120_000 }), 'docker push');
    expectMatch(r, new RegExp(`The push refers to repository \\[${regA.host}/test/busybox\\]`), 'push output');
    expectMatch(r, /: Pushed$/m, 'push output');
    const m = /^1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/m.exec(r);
    assert.ok(m, `no digest line in:\n${r}`);
    const id = okOut(await a.docker(['image', 'inspect', '-f', '{{.Id}}', ref]), 'inspect');
    const digests = okOut(await a.docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', ref]), 'inspect RepoDigests');
    assert.ok(digests.includes(`${regA.host}/test/busybox@${m[1]}`), `RepoDigests after push: ${digests}`);
    pushed = { id, digest: m[1]! };

    const again = okOut(await a.docker(['push', ref], { timeoutMs: 120_000 }), 'docker push again');
    const layerLines = again.split('\n').filter((l) => /^[0-9a-f]{12}: /.test(l));
    assert.ok(layerLines.length > 0, again);
    for (const l of layerLines.filter((x) => !/Preparing|Waiting/.test(x))) expectMatch(l, /Layer already exists/, 'second push');
    expectMatch(again, new RegExp(`^1: digest: ${m[1]} size: ${m[2]}$`, 'm'), 'same digest on the second push');
  });

  it('pull into a fresh data-root gives the same image ID and digest', async () => {
    assert.ok(pushed, 'needs the push test');
    const ref = `${regB.host}/test/busybox:1`;
    const r = await b.docker(['pull', ref], { timeoutMs: 120_000 });
    const out = okOut(r, 'docker pull');
    expectMatch(out, /1: Pulling from test\/busybox/, 'pull output');
    expectMatch(out, /Pull complete/, 'pull output');
    expectMatch(out, new RegExp(`Digest: ${pushed.digest}`), 'pull output');
    expectMatch(out, new RegExp(`Status: Downloaded newer image for ${regB.host}/test/busybox:1`), 'pull output');
    assert.equal(okOut(await b.docker(['image', 'inspect', '-f', '{{.Id}}', ref]), 'inspect'), pushed.id);
    const digests = okOut(await b.docker(['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}']), 'images --digests');
    expectMatch(digests, new RegExp(`${regB.host}/test/busybox 1 ${pushed.digest}`), 'images --digests');
    // It runs.
    assert.equal(okOut(await b.docker(['run', '--rm', ref, 'echo', 'pulled-ok']), 'run pulled'), 'pulled-ok');
    // Pull again: up to date, nothing downloaded.
    const again = okOut(await b.docker(['pull', ref]), 'pull again');
    expectMatch(again, /Status: Image is up to date for/, 'second pull');
    assert.doesNotMatch(again, /Pull complete|Downloading/);
    // rmi, then pull once more: still the same.
    okOut(await b.docker(['rmi', ref]), 'rmi');
    okOut(await b.docker(['pull', ref]), 'pull after rmi');
    assert.equal(okOut(await b.docker(['image', 'inspect', '-f', '{{.Id}}', ref]), 'inspect'), pushed.id);
    // Saving a pulled image (its layers are the registry's gzip blobs) writes the uncompressed tars, named by diff ID.
    const saved = path.join(b.dir, 'pulled.tar');
    okOut(await b.docker(['save', '-o', saved, ref]), 'save the pulled image');
    const diffIds = JSON.parse(okOut(await b.docker(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', ref]), 'layers')) as string[];
    for (const dId of diffIds) {
      const sum = spawnSync('sh', ['-c', `tar -xOf ${saved} blobs/sha256/${dId.slice(7)} | sha256sum`], { encoding: 'utf8' }).stdout.split(' ')[0];
      assert.equal(`sha256:${sum}`, dId, 'the saved layer is the uncompressed tar');
    }
    // Pushing what was pulled keeps the digest (same manifest bytes).
    const re = okOut(await b.docker(['push', ref]), 'push the pulled image');
    expectMatch(re, new RegExp(`1: digest: ${pushed.digest} `), 'push of the pulled image');
  });

  it('the pull progress stream has Docker\'s JSON shape', async () => {
    const ref = `${regB.host}/test/busybox`;
    okOut(await b.docker(['rmi', `${ref}:1`]), 'rmi');
    const r = await b.api('POST', `/images/create?fromImage=${encodeURIComponent(ref)}&tag=1`, undefined, { headers: { 'X-Registry-Auth': 'e30=' }, timeoutMs: 120_000 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['content-type'], 'application/json');
    const msgs = jsonLines(r.text);
    assert.deepEqual(msgs[0], { status: 'Pulling from test/busybox', id: '1' });
    const layer = msgs.find((m) => m['status'] === 'Pulling fs layer');
    assert.ok(layer && typeof layer['id'] === 'string' && /^[0-9a-f]{12}$/.test(layer['id'] as string), JSON.stringify(msgs));
    assert.deepEqual(layer['progressDetail'], {});
    const dl = msgs.find((m) => m['status'] === 'Downloading');
    assert.ok(dl, 'Downloading messages');
    const pd = dl['progressDetail'] as { current: number; total: number };
    assert.ok(pd.current > 0 && pd.total >= pd.current, JSON.stringify(dl));
    expectMatch(String(dl['progress']), /^\[=*>\s*\] +[0-9.]+[kMG]?B\/[0-9.]+[kMG]?B$/, 'progress text');
    for (const s of ['Verifying Checksum', 'Download complete', 'Pull complete']) assert.ok(msgs.some((m) => m['status'] === s && m['id'] === layer['id']), s);
    assert.ok(msgs.some((m) => typeof m['status'] === 'string' && /^Digest: sha256:[0-9a-f]{64}$/.test(m['status'] as string)));
    assert.deepEqual(msgs[msgs.length - 1], { status: `Status: Downloaded newer image for ${ref}:1` });
  });

  it('pull by digest, --all-tags, two pulls at once, pull/push events', async () => {
    assert.ok(pushed, 'needs the push test');
    const since = Math.floor(Date.now() / 1000) - 1;
    okOut(await a.docker(['tag', 'busybox', `${regA.host}/test/busybox:2`]), 'tag');
    okOut(await a.docker(['push', `${regA.host}/test/busybox:2`]), 'push :2');
    const byDigest = `${regB.host}/test/busybox@${pushed.digest}`;
    const r = okOut(await b.docker(['pull', byDigest]), 'pull by digest');
    expectMatch(r, new RegExp(`Status: (Downloaded newer image|Image is up to date) for ${regB.host}/test/busybox@${pushed.digest}`), 'pull by digest');
    assert.equal(okOut(await b.docker(['image', 'inspect', '-f', '{{.Id}}', byDigest]), 'inspect by digest'), pushed.id);
    const all = okOut(await b.docker(['pull', '--all-tags', `${regB.host}/test/busybox`], { timeoutMs: 120_000 }), 'pull --all-tags');
    expectMatch(all, /1: Pulling from test\/busybox/, 'all tags');
    expectMatch(all, /2: Pulling from test\/busybox/, 'all tags');
    const tags = okOut(await b.docker(['images', '--format', '{{.Tag}}', `${regB.host}/test/busybox`]), 'images').split('\n').sort();
    assert.deepEqual(tags, ['1', '2']);
    // Two clients pulling the same image at the same moment both succeed.
    okOut(await b.docker(['rmi', `${regB.host}/test/busybox:1`, `${regB.host}/test/busybox:2`]), 'rmi'); // the digest reference goes with the last tag, as in Docker
    const [p1, p2] = await Promise.all([b.docker(['pull', `${regB.host}/test/busybox:1`]), b.docker(['pull', `${regB.host}/test/busybox:1`])]);
    okOut(p1, 'concurrent pull 1');
    okOut(p2, 'concurrent pull 2');
    assert.equal(okOut(await b.docker(['run', '--rm', `${regB.host}/test/busybox:1`, 'echo', 'ok']), 'run'), 'ok');
    const ev = okOut(await a.docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=image', '--format', '{{.Action}} {{.Actor.ID}}']), 'events');
    expectMatch(ev, new RegExp(`^push ${regA.host}/test/busybox:2$`, 'm'), 'push event');
    const evb = okOut(await b.docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=image', '--format', '{{.Action}} {{.Actor.ID}}']), 'events');
    expectMatch(evb, new RegExp(`^pull ${regB.host}/test/busybox:1$`, 'm'), 'pull event');
  });

  it('unknown tags and repositories fail with Docker\'s messages', async () => {
    const r = await b.docker(['pull', `${regB.host}/test/busybox:nope`]);
    assert.equal(r.code, 1);
    expectMatch(r.stderr, new RegExp(`Error response from daemon: manifest for ${regB.host}/test/busybox:nope not found: manifest unknown: manifest unknown`), 'unknown tag');
    const r2 = await b.docker(['pull', `${regB.host}/no/such/repo`]);
    assert.equal(r2.code, 1);
    expectMatch(r2.stderr, /Error response from daemon: (manifest for|repository) .*not found/, 'unknown repo');
  });

  it('registry-mirrors: docker.io pulls go to the mirror first', async () => {
    const id = okOut(await a.docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox']), 'inspect');
    okOut(await a.docker(['tag', 'busybox', `${regA.host}/library/busybox:latest`]), 'tag');
    okOut(await a.docker(['push', `${regA.host}/library/busybox:latest`]), 'push to the mirror');
    fs.writeFileSync(a.configFile, JSON.stringify({ 'registry-mirrors': [`http://${regA.host}`] }));
    try {
      await a.restart();
      okOut(await a.docker(['rmi', 'busybox', `${regA.host}/library/busybox:latest`, `${regA.host}/test/busybox:1`, `${regA.host}/test/busybox:2`]), 'rmi');
      const out = okOut(await a.docker(['pull', 'busybox'], { timeoutMs: 120_000 }), 'pull busybox through the mirror');
      expectMatch(out, /Status: Downloaded newer image for busybox:latest/, 'pull via mirror');
      assert.equal(okOut(await a.docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox']), 'inspect'), id);
    } finally {
      fs.writeFileSync(a.configFile, '{}\n');
    }
  });

  it('skopeo-written multi-platform index: host platform by default, arm64 with --platform', { skip: haveSkopeo() ? false : 'skopeo is not installed' }, async () => {
    const layout = path.join(a.dir, 'oci-multi');
    const amd = writeOciImage(layout, 'amd64', [makeLayerTar({ 'etc/arch': 'amd64\n' })]);
    const arm = writeOciImage(layout, 'arm64', [makeLayerTar({ 'etc/arch': 'arm64\n' })]);
    const { indexDigest } = writeOciLayout(layout, 'v1', [{ img: amd, arch: 'amd64' }, { img: arm, arch: 'arm64' }]);
    assert.ok(fs.existsSync(path.join(layout, 'index.json')));
    skopeoCopy(a, `oci:${layout}:v1`, `docker://${regA.host}/multi/app:v1`);
    const ref = `${regB.host}/multi/app:v1`;
    const host = process.arch === 'arm64' ? 'arm64' : 'amd64';
    const p1 = okOut(await b.docker(['pull', ref]), 'pull default');
    expectMatch(p1, new RegExp(`Digest: ${indexDigest}`), 'the index digest is reported');
    assert.equal(okOut(await b.docker(['image', 'inspect', '-f', '{{.Architecture}}', ref]), 'inspect'), host);
    assert.equal(okOut(await b.docker(['image', 'inspect', '-f', '{{.Id}}', ref]), 'inspect'), host === 'amd64' ? amd.configDigest : arm.configDigest);
    const other = host === 'amd64' ? 'arm64' : 'amd64';
    okOut(await b.docker(['pull', '--platform', `linux/${other}`, ref]), 'pull --platform');
    assert.equal(okOut(await b.docker(['image', 'inspect', '-f', '{{.Architecture}}', ref]), 'inspect'), other);
    const digests = okOut(await b.docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', ref]), 'RepoDigests');
    assert.ok(digests.includes(`@${indexDigest}`), digests);
    const r = await b.docker(['pull', '--platform', 'linux/s390x', ref]);
    assert.equal(r.code, 1);
    expectMatch(r.stderr, /no matching manifest for linux\/s390x in the manifest list entries/, 'unknown platform');
  });
});
