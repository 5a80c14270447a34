// `docker ps --filter` keys beyond name/status: volume, publish, expose,
// network (name or ID), is-task, isolation — as the docker ps reference shows them.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectCode, okOut, skipUnlessRoot, useDaemon } from '../harness';

describe('docker ps filters', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  it('filters by volume, published and exposed port, network, is-task', async () => {
    okOut(await d.docker(['volume', 'create', 'psvol']), 'volume create');
    okOut(await d.docker(['network', 'create', 'psnet']), 'network create');
    okOut(await d.docker(['create', '--name', 'withvol', '-v', 'psvol:/data', 'busybox', 'true']), 'create withvol');
    okOut(await d.docker(['create', '--name', 'pub', '--publish=80', '--network', 'psnet', 'busybox', 'true']), 'create pub');
    okOut(await d.docker(['create', '--name', 'exp', '--expose=8080', 'busybox', 'true']), 'create exp');
    const names = async (...f: string[]): Promise<string[]> =>
      okOut(await d.docker(['ps', '-a', ...f.flatMap((x) => ['--filter', x]), '--format', '{{.Names}}']), `ps ${f.join(' ')}`).split('\n').filter(Boolean).sort();

    assert.deepEqual(await names('volume=psvol'), ['withvol']);
    assert.deepEqual(await names('volume=/data'), ['withvol'], 'by mount point');
    assert.deepEqual(await names('publish=80'), ['pub']);
    assert.deepEqual(await names('publish=80/tcp'), ['pub']);
    assert.deepEqual(await names('publish=80/udp'), []);
    assert.deepEqual(await names('expose=8000-8090/tcp'), ['exp']);
    assert.deepEqual(await names('expose=80'), ['pub'], 'the docker CLI exposes what it publishes');
    assert.deepEqual(await names('network=psnet'), ['pub']);
    const netId = okOut(await d.docker(['network', 'inspect', '-f', '{{.Id}}', 'psnet']), 'net id');
    assert.deepEqual(await names(`network=${netId.slice(0, 12)}`), ['pub'], 'by network ID prefix');
    assert.deepEqual(await names('is-task=true'), []);
    assert.equal((await names('is-task=false')).length, 3);
    expectCode(await d.docker(['ps', '--filter', 'publish=abc']), 1, 'bad port filter');
    expectCode(await d.docker(['ps', '--filter', 'nosuchkey=1']), 1, 'unknown filter key');
    okOut(await d.docker(['rm', 'withvol', 'pub', 'exp']), 'rm');
  });
});
