// Cleanliness of networking (issue 4): after 100 `run --rm -p`, rm -f,
// network rm, and a berthd SIGKILL + restart, no veth, nftables/iptables
// rule, DNS record or IP lease is left; berthd restores the NAT rules and DNS
// of containers that kept running; leases survive the restart (an address
// is never handed out twice). Also the network API's errors.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon, waitFor } from '../harness';

describe('networking: cleanliness, restart, API errors', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  const links = (): string[] => d.nsRun('ip', ['-o', 'link']).stdout.split('\n').map((l) => l.split(':')[1]?.trim().replace(/@.*/, '') ?? '').filter(Boolean).sort();
  const ruleset = (): string => d.nsRun('nft', ['list', 'ruleset']).stdout;
  const iptables = (): string => d.nsRun('iptables-save', []).stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  const leases = (): string[] => {
    try { return fs.readdirSync(path.join(d.dataRoot, 'network', 'endpoints')).filter((f) => f.endsWith('.json')); } catch { return []; }
  };
  const curl = (url: string): string => d.nsRun('curl', ['-s', '-m', '3', url]).stdout;

  it('100 runs of run --rm -p, a SIGKILL and a restart leave no veth, NAT rule or lease; running containers keep their ports and names', async () => {
    // warm up: the default bridge and the table exist from here on
    okOut(await d.docker(['run', '--rm', 'busybox', 'true']), 'warm-up');
    okOut(await d.docker(['network', 'create', 'keep_net']), 'network create');
    const base = { links: links(), nft: ruleset(), ipt: iptables(), leases: leases() };
    assert.deepEqual(base.leases, []);
    for (let i = 0; i < 100; i++) {
      const r = await d.docker(['run', '--rm', '-p', `${9000 + (i % 3)}:80`, ...(i % 2 ? ['--network', 'keep_net'] : []), 'busybox', 'true']);
      expectCode(r, 0, `run ${i}`);
    }
    // a long-lived web server and a peer survive the daemon's death
    okOut(await d.docker(['run', '-d', '--name', 'survivor', '--network', 'keep_net', '-p', '8088:80', 'busybox', 'sh', '-c', 'mkdir /www && echo survived > /www/index.html && exec httpd -f -p 80 -h /www']), 'survivor');
    okOut(await d.docker(['run', '-d', '--name', 'peer', '--network', 'keep_net', 'busybox', 'sleep', '300']), 'peer');
    await waitFor('survivor to answer', () => curl('http://127.0.0.1:8088/').trim() === 'survived', { timeoutMs: 5000 });
    const survivorIp = okOut(await d.docker(['inspect', '-f', '{{(index .NetworkSettings.Networks "keep_net").IPAddress}}', 'survivor']), 'ip');
    assert.equal(leases().length, 2);

    await d.kill('SIGKILL');
    await d.start();
    assert.equal(curl('http://127.0.0.1:8088/').trim(), 'survived', 'NAT restored after the restart');
    expectMatch(okOut(await d.docker(['exec', 'peer', 'nslookup', 'survivor']), 'DNS after restart'), new RegExp(`Address: ${survivorIp.replace(/\./g, '\\.')}$`, 'm'), 'names restored');
    // the survivor's address is still taken: a new container gets another one
    const fresh = okOut(await d.docker(['run', '--rm', '--network', 'keep_net', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), 'fresh');
    assert.ok(!fresh.includes(`inet ${survivorIp}/`), `address handed out twice: ${fresh}`);
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{(index .NetworkSettings.Networks "keep_net").IPAddress}}', 'survivor']), 'inspect after restart'), survivorIp);
    assert.equal(okOut(await d.docker(['port', 'survivor']), 'port after restart'), '80/tcp -> 0.0.0.0:8088');

    okOut(await d.docker(['rm', '-f', 'survivor', 'peer']), 'rm -f');
    await waitFor('veths to go', () => JSON.stringify(links()) === JSON.stringify(base.links), { timeoutMs: 10_000 });
    assert.equal(ruleset(), base.nft, 'nft ruleset as before');
    assert.equal(iptables(), base.ipt, 'iptables-save as before');
    assert.deepEqual(leases(), [], 'no lease left');
    const inspect = JSON.parse(okOut(await d.docker(['network', 'inspect', 'keep_net', 'bridge']), 'network inspect')) as Array<{ Containers: Record<string, unknown> }>;
    assert.deepEqual(inspect.map((n) => Object.keys(n.Containers).length), [0, 0], 'no endpoint left');
  });

  it('a SIGKILLed berthd whose containers died meanwhile drops their leases and veths at start-up', async () => {
    const base = { links: links(), leases: leases() };
    const id = okOut(await d.docker(['run', '-d', '--network', 'keep_net', '-p', '8089:80', 'busybox', 'sleep', '300']), 'run');
    const pid = Number(okOut(await d.docker(['inspect', '-f', '{{.State.Pid}}', id]), 'pid'));
    await d.kill('SIGKILL');
    process.kill(pid, 'SIGKILL');
    await d.start();
    await waitFor('the container to be seen as exited', async () => okOut(await d.docker(['inspect', '-f', '{{.State.Running}}', id]), 'inspect') === 'false', { timeoutMs: 10_000 });
    await waitFor('veths to go', () => JSON.stringify(links()) === JSON.stringify(base.links), { timeoutMs: 10_000 });
    assert.deepEqual(leases(), base.leases);
    const nft = ruleset();
    assert.ok(!nft.includes('8089'), `no NAT rule for 8089:\n${nft}`);
    okOut(await d.docker(['rm', id]), 'rm');
  });

  it('network rm removes the bridge, its rules and its DNS server', async () => {
    okOut(await d.docker(['network', 'create', '-o', 'com.docker.network.bridge.name=brtest0', '--label', 'team=a', 'rm_me']), 'create');
    assert.ok(links().includes('brtest0'), 'bridge named by the option');
    assert.ok(ruleset().includes('"brtest0"'), 'rules for it');
    okOut(await d.docker(['network', 'rm', 'rm_me']), 'network rm');
    assert.ok(!links().includes('brtest0'), 'bridge gone');
    assert.ok(!ruleset().includes('brtest0'), 'rules gone');
    expectCode(await d.docker(['network', 'inspect', 'rm_me']), 1, 'network gone');
  });

  it('network API: ls filters, inspect, errors as Docker words them, prune', async () => {
    okOut(await d.docker(['network', 'create', '--label', 'team=a', '--attachable', 'lbl_a']), 'create a');
    okOut(await d.docker(['network', 'create', '--label', 'team=b', 'lbl_b']), 'create b');
    const names = async (args: string[]): Promise<string[]> => okOut(await d.docker(['network', 'ls', '--format', '{{.Name}}', ...args]), 'ls').split('\n').filter(Boolean).sort();
    assert.deepEqual(await names(['--filter', 'label=team=a']), ['lbl_a']);
    assert.deepEqual(await names(['--filter', 'label=team']), ['lbl_a', 'lbl_b']);
    assert.deepEqual(await names(['--filter', 'type=builtin']), ['bridge', 'host', 'none']);
    assert.deepEqual(await names(['--filter', 'driver=null']), ['none']);
    assert.ok((await names(['--filter', 'type=custom'])).includes('lbl_b'));
    assert.ok((await names(['--filter', 'dangling=true'])).includes('lbl_a'));
    assert.ok(!(await names(['--filter', 'dangling=true'])).includes('bridge'));
    assert.deepEqual(await names(['--filter', 'name=lbl_']), ['lbl_a', 'lbl_b']);
    const id = okOut(await d.docker(['network', 'inspect', '-f', '{{.Id}}', 'lbl_a']), 'id');
    assert.deepEqual(await names(['--filter', `id=${id.slice(0, 10)}`]), ['lbl_a']);
    const j = JSON.parse(okOut(await d.docker(['network', 'inspect', id.slice(0, 12)]), 'inspect by id prefix')) as Array<{ Name: string; Attachable: boolean; Labels: Record<string, string>; Driver: string; Scope: string }>;
    assert.equal(j[0]!.Name, 'lbl_a');
    assert.equal(j[0]!.Attachable, true);
    assert.deepEqual(j[0]!.Labels, { team: 'a' });

    const dup = await d.docker(['network', 'create', 'lbl_a']);
    expectCode(dup, 1, 'duplicate');
    expectMatch(dup.stderr, /network with name lbl_a already exists/, 'duplicate');
    const dupApi = await d.api('POST', '/v1.41/networks/create', { Name: 'lbl_a' });
    assert.equal(dupApi.status, 409);
    const overlap = await d.docker(['network', 'create', '--subnet', '172.17.5.0/24', 'overlapping']);
    expectCode(overlap, 1, 'overlap');
    expectMatch(overlap.stderr, /Pool overlaps with other one on this address space/, 'overlap');
    okOut(await d.docker(['network', 'create', '--subnet', '10.66.0.0/24', 'subnet_net']), 'create subnet_net');
    const outside = await d.docker(['run', '--rm', '--network', 'subnet_net', '--ip', '10.66.1.5', 'busybox', 'true']);
    expectCode(outside, 125, '--ip outside');
    expectMatch(outside.stderr, /no configured subnet or ip-range contain the IP address 10\.66\.1\.5/, '--ip outside');
    const onDefault = await d.docker(['run', '--rm', '--ip', '172.17.0.50', 'busybox', 'true']);
    expectCode(onDefault, 125, '--ip on the default bridge');
    expectMatch(onDefault.stderr, /user specified IP address is supported on user defined networks only/, '--ip on the default bridge');
    const unknown = await d.docker(['run', '--rm', '--network', 'no_such_net', 'busybox', 'true']);
    expectCode(unknown, 125, 'unknown network');
    expectMatch(unknown.stderr, /network no_such_net not found/, 'unknown network');
    const inspect404 = await d.api('GET', '/v1.41/networks/no_such_net');
    assert.equal(inspect404.status, 404);
    const rmBridge = await d.api<{ message: string }>('DELETE', '/v1.41/networks/bridge');
    assert.equal(rmBridge.status, 403);
    assert.equal(rmBridge.json.message, 'bridge is a pre-defined network and cannot be removed');
    okOut(await d.docker(['run', '-d', '--name', 'holder', '--network', 'lbl_b', 'busybox', 'sleep', '300']), 'holder');
    const busy = await d.api<{ message: string }>('DELETE', '/v1.41/networks/lbl_b');
    assert.equal(busy.status, 403);
    expectMatch(busy.json.message, /^error while removing network: network lbl_b id [0-9a-f]{64} has active endpoints$/, 'busy');
    const twice = await d.docker(['network', 'connect', 'lbl_b', 'holder']);
    expectCode(twice, 1, 'connect twice');
    expectMatch(twice.stderr, /endpoint with name holder already exists in network lbl_b/, 'connect twice');
    // nothing half-created by the failures above
    assert.deepEqual(await names(['--filter', 'name=overlapping']), []);

    const pruned = okOut(await d.docker(['network', 'prune', '-f', '--filter', 'label=team']), 'prune');
    expectMatch(pruned, /lbl_a/, 'prune removes the unused one');
    assert.ok(!pruned.includes('lbl_b'), 'and keeps the one in use');
    assert.deepEqual(await names(['--filter', 'label=team']), ['lbl_b']);
    okOut(await d.docker(['rm', '-f', 'holder']), 'rm holder');
    okOut(await d.docker(['network', 'rm', 'lbl_b', 'subnet_net']), 'network rm');
  });

  it('a MAC address given through the API (Config.MacAddress) is used', async () => {
    const c = await d.api<{ Id: string }>('POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['sleep', '60'], MacAddress: '02:42:0a:0b:0c:0d' });
    assert.equal(c.status, 201, c.text);
    try {
      okOut(await d.docker(['start', c.json.Id]), 'start');
      expectMatch(okOut(await d.docker(['exec', c.json.Id, 'ip', '-o', 'link', 'show', 'eth0']), 'ip link'), /link\/ether 02:42:0a:0b:0c:0d/, 'MAC');
    } finally {
      await d.docker(['rm', '-f', c.json.Id]);
    }
  });
});
