// IPv6 on bridge networks, through the real docker CLI: `network create
// --ipv6 [--subnet v6]`, addresses in inspect (GlobalIPv6Address,
// IPv6Gateway) and inside (`ip -6 addr`), v6 between containers by address
// and by name (AAAA), --ip6, isolation between networks, masquerading out
// over v6, published ports reached over v6, and the daemon's --ipv6
// --fixed-cidr-v6 for the default bridge.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Daemon, expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon, waitFor } from '../harness';

const HTTPD = (text: string): string[] => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`];

/** A --network none container with a v6 veth into the daemon's namespace and no route back: only masqueraded traffic is answered. */
async function makeOutside6(d: Daemon): Promise<string> {
  okOut(await d.docker(['run', '-d', '--name', 'outside6', '--network', 'none', 'busybox', ...HTTPD('outside6')]), 'outside');
  const pid = okOut(await d.docker(['inspect', '-f', '{{.State.Pid}}', 'outside6']), 'pid');
  const must = (cmd: string, args: string[]): void => { const r = d.nsRun(cmd, args); assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`); };
  must('ip', ['link', 'add', 'vout6', 'type', 'veth', 'peer', 'name', 'eth1', 'netns', pid]);
  must('ip', ['addr', 'add', '2001:db8:ff::1/64', 'dev', 'vout6', 'nodad']);
  must('ip', ['link', 'set', 'vout6', 'up']);
  must('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', 'addr', 'add', '2001:db8:ff::2/64', 'dev', 'eth1', 'nodad']);
  must('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', 'link', 'set', 'eth1', 'up']);
  return '2001:db8:ff::2';
}

