// Networking (issue 4): the default bridge and user-defined networks through
// the real docker CLI — addresses, routes, /etc files, embedded DNS (names,
// aliases with rotation, IDs, hostnames, PTR, scoping), isolation between
// networks, network connect/disconnect on running containers, host and
// container:<x> modes. Everything runs inside the harness's namespaces.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon, waitFor } from '../harness';

describe('networking: bridges, DNS, modes (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  const ipOf = async (name: string, net: string): Promise<string> =>
    okOut(await d.docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, name]), `ip of ${name}`);

  it('the default bridge: eth0 in 172.17.0.0/16, MAC derived from the IP, default route, /etc/hosts, inspect', async () => {
    const out = okOut(await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; ip -o link show eth0; ip route; cat /etc/hosts; hostname']), 'run');
    const m = /inet (172\.17\.(\d+)\.(\d+))\/16/.exec(out);
    assert.ok(m, out);
    const mac = `02:42:ac:11:${Number(m[2]).toString(16).padStart(2, '0')}:${Number(m[3]).toString(16).padStart(2, '0')}`;
    assert.ok(out.includes(`link/ether ${mac}`), `MAC ${mac} expected in:\n${out}`);
    expectMatch(out, /^default via 172\.17\.0\.1 dev eth0/m, 'default route');
    const host = out.trim().split('\n').at(-1)!;
    expectMatch(out, new RegExp(`^${m[1]!.replace(/\./g, '\\.')}\\t${host}$`, 'm'), '/etc/hosts has the address and hostname');

    const id = okOut(await d.docker(['run', '-d', 'busybox', 'sleep', '60']), 'run -d');
    try {
      const ip = okOut(await d.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.MacAddress}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}}{{end}}', id]), 'inspect');
      expectMatch(ip, /^172\.17\.\d+\.\d+ 172\.17\.0\.1 02:42:ac:11:[0-9a-f:]+ bridge=172\.17\.\d+\.\d+$/, 'inspect NetworkSettings');
      const bridge = JSON.parse(okOut(await d.docker(['network', 'inspect', 'bridge']), 'network inspect bridge')) as Array<{ Containers: Record<string, { IPv4Address: string }>; IPAM: { Config: Array<{ Subnet: string; Gateway: string }> } }>;
      assert.equal(bridge[0]!.IPAM.Config[0]!.Subnet, '172.17.0.0/16');
      assert.match(bridge[0]!.Containers[id]?.IPv4Address ?? '', /^172\.17\.\d+\.\d+\/16$/);
      expectMatch(okOut(await d.docker(['ps', '--filter', 'network=bridge', '-q']), 'ps --filter network'), new RegExp(id.slice(0, 12)), 'ps network filter');
    } finally {
      await d.docker(['rm', '-f', id]);
    }
  });

  it('--hostname, --add-host (host-gateway too), --dns, --dns-search, --dns-option reach the container', async () => {
    const out = okOut(await d.docker(['run', '--rm', '--hostname', 'myhost', '--add-host', 'foo:1.2.3.4', '--add-host', 'gw:host-gateway',
      '--dns', '9.9.9.9', '--dns-search', 'example.com', '--dns-option', 'timeout:1', 'busybox', 'sh', '-c', 'hostname; cat /etc/hosts /etc/resolv.conf']), 'run');
    expectMatch(out, /^myhost$/m, 'hostname');
    expectMatch(out, /^1\.2\.3\.4\tfoo$/m, 'add-host');
    expectMatch(out, /^172\.17\.0\.1\tgw$/m, 'host-gateway is the default bridge gateway');
    expectMatch(out, /^172\.17\.\d+\.\d+\tmyhost$/m, 'own address');
    expectMatch(out, /^nameserver 9\.9\.9\.9$/m, '--dns');
    expectMatch(out, /^search example\.com$/m, '--dns-search');
    expectMatch(out, /^options timeout:1$/m, '--dns-option');
  });

  it('two containers on my_app_net ping each other by name; a shared --network-alias returns both, rotated', async () => {
    okOut(await d.docker(['network', 'create', 'my_app_net']), 'network create');
    okOut(await d.docker(['run', '-d', '--name', 'app1', '--network', 'my_app_net', '--network-alias', 'search', 'busybox', 'sleep', '300']), 'app1');
    okOut(await d.docker(['run', '-d', '--name', 'app2', '--network', 'my_app_net', '--network-alias', 'search', '--hostname', 'app2host', 'busybox', 'sleep', '300']), 'app2');
    expectCode(await d.docker(['exec', 'app1', 'ping', '-c1', '-W2', 'app2']), 0, 'app1 → app2');
    expectCode(await d.docker(['exec', 'app2', 'ping', '-c1', '-W2', 'app1']), 0, 'app2 → app1');
    const ip1 = await ipOf('app1', 'my_app_net');
    const ip2 = await ipOf('app2', 'my_app_net');
    assert.match(ip1, /^172\.18\.0\.\d+$/, 'first automatic subnet is 172.18.0.0/16');
    const r = okOut(await d.docker(['run', '--rm', '--network', 'my_app_net', 'busybox', 'sh', '-c', 'cat /etc/resolv.conf; nslookup -type=a search; nslookup -type=a search']), 'third container');
    expectMatch(r, /^nameserver 127\.0\.0\.11$/m, 'resolv.conf points at the embedded server');
    expectMatch(r, /^options ndots:0$/m, 'ndots:0');
    const addrs = [...r.matchAll(/^Address: (\d+\.\d+\.\d+\.\d+)$/gm)].map((x) => x[1]);
    assert.deepEqual(new Set(addrs), new Set([ip1, ip2]), r);
    assert.equal(addrs.length, 4, r);
    assert.notEqual(addrs[0], addrs[2], `the order turns between queries:\n${r}`);
    // short container ID, hostname, name.network, PTR
    const id2 = okOut(await d.docker(['inspect', '-f', '{{.Id}}', 'app2']), 'id');
    for (const n of [id2.slice(0, 12), 'app2host', 'app2.my_app_net']) {
      expectMatch(okOut(await d.docker(['exec', 'app1', 'nslookup', '-type=a', n]), `nslookup ${n}`), new RegExp(`Address: ${ip2.replace(/\./g, '\\.')}$`, 'm'), n);
    }
    expectMatch(okOut(await d.docker(['exec', 'app1', 'nslookup', ip2]), 'PTR'), /app2\.my_app_net/, 'reverse lookup');
    // inspect: aliases include the short ID; the network lists both
    const aliases = okOut(await d.docker(['inspect', '-f', '{{json (index .NetworkSettings.Networks "my_app_net").Aliases}}', 'app1']), 'aliases');
    const id1 = okOut(await d.docker(['inspect', '-f', '{{.Id}}', 'app1']), 'id');
    assert.deepEqual(JSON.parse(aliases), ['search', id1.slice(0, 12)]);
    const netj = JSON.parse(okOut(await d.docker(['network', 'inspect', 'my_app_net']), 'network inspect')) as Array<{ Containers: Record<string, { Name: string; IPv4Address: string; MacAddress: string }> }>;
    const c = netj[0]!.Containers;
    assert.equal(c[id1]?.Name, 'app1');
    assert.equal(c[id1]?.IPv4Address, `${ip1}/16`);
    assert.match(c[id1]?.MacAddress ?? '', /^02:42:ac:12:/);
  });

  it('the default bridge resolves no container names; another user network neither resolves nor reaches my_app_net', async () => {
    const ip1 = await ipOf('app1', 'my_app_net');
    const onBridge = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'timeout 3 nslookup app1; echo rc=$?; grep -c 127.0.0.11 /etc/resolv.conf; true']);
    expectCode(onBridge, 0, 'bridge');
    assert.doesNotMatch(onBridge.stdout, new RegExp(`Address: ${ip1.replace(/\./g, '\\.')}`), onBridge.stdout);
    expectMatch(onBridge.stdout, /^0$/m, 'the default bridge does not use the embedded server');

    okOut(await d.docker(['network', 'create', 'other_net']), 'network create other_net');
    const other = await d.docker(['run', '--rm', '--network', 'other_net', 'busybox', 'sh', '-c', `nslookup app1; echo "rc=$?"; ping -c1 -W1 ${ip1}; echo "ping=$?"`]);
    expectCode(other, 0, 'other_net');
    expectMatch(other.stdout, /rc=1/, 'app1 is not resolvable from other_net');
    expectMatch(other.stdout, /ping=1/, 'app1 is not reachable from other_net');
  });

  it('network connect adds an interface and that network\'s names; disconnect removes both', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'other1', '--network', 'other_net', 'busybox', 'sleep', '300']), 'other1');
    expectCode(await d.docker(['exec', 'app1', 'nslookup', 'other1']), 1, 'not yet connected');
    okOut(await d.docker(['network', 'connect', '--alias', 'joiner', 'other_net', 'app1']), 'connect');
    const links = okOut(await d.docker(['exec', 'app1', 'ip', '-o', '-4', 'addr']), 'ip addr');
    expectMatch(links, /eth1\s+inet 172\.\d+\.0\.\d+/, 'eth1 appeared');
    expectMatch(okOut(await d.docker(['exec', 'app1', 'nslookup', 'other1']), 'resolve other1'), /Address: 172\./, 'other_net names');
    expectMatch(okOut(await d.docker(['exec', 'other1', 'nslookup', 'joiner']), 'resolve joiner'), /Address: 172\./, 'alias given at connect');
    expectCode(await d.docker(['exec', 'other1', 'ping', '-c1', '-W2', 'app1']), 0, 'other1 reaches app1 now');
    const nets = okOut(await d.docker(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', 'app1']), 'inspect');
    assert.deepEqual(nets.split(' ').filter(Boolean).sort(), ['my_app_net', 'other_net']);
    okOut(await d.docker(['network', 'disconnect', 'other_net', 'app1']), 'disconnect');
    assert.doesNotMatch(okOut(await d.docker(['exec', 'app1', 'ip', '-o', 'link']), 'ip link'), /eth1/, 'eth1 removed');
    expectCode(await d.docker(['exec', 'app1', 'nslookup', 'other1']), 1, 'other_net names gone');
    expectCode(await d.docker(['exec', 'other1', 'nslookup', 'joiner']), 1, 'alias gone');
    expectCode(await d.docker(['exec', 'app1', 'ping', '-c1', '-W2', 'app2']), 0, 'my_app_net still works');
    // connecting a stopped container takes effect at its next start
    okOut(await d.docker(['create', '--name', 'later', '--network', 'my_app_net', 'busybox', 'sleep', '300']), 'create later');
    okOut(await d.docker(['network', 'connect', 'other_net', 'later']), 'connect stopped');
    okOut(await d.docker(['start', 'later']), 'start later');
    expectMatch(okOut(await d.docker(['exec', 'later', 'ip', '-o', '-4', 'addr']), 'later addrs'), /eth1/, 'both networks at start');
    expectCode(await d.docker(['exec', 'later', 'ping', '-c1', '-W2', 'other1']), 0, 'later reaches other1');
    // leaving the network that carried its DNS and default route: the other one takes over both
    okOut(await d.docker(['network', 'disconnect', 'my_app_net', 'later']), 'disconnect the first network');
    expectCode(await d.docker(['exec', 'later', 'nslookup', 'other1']), 0, 'names through the remaining network');
    expectCode(await d.docker(['exec', 'later', 'nslookup', 'app1']), 1, 'my_app_net names gone');
    const gw = okOut(await d.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'other_net']), 'gateway');
    expectMatch(okOut(await d.docker(['exec', 'later', 'ip', 'route']), 'routes'), new RegExp(`^default via ${gw.replace(/\./g, '\\.')} dev eth1`, 'm'), 'default route moved');
    okOut(await d.docker(['network', 'disconnect', 'other_net', 'later']), 'disconnect the last network');
    expectCode(await d.docker(['exec', 'later', 'nslookup', 'other1']), 1, 'no names at all');
    assert.deepEqual(okOut(await d.docker(['exec', 'later', 'ip', '-o', 'link']), 'links').split('\n').map((l) => l.split(':')[1]?.trim()), ['lo']);
    okOut(await d.docker(['rm', '-f', 'later']), 'rm later');
  });

  it('--ip on a network with a user subnet; --ip-range; --internal has no way out', async () => {
    okOut(await d.docker(['network', 'create', '--subnet', '10.77.0.0/24', '--ip-range', '10.77.0.128/25', '--gateway', '10.77.0.254', 'fixed_net']), 'create');
    const out = okOut(await d.docker(['run', '--rm', '--network', 'fixed_net', '--ip', '10.77.0.9', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; ip route']), 'run --ip');
    expectMatch(out, /inet 10\.77\.0\.9\/24/, '--ip');
    expectMatch(out, /default via 10\.77\.0\.254/, '--gateway');
    const auto = okOut(await d.docker(['run', '--rm', '--network', 'fixed_net', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), 'run');
    expectMatch(auto, /inet 10\.77\.0\.(1[2-9]\d|2[0-5]\d)\/24/, 'automatic addresses come from the ip-range');
    okOut(await d.docker(['network', 'create', '--internal', 'inner_net']), 'create --internal');
    const inner = okOut(await d.docker(['run', '--rm', '--network', 'inner_net', 'busybox', 'ip', 'route']), 'internal');
    assert.doesNotMatch(inner, /default/, 'no default route on an internal network');
    const ins = JSON.parse(okOut(await d.docker(['network', 'inspect', 'inner_net', 'fixed_net']), 'inspect')) as Array<{ Internal: boolean; IPAM: { Config: Array<{ IPRange?: string; Gateway: string }> } }>;
    assert.equal(ins[0]!.Internal, true);
    assert.equal(ins[1]!.IPAM.Config[0]!.IPRange, '10.77.0.128/25');
    assert.equal(ins[1]!.IPAM.Config[0]!.Gateway, '10.77.0.254');
  });

  it('--network host sees the host\'s interfaces; --network container:x shares x\'s', async () => {
    const hostLinks = d.nsRun('ip', ['-o', 'link']).stdout;
    const seen = okOut(await d.docker(['run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link']), 'host mode');
    for (const name of ['berth0', 'lo']) assert.ok(seen.includes(`: ${name}:`) && hostLinks.includes(`: ${name}:`), `${name} in:\n${seen}`);
    const mine = okOut(await d.docker(['exec', 'app1', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), 'app1 eth0');
    const shared = okOut(await d.docker(['run', '--rm', '--network', 'container:app1', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), 'container mode');
    assert.equal(shared.replace(/^\d+:\s+/, ''), mine.replace(/^\d+:\s+/, ''));
    const none = okOut(await d.docker(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']), 'none');
    assert.deepEqual(none.split('\n').map((l) => l.split(':')[1]?.trim()), ['lo'], none);
    const nets = okOut(await d.docker(['run', '--rm', '--network', 'host', 'busybox', 'true']), 'host run');
    assert.equal(nets, '');
  });

  it('rename keeps the container resolvable under its new name', async () => {
    okOut(await d.docker(['rename', 'app2', 'app2renamed']), 'rename');
    expectCode(await d.docker(['exec', 'app1', 'ping', '-c1', '-W2', 'app2renamed']), 0, 'new name');
    expectCode(await d.docker(['exec', 'app1', 'nslookup', 'app2']), 1, 'old name gone');
    okOut(await d.docker(['rename', 'app2renamed', 'app2']), 'rename back');
  });

  it('names of removed containers disappear at once', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'shortlived', '--network', 'my_app_net', 'busybox', 'sleep', '300']), 'run');
    expectCode(await d.docker(['exec', 'app1', 'nslookup', 'shortlived']), 0, 'resolvable');
    okOut(await d.docker(['rm', '-f', 'shortlived']), 'rm -f');
    await waitFor('the name to go', async () => (await d.docker(['exec', 'app1', 'nslookup', 'shortlived'])).code === 1, { timeoutMs: 5000 });
  });
});
