// Published ports (issue 4): -p host:container, -p ip:host:container, ranges,
// -P, UDP, docker port, reachability from the harness's host namespace
// (loopback and other addresses) and from other containers via a host
// address, "port is already allocated" leaving nothing behind, and bad input.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectCode, expectMatch, okOut, run, skipUnlessRoot, sleep, useDaemon, waitFor } from '../harness';

const HTTPD = ['sh', '-c', 'mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www'];

describe('networking: published ports (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  const curl = (url: string): { code: number; body: string } => {
    const r = d.nsRun('curl', ['-s', '-m', '3', url]);
    return { code: r.code, body: r.stdout };
  };
  const waitHttp = async (url: string): Promise<string> =>
    waitFor(`${url} to answer`, () => { const r = curl(url); return r.code === 0 ? r.body : ''; }, { timeoutMs: 5000 });
  const snapshot = (): { links: string; nft: string } => ({
    links: d.nsRun('ip', ['-o', 'link']).stdout.split('\n').map((l) => l.split(':')[1]?.trim().replace(/@.*/, '')).filter(Boolean).sort().join(' '),
    nft: d.nsRun('nft', ['list', 'ruleset']).stdout,
  });

  it('-p 8080:80 is reachable on 127.0.0.1 and the host\'s other addresses; -p 127.0.0.1:8001:80 only on loopback', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'web', '--hostname', 'web', '-p', '8080:80', '-p', '127.0.0.1:8001:80', ...['busybox', ...HTTPD]]), 'run web');
    assert.equal((await waitHttp('http://127.0.0.1:8080/')).trim(), 'hello-from-web');
    assert.equal(curl('http://172.17.0.1:8080/').body.trim(), 'hello-from-web', 'via another host address');
    assert.equal(curl('http://127.0.0.1:8001/').body.trim(), 'hello-from-web', 'loopback binding');
    assert.notEqual(curl('http://172.17.0.1:8001/').code, 0, '127.0.0.1 binding is not reachable on other addresses');
    const port = okOut(await d.docker(['port', 'web']), 'docker port');
    assert.deepEqual(port.split('\n').sort(), ['80/tcp -> 0.0.0.0:8080', '80/tcp -> 127.0.0.1:8001']);
    assert.equal(okOut(await d.docker(['port', 'web', '80/tcp']), 'docker port 80').split('\n').sort().join(','), '0.0.0.0:8080,127.0.0.1:8001');
    const ps = okOut(await d.docker(['ps', '--filter', 'name=web', '--format', '{{.Ports}}']), 'ps');
    expectMatch(ps, /0\.0\.0\.0:8080->80\/tcp/, 'ps PORTS');
    expectMatch(ps, /127\.0\.0\.1:8001->80\/tcp/, 'ps PORTS');
    const ports = JSON.parse(okOut(await d.docker(['inspect', '-f', '{{json .NetworkSettings.Ports}}', 'web']), 'inspect')) as Record<string, Array<{ HostIp: string; HostPort: string }>>;
    assert.deepEqual(ports['80/tcp']?.map((p) => `${p.HostIp}:${p.HostPort}`).sort(), ['0.0.0.0:8080', '127.0.0.1:8001']);
  });

  it('other containers reach a published port through a host address (and the container itself, hairpin)', async () => {
    const req = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc 172.17.0.1 8080';
    expectMatch(okOut(await d.docker(['run', '--rm', 'busybox', 'sh', '-c', req]), 'other container'), /hello-from-web/, 'from another container');
    okOut(await d.docker(['network', 'create', 'ports_net']), 'network create');
    expectMatch(okOut(await d.docker(['run', '--rm', '--network', 'ports_net', 'busybox', 'sh', '-c', req]), 'other network'), /hello-from-web/, 'from a container on another network');
    expectMatch(okOut(await d.docker(['exec', 'web', 'sh', '-c', req]), 'hairpin'), /hello-from-web/, 'from the container itself');
  });

  it('-P publishes EXPOSEd ports on free ports that docker port reports; ranges', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'webp', '--hostname', 'webp', '--expose', '80', '--expose', '81', '-P', ...['busybox', ...HTTPD]]), 'run -P');
    const hp = okOut(await d.docker(['port', 'webp', '80']), 'docker port');
    const m = /^0\.0\.0\.0:(\d+)$/.exec(hp);
    assert.ok(m, hp);
    assert.notEqual(m[1], '80');
    assert.equal((await waitHttp(`http://127.0.0.1:${m[1]}/`)).trim(), 'hello-from-webp');
    const p81 = okOut(await d.docker(['port', 'webp', '81']), 'port 81');
    assert.notEqual(p81, hp, 'each exposed port gets its own host port');
    // a container port range onto a host port range, and a single port onto a range
    okOut(await d.docker(['run', '-d', '--name', 'ranges', '-p', '9100-9101:80-81', '-p', '9200-9210:80', 'busybox', 'sleep', '300']), 'ranges');
    const rp = okOut(await d.docker(['port', 'ranges']), 'port ranges').split('\n').sort();
    assert.deepEqual(rp, ['80/tcp -> 0.0.0.0:9100', '80/tcp -> 0.0.0.0:9200', '81/tcp -> 0.0.0.0:9101']);
    okOut(await d.docker(['run', '-d', '--name', 'ranges2', '-p', '9200-9210:80', 'busybox', 'sleep', '300']), 'ranges2');
    assert.equal(okOut(await d.docker(['port', 'ranges2', '80']), 'port'), '0.0.0.0:9201', 'the next free port of the range');
    okOut(await d.docker(['rm', '-f', 'ranges', 'ranges2']), 'rm');
  });

  it('a published UDP port works', async () => {
    const id = okOut(await d.docker(['run', '-d', '--name', 'udp', '-p', '5353:5353/udp', 'busybox', 'sleep', '300']), 'run');
    const pid = okOut(await d.docker(['inspect', '-f', '{{.State.Pid}}', id]), 'pid');
    // busybox has no UDP server: an echo server runs in the container's network namespace
    const server = run('nsenter', [`--net=/proc/${pid}/ns/net`, process.execPath, '-e', `
      const s = require('dgram').createSocket('udp4');
      s.on('message', (m, r) => s.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address, () => process.exit(0)));
      s.bind(5353, '0.0.0.0', () => console.log('ready'));
      setTimeout(() => process.exit(3), 15000);`], { timeoutMs: 20_000 });
    await sleep(300);
    const client = d.nsRun(process.execPath, ['-e', `
      const s = require('dgram').createSocket('udp4');
      s.on('message', (m) => { console.log(m.toString()); process.exit(0); });
      const send = () => s.send('ping-udp', 5353, '127.0.0.1');
      send(); setInterval(send, 300);
      setTimeout(() => process.exit(2), 8000);`]);
    expectCode(client, 0, 'UDP client');
    assert.equal(client.stdout.trim(), 'echo:ping-udp');
    assert.equal((await server).code, 0);
    assert.equal(okOut(await d.docker(['port', id]), 'port'), '5353/udp -> 0.0.0.0:5353');
  });

  it('a port already in use fails the start with Docker\'s error and leaves nothing behind', async () => {
    const before = snapshot();
    const r = await d.docker(['run', '-d', '--name', 'clash', '-p', '8080:80', 'busybox', 'sleep', '300']);
    expectCode(r, 125, 'run on a taken port');
    expectMatch(r.stderr, /driver failed programming external connectivity on endpoint clash \([0-9a-f]{64}\): Bind for 0\.0\.0\.0:8080 failed: port is already allocated/, 'error');
    const r2 = await d.docker(['run', '--rm', '-p', '127.0.0.1:8080:80', '-p', '9300:80', 'busybox', 'true']);
    expectCode(r2, 125, 'a specific address collides with 0.0.0.0');
    expectMatch(r2.stderr, /Bind for 127\.0\.0\.1:8080 failed: port is already allocated/, 'error');
    await sleep(200);
    const after = snapshot();
    assert.equal(after.links, before.links, 'no interface left');
    assert.equal(after.nft, before.nft, 'no NAT rule left');
    // 9300 was bound before the failure: it was given back
    okOut(await d.docker(['run', '-d', '--name', 'p9300', '-p', '9300:80', 'busybox', 'sleep', '300']), 'the released port is free again');
    okOut(await d.docker(['rm', '-f', 'clash', 'p9300']), 'rm');
  });

  it('a port held by another program fails the start too', async () => {
    const holder = run('nsenter', [`--net=${d.sandbox.netNs}`, process.execPath, '-e', `require('net').createServer().listen(9400, '0.0.0.0'); setTimeout(() => process.exit(0), 8000);`], { timeoutMs: 10_000 });
    await sleep(400);
    const before = snapshot();
    const r = await d.docker(['run', '--rm', '-p', '9400:80', 'busybox', 'true']);
    expectCode(r, 125, 'run');
    expectMatch(r.stderr, /driver failed programming external connectivity on endpoint .*: Error starting userland proxy: listen tcp4 0\.0\.0\.0:9400: bind: address already in use/, 'error');
    assert.equal(snapshot().nft, before.nft, 'no NAT rule left');
    await holder;
  });

  it('malformed port specifications are clear errors, nothing created', async () => {
    const before = okOut(await d.docker(['ps', '-aq']), 'ps');
    const r = await d.docker(['run', '--rm', '-p', '80a:80', 'busybox', 'true']);
    expectCode(r, 125, 'CLI-side');
    expectMatch(r.stderr, /invalid hostPort: 80a/, 'CLI error');
    // the daemon checks what API clients send
    const api = await d.api<{ message: string }>('POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 'x1' }] } } });
    assert.equal(api.status, 400);
    assert.equal(api.json.message, 'invalid port specification: "x1"');
    const api2 = await d.api<{ message: string }>('POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['true'], ExposedPorts: { '8o/tcp': {} } });
    assert.equal(api2.status, 400);
    const api3 = await d.api<{ message: string }>('POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '1.2.3', HostPort: '80' }] } } });
    assert.equal(api3.status, 400);
    assert.equal(okOut(await d.docker(['ps', '-aq']), 'ps'), before, 'nothing was created');
  });

  it('stopping a container withdraws its ports; starting it again publishes them again', async () => {
    okOut(await d.docker(['stop', '-t', '1', 'web']), 'stop');
    assert.notEqual(curl('http://127.0.0.1:8080/').code, 0, 'port closed');
    assert.equal(okOut(await d.docker(['port', 'web']), 'port of a stopped container'), '');
    okOut(await d.docker(['start', 'web']), 'start');
    assert.equal((await waitHttp('http://127.0.0.1:8080/')).trim(), 'hello-from-web');
  });
});
