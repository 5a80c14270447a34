// Bridge network driver options as Docker documents them, through the real
// docker CLI: enable_icc=false (containers cannot reach each other, but do
// reach the outside), enable_ip_masquerade=false, bridge.name, driver.mtu,
// --internal, bad option values; and the daemon's --icc=false for the
// default bridge, where legacy links still open the linked ports.
// "Outside" is a --network none container given a veth into the daemon's
// namespace (198.51.100.0/24) and no route back to the container subnets:
// only masqueraded traffic gets an answer from it.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Daemon, expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon } from '../harness';

/** busybox wget -T dies of SIGSEGV, so timeout(1) bounds it; any failure will do. */
function expectFail(r: { code: number; stdout: string }, what: string): void {
  assert.notEqual(r.code, 0, `${what}: expected a failure, got:\n${r.stdout}`);
}

const HTTPD = (text: string, port = 80): string[] => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p ${port} -h /www`];

async function makeOutside(d: Daemon, name: string, veth: string, net: number): Promise<string> {
  okOut(await d.docker(['run', '-d', '--name', name, '--network', 'none', 'busybox', ...HTTPD('outside')]), 'outside');
  const pid = okOut(await d.docker(['inspect', '-f', '{{.State.Pid}}', name]), 'pid');
  const must = (cmd: string, args: string[]): void => { const r = d.nsRun(cmd, args); assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`); };
  must('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', pid]);
  must('ip', ['addr', 'add', `198.51.${net}.1/24`, 'dev', veth]);
  must('ip', ['link', 'set', veth, 'up']);
  must('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', 'addr', 'add', `198.51.${net}.2/24`, 'dev', 'eth1']);
  must('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', 'link', 'set', 'eth1', 'up']);
  return `198.51.${net}.2`;
}

