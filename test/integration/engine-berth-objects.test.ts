// berth network/volume commands print what the docker CLI prints against the same berthd.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { okOut, skipUnlessRoot, useDaemon } from '../harness';

describe('berth network and volume commands', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  it('network create / ls / inspect / connect / disconnect / rm', async () => {
    const id = okOut(await d.berth(['network', 'create', '--subnet', '10.77.0.0/24', '--label', 'k=v', 'bnet']), 'create');
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(okOut(await d.berth(['network', 'ls', '--filter', 'name=bnet']), 'berth ls'), okOut(await d.docker(['network', 'ls', '--filter', 'name=bnet']), 'docker ls'));
    assert.equal(okOut(await d.berth(['network', 'ls', '-q', '--filter', 'label=k=v']), 'ls -q'), id.slice(0, 12));
    assert.equal(okOut(await d.berth(['network', 'inspect', '-f', '{{.Name}} {{(index .IPAM.Config 0).Subnet}}', 'bnet']), 'inspect'), 'bnet 10.77.0.0/24');
    okOut(await d.docker(['run', '-d', '--name', 'bc', 'busybox', 'sleep', '100']), 'run');
    okOut(await d.berth(['network', 'connect', '--ip', '10.77.0.9', 'bnet', 'bc']), 'connect');
    assert.match(okOut(await d.docker(['inspect', '-f', '{{(index .NetworkSettings.Networks "bnet").IPAddress}}', 'bc']), 'inspect'), /^10\.77\.0\.9$/);
    okOut(await d.berth(['network', 'disconnect', 'bnet', 'bc']), 'disconnect');
    await d.docker(['rm', '-f', 'bc']);
    assert.equal(okOut(await d.berth(['network', 'rm', 'bnet']), 'rm'), 'bnet');
    assert.equal((await d.berth(['network', 'rm', 'bnet'])).code, 1);
  });

  it('volume create / ls / inspect / rm / prune', async () => {
    assert.equal(okOut(await d.berth(['volume', 'create', '--label', 'a=b', 'bvol']), 'create'), 'bvol');
    assert.equal(okOut(await d.berth(['volume', 'ls']), 'berth ls'), okOut(await d.docker(['volume', 'ls']), 'docker ls'));
    assert.equal(okOut(await d.berth(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Labels.a}}', 'bvol']), 'inspect'), 'bvol local b');
    assert.equal(okOut(await d.berth(['volume', 'rm', 'bvol']), 'rm'), 'bvol');
    okOut(await d.berth(['volume', 'create', 'gone']), 'create');
    assert.match(okOut(await d.berth(['volume', 'prune', '-f', '-a']), 'prune'), /Deleted Volumes:\ngone\n\nTotal reclaimed space: /);
  });
});
