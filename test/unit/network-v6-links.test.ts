// Pure parts of IPv6 addressing, legacy links and the icc/ip6 firewall text.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { bridgeRuleset, ip6Ruleset, linkElements, portElements } from '../../src/network/firewall';
import { AddressPool6, cidr6Contains, formatCidr6, formatIPv6, parseCidr6, parseIPv6, validateIpam6Entry } from '../../src/network/ipv6';
import { linkEnv, parseLink } from '../../src/network/links';
import { PortTable, portRequests } from '../../src/network/ports';

test('IPv6 text: parsing (::, embedded IPv4), RFC 5952 formatting, CIDR blocks', () => {
  assert.equal(parseIPv6('::'), 0n);
  assert.equal(parseIPv6('::1'), 1n);
  assert.equal(parseIPv6('fd00::1'), (0xfd00n << 112n) | 1n);
  assert.equal(parseIPv6('::ffff:1.2.3.4'), (0xffffn << 32n) | 0x01020304n);
  for (const bad of ['1.2.3.4', ':::', '1::2::3', 'fd00::g', '1:2:3:4:5:6:7:8:9', '12345::']) assert.equal(parseIPv6(bad), undefined, bad);
  assert.equal(formatIPv6(parseIPv6('2001:0db8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
  assert.equal(formatIPv6(parseIPv6('2001:db8:0:1:0:0:0:1')!), '2001:db8:0:1::1', 'the longest run is compressed');
  assert.equal(formatIPv6(parseIPv6('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1', 'leftmost on a tie');
  assert.equal(formatIPv6(parseIPv6('2001:db8:1:1:1:1:0:1')!), '2001:db8:1:1:1:1:0:1', 'a single zero group stays');
  assert.equal(formatIPv6(0n), '::');
  const c = parseCidr6('fd00:db8:1::5/64')!;
  assert.equal(formatCidr6(c), 'fd00:db8:1::/64');
  assert.ok(cidr6Contains(c, parseIPv6('fd00:db8:1::ffff')!));
  assert.ok(!cidr6Contains(c, parseIPv6('fd00:db8:2::1')!));
  assert.equal(parseCidr6('fd00::/129'), undefined);
});

test('IPv6 IPAM entries and the v6 pool', () => {
  const e = validateIpam6Entry({ Subnet: 'fd00:1::/64' });
  assert.equal(formatIPv6(e.gateway), 'fd00:1::1');
  assert.throws(() => validateIpam6Entry({ Subnet: 'fd00:1::1/64' }), /invalid subnet fd00:1::1\/64: it should be fd00:1::\/64/);
  assert.throws(() => validateIpam6Entry({ Subnet: 'fd00:1::/64', Gateway: 'fd00:2::1' }), /no matching subnet for gateway fd00:2::1/);
  assert.throws(() => validateIpam6Entry({ Subnet: 'fe80::/64' }), /link-local/);
  const p = new AddressPool6({ subnet: e.subnet, gateway: e.gateway });
  assert.equal(formatIPv6(p.allocate()), 'fd00:1::2');
  assert.equal(formatIPv6(p.allocate()), 'fd00:1::3');
  assert.throws(() => p.allocate(parseIPv6('fd00:1::1')), /Address already in use/);
  assert.throws(() => p.allocate(parseIPv6('fd00:2::1')), /no configured subnet/);
  p.release(parseIPv6('fd00:1::2')!);
  assert.equal(formatIPv6(p.allocate()), 'fd00:1::4', 'a freed address is not reused at once');
  const tiny = new AddressPool6({ subnet: parseCidr6('fd00:3::/126')!, gateway: parseIPv6('fd00:3::1')! });
  tiny.allocate(); tiny.allocate();
  assert.throws(() => tiny.allocate(), /no available IPv6 addresses/);
});

test('published ports: v6 host addresses are kept; wildcards conflict only within their family', () => {
  const r = portRequests({ '80/tcp': [{ HostIp: '::1', HostPort: '8080' }, { HostIp: '[2001:db8::1]', HostPort: '8081' }] }, {}, false);
  assert.deepEqual(r.map((x) => x.hostIp), ['::1', '2001:db8::1']);
  const t = new PortTable();
  t.take('tcp', '0.0.0.0', 8080, 'a');
  assert.ok(!t.conflicts('tcp', '::', 8080), ':: and 0.0.0.0 are different sockets');
  assert.ok(t.conflicts('tcp', '127.0.0.1', 8080));
  t.take('tcp', '::', 8080, 'a');
  assert.ok(t.conflicts('tcp', '::1', 8080));
  assert.equal(portElements('add', [{ proto: 'tcp', hostIp: '::', hostPort: 8080, ip: 'fd00::2', containerPort: 80 }]), 'add element ip6 berth ports_any { tcp . 8080 : fd00::2 . 80 }\n');
});

test('legacy links: parsing and Docker\'s environment variables', () => {
  assert.deepEqual(parseLink('db'), { name: 'db', alias: 'db' });
  assert.deepEqual(parseLink('db:alias'), { name: 'db', alias: 'alias' });
  assert.deepEqual(parseLink('/db:/web/alias'), { name: 'db', alias: 'alias' });
  assert.throws(() => parseLink('a:b:c'), /bad format for links: a:b:c/);
  assert.throws(() => parseLink(''), /empty string specified for links/);
  const env = linkEnv('/web/my-db', '172.17.0.5', ['PATH=/bin', 'HOME=/root', 'PW=a=b', 'BROKEN'], { '6379/tcp': {}, '8000/tcp': {}, '8001/tcp': {}, '53/udp': {} });
  assert.deepEqual(env, [
    'MY_DB_PORT=tcp://172.17.0.5:6379',
    'MY_DB_PORT_6379_TCP=tcp://172.17.0.5:6379', 'MY_DB_PORT_6379_TCP_ADDR=172.17.0.5', 'MY_DB_PORT_6379_TCP_PORT=6379', 'MY_DB_PORT_6379_TCP_PROTO=tcp',
    'MY_DB_PORT_8000_TCP=tcp://172.17.0.5:8000', 'MY_DB_PORT_8000_TCP_ADDR=172.17.0.5', 'MY_DB_PORT_8000_TCP_PORT=8000', 'MY_DB_PORT_8000_TCP_PROTO=tcp',
    'MY_DB_PORT_8001_TCP=tcp://172.17.0.5:8001', 'MY_DB_PORT_8001_TCP_ADDR=172.17.0.5', 'MY_DB_PORT_8001_TCP_PORT=8001', 'MY_DB_PORT_8001_TCP_PROTO=tcp',
    // as Docker's ToEnv: a range's _START/_END come after the vars of the port that ends it
    'MY_DB_PORT_53_UDP=udp://172.17.0.5:53', 'MY_DB_PORT_53_UDP_ADDR=172.17.0.5', 'MY_DB_PORT_53_UDP_PORT=53', 'MY_DB_PORT_53_UDP_PROTO=udp',
    'MY_DB_PORT_8000_TCP_START=tcp://172.17.0.5:8000', 'MY_DB_PORT_8000_TCP_PORT_START=8000', 'MY_DB_PORT_8000_TCP_END=tcp://172.17.0.5:8001', 'MY_DB_PORT_8000_TCP_PORT_END=8001',
    'MY_DB_NAME=/web/my-db',
    'MY_DB_ENV_PW=a=b',
  ]);
  assert.deepEqual(linkEnv('/a/b', '10.0.0.2', [], null), ['B_NAME=/a/b']);
});

test('nft text: icc=false in the bridge table, link elements, the ip6 table', () => {
  const nets = [{ bridge: 'br-a', subnet: '172.18.0.0/16', internal: false, masquerade: true, icc: false, subnet6: 'fd00::/64' }, { bridge: 'br-b', subnet: '172.19.0.0/16', internal: true, masquerade: true }];
  const b = bridgeRuleset(nets);
  assert.match(b, /^add table bridge berth\ndelete table bridge berth\ntable bridge berth \{/);
  assert.match(b, /ip saddr 172\.18\.0\.0\/16 ip daddr 172\.18\.0\.0\/16 drop/);
  assert.match(b, /ip6 saddr fd00::\/64 ip6 daddr fd00::\/64 drop/);
  assert.doesNotMatch(b, /172\.19/, 'icc on: nothing dropped');
  assert.match(b, /ip saddr \. ip daddr \. meta l4proto \. th dport @links accept/);
  assert.equal(linkElements('add', [{ parent: '172.17.0.3', child: '172.17.0.2', proto: 'tcp', port: 80 }]), 'add element bridge berth links { 172.17.0.3 . 172.17.0.2 . tcp . 80 }\n');
  const six = ip6Ruleset(nets);
  assert.match(six, /ip6 saddr fd00::\/64 oifname != "br-a" masquerade/);
  assert.doesNotMatch(six, /br-b" masquerade/, 'no v6 subnet, no v6 rules');
  assert.match(six, /ip6 daddr != ::1 fib daddr type local dnat ip6 to meta l4proto \. th dport map @ports_any/);
});