describe('networking: bridge driver options (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  let outside = '';
  const fetchFrom = (net: string, url: string, extra: string[] = []): ReturnType<Daemon['docker']> =>
    d.docker(['run', '--rm', '--network', net, ...extra, 'busybox', 'timeout', '3', 'wget', '-q', '-O', '-', url]);

  it('enable_icc=false: containers on the network cannot reach each other, but reach the gateway and the outside', async () => {
    outside = `http://${await makeOutside(d, 'outside', 'vout', 100)}/`;
    okOut(await d.docker(['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=false', 'noicc']), 'create');
    okOut(await d.docker(['run', '-d', '--name', 'i1', '--network', 'noicc', 'busybox', ...HTTPD('i1')]), 'i1');
    okOut(await d.docker(['run', '-d', '--name', 'i2', '--network', 'noicc', 'busybox', 'sleep', '300']), 'i2');
    const ip1 = okOut(await d.docker(['inspect', '-f', '{{.NetworkSettings.Networks.noicc.IPAddress}}', 'i1']), 'ip');
    const gw = okOut(await d.docker(['inspect', '-f', '{{.NetworkSettings.Networks.noicc.Gateway}}', 'i1']), 'gw');
    expectCode(await d.docker(['exec', 'i2', 'ping', '-c1', '-W1', ip1]), 1, 'no ping between containers');
    expectFail(await d.docker(['exec', 'i2', 'timeout', '3', 'wget', '-q', '-O', '-', `http://${ip1}/`]), 'no TCP between containers');
    expectMatch(okOut(await d.docker(['exec', 'i2', 'nslookup', 'i1']), 'names still resolve'), new RegExp(`Address: ${ip1.replace(/\./g, '\\.')}`), 'DNS');
    expectCode(await d.docker(['exec', 'i2', 'ping', '-c1', '-W2', gw]), 0, 'the gateway answers');
    expectMatch(okOut(await d.docker(['exec', 'i2', 'timeout', '3', 'wget', '-q', '-O', '-', outside]), 'outside'), /outside/, 'the outside is reachable');
    const opts = JSON.parse(okOut(await d.docker(['network', 'inspect', '-f', '{{json .Options}}', 'noicc']), 'inspect')) as Record<string, string>;
    assert.equal(opts['com.docker.network.bridge.enable_icc'], 'false');
    // a network with icc left on is unaffected
    okOut(await d.docker(['network', 'create', 'withicc']), 'create');
    okOut(await d.docker(['run', '-d', '--name', 'j1', '--network', 'withicc', 'busybox', 'sleep', '300']), 'j1');
    const ipj = okOut(await d.docker(['inspect', '-f', '{{.NetworkSettings.Networks.withicc.IPAddress}}', 'j1']), 'ip');
    expectCode(await d.docker(['run', '--rm', '--network', 'withicc', 'busybox', 'ping', '-c1', '-W2', ipj]), 0, 'icc on');
  });

  it('enable_ip_masquerade=false: traffic leaves with the container\'s own address (the outside cannot answer it)', async () => {
    okOut(await d.docker(['network', 'create', '-o', 'com.docker.network.bridge.enable_ip_masquerade=false', 'nomasq']), 'create');
    expectFail(await fetchFrom('nomasq', outside), 'no masquerading: no answer');
    expectMatch(okOut(await fetchFrom('withicc', outside), 'masqueraded'), /outside/, 'masqueraded network answers');
  });

  it('bridge.name and driver.mtu: the bridge has that name and MTU, so does the container\'s eth0', async () => {
    okOut(await d.docker(['network', 'create', '-o', 'com.docker.network.bridge.name=mybridge0', '-o', 'com.docker.network.driver.mtu=1400', 'named']), 'create');
    const link = d.nsRun('ip', ['-o', 'link', 'show', 'mybridge0']);
    expectCode(link, 0, 'bridge exists');
    expectMatch(link.stdout, /mtu 1400/, 'bridge MTU');
    expectMatch(okOut(await d.docker(['run', '--rm', '--network', 'named', 'busybox', 'ip', '-o', 'link', 'show', 'eth0']), 'eth0'), /mtu 1400/, 'eth0 MTU');
    const same = await d.docker(['network', 'create', '-o', 'com.docker.network.bridge.name=mybridge0', 'named2']);
    expectCode(same, 1, 'same bridge name');
    expectMatch(same.stderr, /networks have same bridge name/, 'Docker\'s wording');
    okOut(await d.docker(['network', 'rm', 'named']), 'rm');
    expectCode(d.nsRun('ip', ['link', 'show', 'mybridge0']), 1, 'bridge removed with the network');
  });

  it('--internal: no way out, no published ports; containers on it still talk', async () => {
    okOut(await d.docker(['network', 'create', '--internal', 'intnet']), 'create');
    expectFail(await fetchFrom('intnet', outside), 'no way out');
    okOut(await d.docker(['run', '-d', '--name', 'int1', '--network', 'intnet', '-p', '8088:80', 'busybox', ...HTTPD('int1')]), 'int1');
    const ip = okOut(await d.docker(['inspect', '-f', '{{.NetworkSettings.Networks.intnet.IPAddress}}', 'int1']), 'ip');
    expectMatch(okOut(await fetchFrom('intnet', `http://${ip}/`), 'same network'), /int1/, 'containers on an internal network reach each other');
    assert.notEqual(d.nsRun('curl', ['-s', '-m', '2', 'http://127.0.0.1:8088/']).code, 0, 'no published port');
    assert.equal(okOut(await d.docker(['port', 'int1']), 'docker port'), '', 'docker port shows nothing');
  });

  it('--aux-address is reserved and shown; several --subnet values, each with its gateway on the bridge; host bits in --subnet are refused', async () => {
    okOut(await d.docker(['network', 'create', '--subnet', '10.5.0.0/24', '--aux-address', 'host1=10.5.0.2', '--aux-address', 'host2=10.5.0.3', 'auxnet']), 'create');
    const cfg = JSON.parse(okOut(await d.docker(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'auxnet']), 'inspect')) as unknown;
    assert.deepEqual(cfg, [{ Subnet: '10.5.0.0/24', Gateway: '10.5.0.1', AuxiliaryAddresses: { host1: '10.5.0.2', host2: '10.5.0.3' } }]);
    expectMatch(okOut(await d.docker(['run', '--rm', '--network', 'auxnet', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), 'auto'), /inet 10\.5\.0\.4\/24/, 'aux addresses are skipped');
    const taken = await d.docker(['run', '--rm', '--network', 'auxnet', '--ip', '10.5.0.2', 'busybox', 'true']);
    expectCode(taken, 125, '--ip of an aux address');
    expectMatch(taken.stderr, /Address already in use/, 'wording');

    // Through the API: the docker CLI gathers --subnet values in a Go map and
    // sends them in any order, and which subnet is first matters below.
    const created = await d.api('POST', '/networks/create', { Name: 'multinet', IPAM: { Config: [{ Subnet: '10.6.0.0/30' }, { Subnet: '10.7.0.0/24', Gateway: '10.7.0.254' }] } });
    assert.equal(created.status, 201, created.text);
    const mcfg = JSON.parse(okOut(await d.docker(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'multinet']), 'inspect')) as unknown;
    assert.deepEqual(mcfg, [{ Subnet: '10.6.0.0/30', Gateway: '10.6.0.1' }, { Subnet: '10.7.0.0/24', Gateway: '10.7.0.254' }]);
    const br = 'br-' + okOut(await d.docker(['network', 'inspect', '-f', '{{.Id}}', 'multinet']), 'id').slice(0, 12);
    const addrs = d.nsRun('ip', ['-o', '-4', 'addr', 'show', 'dev', br]).stdout;
    expectMatch(addrs, /inet 10\.6\.0\.1\/30/, 'first gateway on the bridge');
    expectMatch(addrs, /inet 10\.7\.0\.254\/24/, 'second gateway on the bridge');
    okOut(await d.docker(['run', '-d', '--name', 'm1', '--network', 'multinet', 'busybox', 'sleep', '300']), 'm1');
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.NetworkSettings.Networks.multinet.IPAddress}}', 'm1']), 'ip'), '10.6.0.2', 'the first subnet first');
    const full = okOut(await d.docker(['run', '--rm', '--network', 'multinet', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; ip route; ping -c1 -W2 m1 >/dev/null && echo ping-ok']), 'second subnet');
    expectMatch(full, /inet 10\.7\.0\.\d+\/24/, 'the next subnet once the first is full');
    expectMatch(full, /^default via 10\.7\.0\.254 dev eth0/m, 'its own subnet\'s gateway');
    expectMatch(full, /^ping-ok$/m, 'containers of both subnets reach each other');
    expectMatch(okOut(await d.docker(['run', '--rm', '--network', 'multinet', '--ip', '10.7.0.77', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), '--ip'), /inet 10\.7\.0\.77\/24/, '--ip in the second subnet');

    const hostBits = await d.docker(['network', 'create', '--subnet', '10.11.0.1/24', 'hostbits']);
    expectCode(hostBits, 1, 'host bits');
    expectMatch(hostBits.stderr, /invalid subnet 10\.11\.0\.1\/24: it should be 10\.11\.0\.0\/24/, 'Docker\'s wording');
    const overlap = await d.docker(['network', 'create', '--subnet', '10.7.0.0/16', 'overlaps']);
    expectCode(overlap, 1, 'overlap');
    expectMatch(overlap.stderr, /invalid pool request: Pool overlaps with other one on this address space/, 'Docker\'s wording');
  });

  it('bad option values fail with Docker\'s wording', async () => {
    const icc = await d.docker(['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=maybe', 'bad1']);
    expectCode(icc, 1, 'bad bool');
    expectMatch(icc.stderr, /failed to parse com\.docker\.network\.bridge\.enable_icc value: maybe/, 'bool');
    const mtu = await d.docker(['network', 'create', '-o', 'com.docker.network.driver.mtu=big', 'bad2']);
    expectCode(mtu, 1, 'bad mtu');
    expectMatch(mtu.stderr, /failed to parse com\.docker\.network\.driver\.mtu value: big/, 'mtu');
    const neg = await d.docker(['network', 'create', '-o', 'com.docker.network.driver.mtu=-1', 'bad3']);
    expectMatch(neg.stderr, /invalid MTU number: -1/, 'negative mtu');
    assert.doesNotMatch(okOut(await d.docker(['network', 'ls', '--format', '{{.Name}}']), 'ls'), /bad\d/, 'nothing created');
  });
});

