// Unit tests of the pure parts of networking: IPv4/CIDR math, IPAM pools and
// automatic subnets, port specifications and the host-port table, the DNS
// packet codec, nft and ip text builders, /etc file contents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressPool, checkOverlap, defaultAddressPools, parseAddressPools, parseProcNetRoute, pickSubnet, validateIpamEntry } from '../../src/network/ipam';
import { cidrContains, cidrOverlaps, formatCidr, formatIPv4, macFromIPv4, parseCidr, parseIPv4, parseMac, parseReverseName, reverseName } from '../../src/network/ipv4';
import { parsePortKey, parsePortRange, portList, portMap, portRequests, PortTable } from '../../src/network/ports';
import { aRecord, decodeAnswers, decodeQuery, encodeError, encodeName, encodeQuery, encodeResponse, ptrRecord, readName, TYPE_A, TYPE_AAAA, TYPE_PTR } from '../../src/network/dns/codec';
import { containerDnsRules, hostRuleset, networkUpdate, portElements } from '../../src/network/firewall';
import { bridgeLines, hostEndpointLines, innerEndpointLines } from '../../src/network/kernel';
import { embeddedResolv, hostsContent, parseResolvConf, resolvContent } from '../../src/network/etc';

const ip = (s: string): number => parseIPv4(s)!;

test('IPv4 and CIDR parsing, formatting, containment, overlap', () => {
  assert.equal(parseIPv4('172.17.0.1'), 0xac110001);
  assert.equal(parseIPv4('256.1.1.1'), undefined);
  assert.equal(parseIPv4('01.2.3.4'), undefined);
  assert.equal(parseIPv4('1.2.3'), undefined);
  assert.equal(formatIPv4(0xc0a80001), '192.168.0.1');
  assert.deepEqual(parseCidr('10.1.2.3/16'), { net: ip('10.1.0.0'), len: 16 });
  assert.equal(parseCidr('10.1.2.3/33'), undefined);
  assert.equal(parseCidr('10.1.2.3'), undefined);
  assert.equal(formatCidr(parseCidr('0.0.0.0/0')!), '0.0.0.0/0');
  assert.ok(cidrContains(parseCidr('172.18.0.0/16')!, ip('172.18.255.254')));
  assert.ok(!cidrContains(parseCidr('172.18.0.0/16')!, ip('172.19.0.1')));
  assert.ok(cidrOverlaps(parseCidr('172.17.0.0/16')!, parseCidr('172.17.5.0/24')!));
  assert.ok(!cidrOverlaps(parseCidr('172.17.0.0/16')!, parseCidr('172.18.0.0/24')!));
});

test('Docker\'s MAC from the IP; MAC parsing; reverse names', () => {
  assert.equal(macFromIPv4(ip('172.17.0.2')), '02:42:ac:11:00:02');
  assert.equal(parseMac('02-42-AC-11-00-02'), '02:42:ac:11:00:02');
  assert.equal(parseMac('02:42:ac:11:00'), undefined);
  assert.equal(reverseName(ip('172.18.0.3')), '3.0.18.172.in-addr.arpa');
  assert.equal(parseReverseName('3.0.18.172.in-addr.arpa.'), ip('172.18.0.3'));
  assert.equal(parseReverseName('example.com'), undefined);
});

