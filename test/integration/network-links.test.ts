// Legacy links (--link name[:alias]) through the real docker CLI, as Docker
// documents them: on the default bridge the linking container gets /etc/hosts
// entries and the link environment variables; links to missing or stopped
// containers fail; inspect shows /target:/me/alias; on a user-defined
// network a link is only an alias the linking container resolves.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon, waitFor } from '../harness';

describe('networking: legacy links (docker CLI)', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('--link db:dbalias: hosts entry (alias, hostname, name), environment variables, ping by alias', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'db', '--expose', '5432', '--expose', '8000-8001/tcp', '--expose', '53/udp', '-e', 'PASSWORD=s3cr=t', '-e', 'EMPTY=', 'busybox', 'sleep', '300']), 'run db');
    const ip = okOut(await d.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'db']), 'db ip');
    const id = okOut(await d.docker(['inspect', '-f', '{{.Id}}', 'db']), 'db id');
    const out = okOut(await d.docker(['run', '--rm', '--name', 'web', '--link', 'db:dbalias', '-e', 'DBALIAS_NAME=overridden', 'busybox', 'sh', '-c', 'env | sort; echo ---; cat /etc/hosts; ping -c1 -W2 dbalias >/dev/null && echo ping-ok']), 'run --link');
    const env = out.split('---')[0]!;
    const want = [
      `DBALIAS_PORT=tcp://${ip}:5432`,
      `DBALIAS_PORT_5432_TCP=tcp://${ip}:5432`, `DBALIAS_PORT_5432_TCP_ADDR=${ip}`, `DBALIAS_PORT_5432_TCP_PORT=5432`, `DBALIAS_PORT_5432_TCP_PROTO=tcp`,
      `DBALIAS_PORT_8000_TCP=tcp://${ip}:8000`, `DBALIAS_PORT_8001_TCP_ADDR=${ip}`,
      `DBALIAS_PORT_8000_TCP_START=tcp://${ip}:8000`, `DBALIAS_PORT_8000_TCP_PORT_START=8000`, `DBALIAS_PORT_8000_TCP_END=tcp://${ip}:8001`, `DBALIAS_PORT_8000_TCP_PORT_END=8001`,
      `DBALIAS_PORT_53_UDP=udp://${ip}:53`, `DBALIAS_PORT_53_UDP_PROTO=udp`,
      'DBALIAS_ENV_PASSWORD=s3cr=t', 'DBALIAS_ENV_EMPTY=',
      // Config.Env wins over a link variable of the same name
      'DBALIAS_NAME=overridden',
    ];
    for (const w of want) expectMatch(env, new RegExp(`^${esc(w)}$`, 'm'), w);
    assert.doesNotMatch(env, /^DBALIAS_ENV_(PATH|HOME)=/m, 'PATH and HOME of the target are left out');
    expectMatch(out, new RegExp(`^${esc(ip)}\\tdbalias ${id.slice(0, 12)} db$`, 'm'), 'hosts: alias, hostname (short ID), name');
    expectMatch(out, /^ping-ok$/m, 'the alias reaches the target');
  });

  it('--link db (no alias): DB_NAME=/me/db and a hosts line without a repeated name; exec sees the variables too', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'app', '--link', 'db', 'busybox', 'sleep', '300']), 'run app');
    const ip = okOut(await d.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'db']), 'db ip');
    const id = okOut(await d.docker(['inspect', '-f', '{{.Id}}', 'db']), 'db id');
    const out = okOut(await d.docker(['exec', 'app', 'sh', '-c', 'env; cat /etc/hosts']), 'exec');
    expectMatch(out, /^DB_NAME=\/app\/db$/m, 'DB_NAME');
    expectMatch(out, new RegExp(`^DB_PORT=tcp://${esc(ip)}:5432$`, 'm'), 'DB_PORT');
    expectMatch(out, new RegExp(`^${esc(ip)}\\tdb ${id.slice(0, 12)}$`, 'm'), 'hosts');
    const links = JSON.parse(okOut(await d.docker(['inspect', '-f', '{{json .HostConfig.Links}}', 'app']), 'inspect')) as string[];
    assert.deepEqual(links, ['/db:/app/db']);
  });

  it('inspect shows HostConfig.Links as /target:/me/alias; the target restarted with a new address updates the hosts file', async () => {
    okOut(await d.docker(['create', '--name', 'linker', '--link', 'db:foo', '--link', 'app', 'busybox', 'sleep', '300']), 'create');
    const links = JSON.parse(okOut(await d.docker(['inspect', '-f', '{{json .HostConfig.Links}}', 'linker']), 'inspect')) as string[];
    assert.deepEqual(links, ['/db:/linker/foo', '/app:/linker/app']);
    okOut(await d.docker(['start', 'linker']), 'start linker');
    // a new container takes db's address while db is stopped, so db comes back elsewhere
    okOut(await d.docker(['stop', '-t', '0', 'db']), 'stop db');
    okOut(await d.docker(['run', '-d', '--name', 'filler', 'busybox', 'sleep', '300']), 'filler');
    okOut(await d.docker(['start', 'db']), 'start db');
    const ip = okOut(await d.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'db']), 'db ip');
    await waitFor('linker\'s hosts to follow db', async () => new RegExp(`^${esc(ip)}\\tfoo `, 'm').test((await d.docker(['exec', 'linker', 'cat', '/etc/hosts'])).stdout), { timeoutMs: 5000 });
    for (const c of ['linker', 'filler']) await d.docker(['rm', '-f', c]);
  });

  it('a link to a missing container fails at create; to a stopped one at start; with --network host or container: it is refused', async () => {
    const missing = await d.docker(['run', '--rm', '--link', 'nosuch:x', 'busybox', 'true']);
    expectCode(missing, 125, 'missing target');
    expectMatch(missing.stderr, /could not get container for nosuch/, 'Docker\'s wording');
    assert.doesNotMatch(missing.stderr, /Unable to find image|pull/i, 'not mistaken for a missing image');
    okOut(await d.docker(['create', '--name', 'stopped', 'busybox', 'true']), 'create stopped');
    const stopped = await d.docker(['run', '--name', 'tostopped', '--link', 'stopped:s', 'busybox', 'true']);
    expectCode(stopped, 125, 'stopped target');
    expectMatch(stopped.stderr, /Cannot link to a non running container: \/stopped AS \/tostopped\/s/, 'Docker\'s wording');
    const host = await d.docker(['run', '--rm', '--network', 'host', '--link', 'db', 'busybox', 'true']);
    expectCode(host, 125, 'host mode');
    expectMatch(host.stderr, /conflicting options: host type networking can't be used with links/, 'host');
    const shared = await d.docker(['run', '--rm', '--network', 'container:db', '--link', 'app', 'busybox', 'true']);
    expectCode(shared, 125, 'container mode');
    expectMatch(shared.stderr, /conflicting options: container type network can't be used with links/, 'container');
    const onUser = await d.docker(['network', 'create', 'linknet']);
    expectCode(onUser, 0, 'network create');
    okOut(await d.docker(['run', '-d', '--name', 'elsewhere', '--network', 'linknet', 'busybox', 'sleep', '300']), 'elsewhere');
    const notDefault = await d.docker(['run', '--rm', '--link', 'elsewhere', 'busybox', 'true']);
    expectCode(notDefault, 125, 'target off the default bridge');
    expectMatch(notDefault.stderr, /Cannot link to \/elsewhere, as it does not belong to the default network/, 'Docker\'s wording');
  });

  it('on a user-defined network --link only adds an alias the linking container resolves', async () => {
    const ip = okOut(await d.docker(['inspect', '-f', '{{(index .NetworkSettings.Networks "linknet").IPAddress}}', 'elsewhere']), 'ip');
    const out = okOut(await d.docker(['run', '--rm', '--network', 'linknet', '--link', 'elsewhere:peer', 'busybox', 'sh', '-c', 'nslookup -type=a peer; env; cat /etc/hosts']), 'run');
    expectMatch(out, new RegExp(`^Address: ${esc(ip)}$`, 'm'), 'the alias resolves to the target');
    assert.doesNotMatch(out, /^PEER_/m, 'no link variables on user-defined networks');
    assert.doesNotMatch(out.slice(out.indexOf('127.0.0.1\tlocalhost')), /\tpeer/, 'no hosts entry on user-defined networks');
    const other = await d.docker(['run', '--rm', '--network', 'linknet', 'busybox', 'nslookup', '-type=a', 'peer']);
    expectCode(other, 1, 'another container does not resolve the alias');
    okOut(await d.docker(['create', '--name', 'ulinker', '--network', 'linknet', '--link', 'elsewhere:peer', 'busybox', 'true']), 'create');
    const ins = JSON.parse(okOut(await d.docker(['inspect', '-f', '{{json .NetworkSettings.Networks.linknet.Links}}', 'ulinker']), 'inspect')) as string[];
    assert.deepEqual(ins, ['elsewhere:peer']);
  });
});