describe('networking: berthd --icc=false for the default bridge (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon({ args: ['--icc=false'] });

  it('containers on the default bridge cannot reach each other; a link opens the target\'s exposed ports to the linker only', async () => {
    const opts = JSON.parse(okOut(await d.docker(['network', 'inspect', '-f', '{{json .Options}}', 'bridge']), 'inspect')) as Record<string, string>;
    assert.equal(opts['com.docker.network.bridge.enable_icc'], 'false');
    okOut(await d.docker(['run', '-d', '--name', 'srv', '--expose', '80', 'busybox', ...HTTPD('srv')]), 'srv');
    const ip = okOut(await d.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'srv']), 'ip');
    expectFail(await d.docker(['run', '--rm', 'busybox', 'timeout', '3', 'wget', '-q', '-O', '-', `http://${ip}/`]), 'unlinked: blocked');
    expectMatch(okOut(await d.docker(['run', '--rm', '--link', 'srv:web', 'busybox', 'timeout', '3', 'wget', '-q', '-O', '-', 'http://web/']), 'linked'), /srv/, 'linked: the exposed port answers');
    expectCode(await d.docker(['run', '--rm', '--link', 'srv:web', 'busybox', 'ping', '-c1', '-W1', 'web']), 1, 'linked: only the exposed ports');
    expectCode(await d.docker(['run', '--rm', 'busybox', 'ping', '-c1', '-W2', '172.17.0.1']), 0, 'the gateway answers');
  });
});