test('address pool: skips network, gateway, broadcast; honours ip-range and preferred addresses; never hands out twice', () => {
  const pool = new AddressPool({ subnet: parseCidr('10.0.0.0/29')!, gateway: ip('10.0.0.1') });
  const got = [pool.allocate(), pool.allocate(), pool.allocate(), pool.allocate(), pool.allocate()].map(formatIPv4);
  assert.deepEqual(got, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
  assert.throws(() => pool.allocate(undefined, 'n'), /no available IPv4 addresses on this network's address pools: n/);
  pool.release(ip('10.0.0.4'));
  assert.equal(formatIPv4(pool.allocate()), '10.0.0.4');
  assert.throws(() => pool.allocate(ip('10.0.0.3')), /Address already in use/);
  assert.throws(() => pool.allocate(ip('10.0.0.1')), /Address already in use/, 'the gateway');
  assert.throws(() => pool.allocate(ip('10.0.1.1')), /no configured subnet or ip-range contain the IP address 10\.0\.1\.1/);

  const ranged = new AddressPool({ subnet: parseCidr('10.1.0.0/24')!, ipRange: parseCidr('10.1.0.128/25')!, gateway: ip('10.1.0.1') });
  assert.equal(formatIPv4(ranged.allocate()), '10.1.0.129');
  assert.equal(formatIPv4(ranged.allocate(ip('10.1.0.7'))), '10.1.0.7', 'a preferred address may be outside the range');
  // a freed address is not reused at once (next after the last one handed out)
  const p = new AddressPool({ subnet: parseCidr('10.2.0.0/24')!, gateway: ip('10.2.0.1') });
  const a = p.allocate();
  p.release(a);
  assert.notEqual(p.allocate(), a);
  // claims after a restart
  const q = new AddressPool({ subnet: parseCidr('10.3.0.0/24')!, gateway: ip('10.3.0.1') });
  assert.equal(q.claim(ip('10.3.0.2')), true);
  assert.equal(q.claim(ip('10.3.0.2')), false);
  assert.notEqual(formatIPv4(q.allocate()), '10.3.0.2');
});

test('automatic subnets from the default pools skip taken ones and routes', () => {
  const pools = defaultAddressPools();
  assert.equal(formatCidr(pickSubnet(pools, [parseCidr('172.17.0.0/16')!])!), '172.18.0.0/16');
  assert.equal(formatCidr(pickSubnet(pools, [parseCidr('172.17.0.0/16')!, parseCidr('172.18.3.0/24')!])!), '172.19.0.0/16');
  const all172 = Array.from({ length: 15 }, (_, i) => parseCidr(`172.${17 + i}.0.0/16`)!);
  assert.equal(formatCidr(pickSubnet(pools, all172)!), '192.168.0.0/20');
  const custom = parseAddressPools([{ base: '10.10.0.0/16', size: 24 }]);
  assert.equal(formatCidr(pickSubnet(custom, [parseCidr('10.10.0.0/24')!])!), '10.10.1.0/24');
  assert.throws(() => parseAddressPools([{ base: 'x', size: 24 }]));
  const routes = parseProcNetRoute('Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n'
    + 'eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n'
    + 'eth0\t0000000A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n');
  assert.deepEqual(routes.map(formatCidr), ['10.0.0.0/16']);
});

test('IPAM config validation and overlap, with Docker\'s messages', () => {
  const e = validateIpamEntry({ Subnet: '10.5.0.0/24', Gateway: '10.5.0.254', IPRange: '10.5.0.128/25' });
  assert.equal(e.subnetText, '10.5.0.0/24');
  assert.equal(formatIPv4(e.gateway), '10.5.0.254');
  assert.equal(formatIPv4(validateIpamEntry({ Subnet: '10.6.0.0/16' }).gateway), '10.6.0.1');
  assert.throws(() => validateIpamEntry({ Subnet: '10.5.0.0/24', Gateway: '10.6.0.1' }), /no matching subnet for gateway 10\.6\.0\.1/);
  assert.throws(() => validateIpamEntry({ Subnet: '10.5.0.0/24', IPRange: '10.6.0.0/25' }), /no matching subnet for range 10\.6\.0\.0\/25/);
  assert.throws(() => validateIpamEntry({ Gateway: '10.6.0.1' }), /every ip-range or gateway must have a corresponding subnet/);
  assert.throws(() => validateIpamEntry({ Subnet: 'nope' }), /invalid CIDR address: nope/);
  assert.throws(() => checkOverlap(parseCidr('172.17.1.0/24')!, [parseCidr('172.17.0.0/16')!]), /Pool overlaps with other one on this address space/);
  checkOverlap(parseCidr('172.20.0.0/16')!, [parseCidr('172.17.0.0/16')!]);
});

test('port specifications: keys, ranges, bindings, -P, Docker\'s errors', () => {
  assert.deepEqual(parsePortKey('80/tcp'), { lo: 80, hi: 80, proto: 'tcp' });
  assert.deepEqual(parsePortKey('53/UDP'), { lo: 53, hi: 53, proto: 'udp' });
  assert.deepEqual(parsePortKey('8000-8002'), { lo: 8000, hi: 8002, proto: 'tcp' });
  assert.throws(() => parsePortKey('8o/tcp'), /invalid port specification: "8o"/);
  assert.throws(() => parsePortKey('80/xyz'), /invalid proto: xyz/);
  assert.deepEqual(parsePortRange(''), [0, 0]);
  assert.deepEqual(parsePortRange('9000-9010'), [9000, 9010]);
  assert.equal(parsePortRange('9010-9000'), undefined);
  assert.equal(parsePortRange('70000'), undefined);
  const reqs = portRequests({ '80/tcp': [{ HostIp: '', HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '8001' }], '53/udp': [{ HostPort: '' }] }, { '80/tcp': {}, '443/tcp': {} }, true);
  assert.deepEqual(reqs, [
    { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPortLo: 8080, hostPortHi: 8080 },
    { proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortLo: 8001, hostPortHi: 8001 },
    { proto: 'udp', containerPort: 53, hostIp: '0.0.0.0', hostPortLo: 0, hostPortHi: 0 },
    { proto: 'tcp', containerPort: 443, hostIp: '0.0.0.0', hostPortLo: 0, hostPortHi: 0 },
  ]);
  assert.deepEqual(portRequests({ '80-81/tcp': [{ HostPort: '9000-9001' }] }, null, false).map((r) => `${r.containerPort}:${r.hostPortLo}`), ['80:9000', '81:9001']);
  assert.throws(() => portRequests({ '80/tcp': [{ HostPort: 'x1' }] }, null, false), /invalid port specification: "x1"/);
  assert.throws(() => portRequests({ '80/tcp': [{ HostIp: '1.2.3', HostPort: '1' }] }, null, false), /invalid IP address: 1\.2\.3/);
  assert.deepEqual(portRequests(null, { '80/tcp': {} }, false), [], 'exposed only: nothing published');
});

test('host port table: 0.0.0.0 conflicts with every address; random ports walk the range', () => {
  const t = new PortTable([40000, 40002]);
  t.take('tcp', '0.0.0.0', 8080, 'a');
  assert.ok(t.conflicts('tcp', '127.0.0.1', 8080));
  assert.ok(!t.conflicts('udp', '0.0.0.0', 8080));
  t.take('tcp', '127.0.0.1', 9000, 'b');
  assert.ok(!t.conflicts('tcp', '127.0.0.2', 9000));
  assert.ok(t.conflicts('tcp', '0.0.0.0', 9000));
  t.release('tcp', '0.0.0.0', 8080, 'a');
  assert.ok(!t.conflicts('tcp', '0.0.0.0', 8080));
  const r = { proto: 'tcp' as const, containerPort: 80, hostIp: '0.0.0.0', hostPortLo: 0, hostPortHi: 0 };
  assert.deepEqual(t.candidates(r), [40000, 40001, 40002]);
  t.advance('tcp', 40000);
  assert.deepEqual(t.candidates(r), [40001, 40002, 40000]);
  assert.deepEqual(t.candidates({ ...r, hostPortLo: 5, hostPortHi: 7 }), [5, 6, 7]);
});

test('inspect and ps shapes of ports', () => {
  const bound = [{ proto: 'tcp' as const, containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 }];
  assert.deepEqual(portMap({ '80/tcp': {}, '443/tcp': {} }, bound), { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null });
  assert.deepEqual(portList({ '80/tcp': {}, '443/tcp': {} }, bound), [
    { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
    { PrivatePort: 443, Type: 'tcp' },
  ]);
});

test('DNS codec: queries decode, answers encode with compression, truncation sets TC', () => {
  const q = encodeQuery(0x1234, 'web.my_net', TYPE_A);
  const d = decodeQuery(q);
  assert.equal(d.id, 0x1234);
  assert.equal(d.rd, true);
  assert.deepEqual(d.questions, [{ name: 'web.my_net', type: TYPE_A, cls: 1 }]);
  const resp = encodeResponse(q, d, 0, [aRecord('web.my_net', ip('172.18.0.2')), aRecord('web.my_net', ip('172.18.0.3'))]);
  const a = decodeAnswers(resp);
  assert.equal(a.id, 0x1234);
  assert.equal(a.rcode, 0);
  assert.deepEqual(a.answers.map((x) => `${x.name}/${x.type}/${formatIPv4(x.data.readUInt32BE(0))}`), ['web.my_net/1/172.18.0.2', 'web.my_net/1/172.18.0.3']);
  assert.equal(resp.readUInt16BE(2) & 0x8000, 0x8000, 'QR');
  assert.equal(resp.length, q.length + 2 * 16, 'answer names are pointers to the question');
  const many = Array.from({ length: 40 }, (_, i) => aRecord('x', i));
  const tq = encodeQuery(1, 'x', TYPE_A);
  const t = decodeAnswers(encodeResponse(tq, decodeQuery(tq), 0, many, 512));
  assert.equal(t.tc, true);
  assert.equal(t.answers.length, 0);
  const pq = encodeQuery(2, '2.0.18.172.in-addr.arpa', TYPE_PTR);
  const p = decodeAnswers(encodeResponse(pq, decodeQuery(pq), 0, [ptrRecord('2.0.18.172.in-addr.arpa', 'web.my_net')]));
  assert.equal(readName(p.answers[0]!.data, 0).name, 'web.my_net');
  const nodata = decodeAnswers(encodeResponse(encodeQuery(3, 'web', TYPE_AAAA), decodeQuery(encodeQuery(3, 'web', TYPE_AAAA)), 0, []));
  assert.equal(nodata.answers.length, 0);
  assert.equal(nodata.rcode, 0);
  assert.equal(encodeError(Buffer.from([0xab, 0xcd, 1]), 1).readUInt16BE(0), 0xabcd);
  assert.throws(() => decodeQuery(Buffer.from([1, 2, 3])));
  assert.throws(() => encodeName('a'.repeat(64)));
  // compression loops are refused
  const loop = Buffer.concat([Buffer.alloc(12), Buffer.from([0xc0, 12])]);
  loop.writeUInt16BE(1, 4);
  assert.throws(() => decodeQuery(loop), /too many compression pointers|short question/);
});

test('nft text: the host table, network updates, port elements, the container\'s DNS redirect', () => {
  const nets = [{ bridge: 'berth0', subnet: '172.17.0.0/16', internal: false, masquerade: true }, { bridge: 'br-x', subnet: '172.18.0.0/16', internal: true, masquerade: true }];
  const ports = [{ proto: 'tcp' as const, hostIp: '0.0.0.0', hostPort: 8080, ip: '172.17.0.2', containerPort: 80 }, { proto: 'udp' as const, hostIp: '127.0.0.1', hostPort: 53, ip: '172.17.0.2', containerPort: 5353 }];
  const t = hostRuleset(nets, ports);
  assert.match(t, /^add table ip berth\ndelete table ip berth\ntable ip berth \{/);
  assert.match(t, /map ports_any \{ type inet_proto \. inet_service : ipv4_addr \. inet_service; elements = \{ tcp \. 8080 : 172\.17\.0\.2 \. 80 \} \}/);
  assert.match(t, /elements = \{ 127\.0\.0\.1 \. udp \. 53 : 172\.17\.0\.2 \. 5353 \}/);
  assert.match(t, /ip saddr 172\.17\.0\.0\/16 oifname != "berth0" masquerade/);
  assert.doesNotMatch(t, /ip saddr 172\.18\.0\.0\/16 oifname != "br-x" masquerade/, 'internal networks are not masqueraded out');
  assert.match(t, /iifname "br-x" oifname != "br-x" drop/);
  assert.equal(portElements('delete', ports), 'delete element ip berth ports_any { tcp . 8080 }\ndelete element ip berth ports_ip { 127.0.0.1 . udp . 53 }\n');
  assert.match(networkUpdate(nets), /^flush chain ip berth nets_nat\n.*add element ip berth bridges \{ "berth0", "br-x" \}/s);
  assert.match(networkUpdate([]), /flush set ip berth bridges\n$/);
  assert.match(containerDnsRules('172.18.0.1', 53), /ip daddr 127\.0\.0\.11 udp dport 53 dnat to 172\.18\.0\.1:53/);
});

test('ip batch lines: bridge set-up and repair, both ends of an endpoint', () => {
  assert.deepEqual(bridgeLines('berth0', '02:42:00:00:00:01', '172.17.0.1/16', 1500, undefined), [
    'link add name berth0 type bridge', 'link set dev berth0 address 02:42:00:00:00:01 mtu 1500', 'addr add 172.17.0.1/16 dev berth0', 'link set dev berth0 up',
  ]);
  assert.deepEqual(bridgeLines('berth0', 'm', '172.17.0.1/16', 1500, { ifname: 'berth0', ifindex: 3, addrs: ['172.17.0.1/16'], up: true }), []);
  assert.deepEqual(bridgeLines('berth0', 'm', '172.17.0.1/16', 1500, { ifname: 'berth0', ifindex: 3, addrs: ['10.0.0.1/8'], up: true }), ['addr del 10.0.0.1/8 dev berth0', 'addr add 172.17.0.1/16 dev berth0']);
  const l = { ifname: 'eth0', hostVeth: 'veth1234567', mac: '02:42:ac:11:00:02', cidr: '172.17.0.2/16', mtu: 1500, bridge: 'berth0', hairpin: true };
  assert.deepEqual(hostEndpointLines(42, l), [
    'link add veth1234567 mtu 1500 master berth0 up type veth peer name eth0 address 02:42:ac:11:00:02 mtu 1500 netns 42',
    'link set dev veth1234567 type bridge_slave hairpin on',
  ]);
  assert.deepEqual(innerEndpointLines(l), ['addr add 172.17.0.2/16 broadcast + dev eth0', 'link set eth0 up']);
});

test('/etc/hosts and resolv.conf contents', () => {
  const h = hostsContent({ hostname: 'web', domainname: 'example.org', ips: ['172.18.0.2'], extraHosts: ['foo:1.2.3.4', 'gw:host-gateway'], hostGateway: '172.17.0.1' });
  assert.match(h, /^127\.0\.0\.1\tlocalhost\n/);
  assert.match(h, /\n1\.2\.3\.4\tfoo\n172\.17\.0\.1\tgw\n172\.18\.0\.2\tweb\.example\.org web\n$/);
  const p = parseResolvConf('# c\nsearch a.example b.example\nnameserver 10.0.0.2\nnameserver 127.0.0.53\noptions edns0 ndots:2\n');
  assert.deepEqual(p, { nameservers: ['10.0.0.2', '127.0.0.53'], search: ['a.example', 'b.example'], options: ['edns0', 'ndots:2'] });
  assert.equal(embeddedResolv(p, []), 'search a.example b.example\nnameserver 127.0.0.11\noptions ndots:0 edns0\n');
  assert.equal(embeddedResolv(p, ['ndots:3']), 'search a.example b.example\nnameserver 127.0.0.11\noptions ndots:3\n');
  assert.equal(resolvContent({ nameservers: ['1.1.1.1'], search: [], options: [] }), 'nameserver 1.1.1.1\n');
});
