// Push modes against the real registry (Debian's docker-registry 2.8): chunked
// uploads (PATCH with Content-Range, chunk size from the environment here),
// and a cross-repository mount when the blobs are already in another
// repository of the same registry. Pulling back gives the same image.
import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectMatch, okOut, skipUnlessRoot, useDaemon } from '../harness';
import { haveRegistry, startProxy, startRegistry, type FaultyProxy, type RegistryPeer } from './registry-peer';

const skip = skipUnlessRoot() || (haveRegistry() ? false : 'docker-registry is not installed (apt-get install docker-registry)');

describe('push: chunked uploads and cross-repository mounts', { skip }, () => {
  // 64 KiB chunks: busybox's layer takes a dozen PATCH requests.
  const d = useDaemon({ env: { BERTH_REGISTRY_CHUNK_SIZE: String(64 << 10) } });
  let upstream: RegistryPeer;
  let reg: FaultyProxy; // a pass-through proxy: the registry's access log, in effect
  before(async () => {
    upstream = await startRegistry(d);
    reg = await startProxy(d, upstream, 'pass');
  });
  after(async () => {
    await reg?.stop();
    await upstream?.stop();
  });

  it('a chunked push is accepted, and the next repository mounts the blobs', async () => {
    const id = okOut(await d.docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox']), 'inspect');
    const a = `${reg.host}/chunked/a:1`;
    okOut(await d.docker(['tag', 'busybox', a]), 'tag');
    const out = okOut(await d.docker(['push', a], { timeoutMs: 120_000 }), 'chunked push');
    expectMatch(out, /: Pushed$/m, 'push');
    const m = /digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(out);
    assert.ok(m, out);
    const patches = reg.requests().filter((l) => l.startsWith('PATCH /v2/chunked/a/blobs/uploads/'));
    assert.ok(patches.length >= 4, `the layer went up in chunks: ${patches.length} PATCH requests`);

    const b = `${reg.host}/mounted/b:1`;
    okOut(await d.docker(['tag', 'busybox', b]), 'tag');
    const out2 = okOut(await d.docker(['push', b], { timeoutMs: 120_000 }), 'push to another repository');
    expectMatch(out2, /: Mounted from chunked\/a$/m, 'cross-repository mount');
    assert.ok(out2.includes(`digest: ${m[1]}`), `same manifest digest: ${out2}`);

    okOut(await d.docker(['rmi', a, b, 'busybox']), 'rmi');
    okOut(await d.docker(['pull', b], { timeoutMs: 120_000 }), 'pull back');
    assert.equal(okOut(await d.docker(['image', 'inspect', '-f', '{{.Id}}', b]), 'inspect'), id);
  });
});