describe('networking: IPv6 networks (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  const insp = async (c: string, net: string, field: string): Promise<string> =>
    okOut(await d.docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").${field}}}`, c]), `${field} of ${c}`);

  it('network create --ipv6 --subnet: containers get v6 addresses (inspect, ip -6 addr, hosts) and reach each other by address and name', async () => {
    okOut(await d.docker(['network', 'create', '--ipv6', '--subnet', 'fd00:db8:1::/64', 'v6net']), 'create');
    const net = JSON.parse(okOut(await d.docker(['network', 'inspect', 'v6net']), 'inspect'))[0] as { EnableIPv6: boolean; IPAM: { Config: Array<{ Subnet: string; Gateway: string }> } };
    assert.equal(net.EnableIPv6, true);
    assert.deepEqual(net.IPAM.Config.find((c) => c.Subnet.includes(':')), { Subnet: 'fd00:db8:1::/64', Gateway: 'fd00:db8:1::1' });
    assert.ok(net.IPAM.Config.some((c) => /^172\.\d+\.0\.0\/16$/.test(c.Subnet)), 'an IPv4 subnet too (dual stack)');
    okOut(await d.docker(['run', '-d', '--name', 'a1', '--network', 'v6net', 'busybox', ...HTTPD('a1')]), 'a1');
    okOut(await d.docker(['run', '-d', '--name', 'a2', '--network', 'v6net', 'busybox', 'sleep', '300']), 'a2');
    assert.equal(await insp('a1', 'v6net', 'GlobalIPv6Address'), 'fd00:db8:1::2');
    assert.equal(await insp('a2', 'v6net', 'GlobalIPv6Address'), 'fd00:db8:1::3');
    assert.equal(await insp('a1', 'v6net', 'GlobalIPv6PrefixLen'), '64');
    assert.equal(await insp('a1', 'v6net', 'IPv6Gateway'), 'fd00:db8:1::1');
    const inside = okOut(await d.docker(['exec', 'a2', 'sh', '-c', 'ip -6 addr show eth0; ip -6 route; cat /etc/hosts']), 'inside');
    expectMatch(inside, /inet6 fd00:db8:1::3\/64 scope global/, 'ip -6 addr');
    expectMatch(inside, /^default via fd00:db8:1::1 dev eth0/m, 'v6 default route');
    expectMatch(inside, /^fd00:db8:1::3\t/m, '/etc/hosts has the v6 address');
    expectCode(await d.docker(['exec', 'a2', 'ping', '-6', '-c1', '-W2', 'fd00:db8:1::2']), 0, 'ping over v6');
    expectMatch(okOut(await d.docker(['exec', 'a2', 'nslookup', '-type=aaaa', 'a1']), 'AAAA'), /Address: fd00:db8:1::2$/m, 'AAAA record');
    expectMatch(okOut(await d.docker(['exec', 'a2', 'wget', '-q', '-O', '-', 'http://[fd00:db8:1::2]/']), 'http over v6'), /a1/, 'TCP over v6');
    const c = JSON.parse(okOut(await d.docker(['network', 'inspect', '-f', '{{json .Containers}}', 'v6net']), 'containers')) as Record<string, { Name: string; IPv6Address: string }>;
    assert.deepEqual(Object.values(c).map((x) => `${x.Name}=${x.IPv6Address}`).sort(), ['a1=fd00:db8:1::2/64', 'a2=fd00:db8:1::3/64']);
  });

  it('--ip6 picks the address; outside the subnet or on an IPv4-only network it is refused', async () => {
    const out = okOut(await d.docker(['run', '--rm', '--network', 'v6net', '--ip6', 'fd00:db8:1::99', 'busybox', 'ip', '-6', 'addr', 'show', 'eth0']), '--ip6');
    expectMatch(out, /inet6 fd00:db8:1::99\/64/, '--ip6');
    okOut(await d.docker(['create', '--name', 'fixed6', '--network', 'v6net', '--ip6', 'fd00:db8:1::a', 'busybox', 'true']), 'create');
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{json .NetworkSettings.Networks.v6net.IPAMConfig}}', 'fixed6']), 'IPAMConfig'), '{"IPv6Address":"fd00:db8:1::a"}');
    const wrong = await d.docker(['run', '--rm', '--network', 'v6net', '--ip6', 'fd00:db8:2::5', 'busybox', 'true']);
    expectCode(wrong, 125, 'outside the subnet');
    expectMatch(wrong.stderr, /no configured subnet or ip-range contain the IP address fd00:db8:2::5/, 'wording');
    okOut(await d.docker(['network', 'create', '--subnet', '10.66.0.0/24', 'v4only']), 'v4only');
    const v4 = await d.docker(['run', '--rm', '--network', 'v4only', '--ip6', 'fd00:db8:1::7', 'busybox', 'true']);
    expectCode(v4, 125, 'IPv4-only network');
    assert.equal(okOut(await d.docker(['run', '--rm', '--network', 'v4only', 'busybox', 'sh', '-c', 'ip -6 addr show scope global']), 'no v6'), '', 'no global v6 address on an IPv4-only network');
  });

  it('--ipv6 without a v6 subnet takes a unique local /64; overlapping v6 subnets are refused', async () => {
    okOut(await d.docker(['network', 'create', '--ipv6', 'autov6']), 'create');
    const cfg = JSON.parse(okOut(await d.docker(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'autov6']), 'inspect')) as Array<{ Subnet: string; Gateway: string }>;
    const v6 = cfg.find((c) => c.Subnet.includes(':'));
    assert.ok(v6 && /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/.test(v6.Subnet), JSON.stringify(cfg));
    assert.equal(v6.Gateway, v6.Subnet.replace('/64', '1'));
    const overlap = await d.docker(['network', 'create', '--ipv6', '--subnet', 'fd00:db8:1:0:8000::/80', 'over6']);
    expectCode(overlap, 1, 'overlap');
    expectMatch(overlap.stderr, /invalid pool request: Pool overlaps with other one on this address space/, 'Docker\'s wording');
    const bad = await d.docker(['network', 'create', '--ipv6', '--subnet', 'fd00:db8:9::1/64', 'bad6']);
    expectCode(bad, 1, 'host bits');
    expectMatch(bad.stderr, /invalid subnet fd00:db8:9::1\/64: it should be fd00:db8:9::\/64/, 'wording');
  });

  it('v6 networks are isolated from each other; traffic out over v6 is masqueraded', async () => {
    const outside = await makeOutside6(d);
    const other = await d.docker(['run', '--rm', '--network', 'autov6', 'busybox', 'ping', '-6', '-c1', '-W1', 'fd00:db8:1::2']);
    assert.notEqual(other.code, 0, 'another v6 network does not reach v6net');
    expectMatch(okOut(await d.docker(['exec', 'a2', 'wget', '-q', '-O', '-', `http://[${outside}]/`]), 'outside over v6'), /outside6/, 'masqueraded out');
  });

  it('a published port answers over v6 on the host', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'pub6', '--network', 'v6net', '-p', '8086:80', 'busybox', ...HTTPD('pub6')]), 'run');
    const body = await waitFor('[::1]:8086', () => { const r = d.nsRun('curl', ['-s', '-m', '2', 'http://[2001:db8:ff::1]:8086/']); return r.code === 0 ? r.stdout : ''; }, { timeoutMs: 5000 });
    assert.equal(body.trim(), 'pub6');
    const port = okOut(await d.docker(['port', 'pub6', '80']), 'docker port').split('\n').sort();
    assert.deepEqual(port, ['0.0.0.0:8086', '[::]:8086']);
  });
});

describe('networking: berthd --ipv6 --fixed-cidr-v6 (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon({ args: ['--ipv6', '--fixed-cidr-v6', 'fd00:dead:beef::/64'] });

  it('the default bridge is dual stack', async () => {
    const net = JSON.parse(okOut(await d.docker(['network', 'inspect', 'bridge']), 'inspect'))[0] as { EnableIPv6: boolean; IPAM: { Config: Array<{ Subnet: string; Gateway: string }> } };
    assert.equal(net.EnableIPv6, true);
    assert.deepEqual(net.IPAM.Config.map((c) => c.Subnet), ['172.17.0.0/16', 'fd00:dead:beef::/64']);
    okOut(await d.docker(['run', '-d', '--name', 'b1', 'busybox', 'sleep', '300']), 'b1');
    const ip6 = okOut(await d.docker(['inspect', '-f', '{{.NetworkSettings.GlobalIPv6Address}} {{.NetworkSettings.IPv6Gateway}} {{.NetworkSettings.GlobalIPv6PrefixLen}}', 'b1']), 'inspect');
    assert.equal(ip6, 'fd00:dead:beef::2 fd00:dead:beef::1 64');
    const out = okOut(await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'ip -6 route; ping -6 -c1 -W2 fd00:dead:beef::2 >/dev/null && echo ok6']), 'run');
    expectMatch(out, /^default via fd00:dead:beef::1 dev eth0/m, 'v6 default route');
    expectMatch(out, /^ok6$/m, 'v6 between containers');
  });
});
