// The pflag-compatible flag parser and the run/create option translation.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FlagError, parseArgs, type FlagDef } from '../../src/cli/flags';
import { buildCreateConfig, CONTAINER_FLAGS, normalizeCaps, OptsError, parseGoDurationNs, parseMount, parsePortSpecs, parseRestartPolicy, RUN_FLAGS, splitVolume } from '../../src/cli/run-opts';
import { detachKeysToBytes, EscapeProxy } from '../../src/cli/streams';

const defs: FlagDef[] = [
  { name: 'all', short: 'a', type: 'bool' },
  { name: 'quiet', short: 'q', type: 'bool' },
  { name: 'last', short: 'n', type: 'int', default: -1 },
  { name: 'format', type: 'string' },
  { name: 'filter', short: 'f', type: 'list' },
  { name: 'time', type: 'int', deprecated: 'use --timeout instead' },
];

describe('flag parser', () => {
  it('long and short forms, values inline or separate', () => {
    const { flags, args } = parseArgs(['-a', '--format', '{{.ID}}', '-n', '3', '--filter=a=b', '-fname=x', 'pos'], defs);
    assert.equal(flags.bool('all'), true);
    assert.equal(flags.bool('quiet'), false);
    assert.equal(flags.string('format'), '{{.ID}}');
    assert.equal(flags.int('last'), 3);
    assert.deepEqual(flags.list('filter'), ['a=b', 'name=x']);
    assert.deepEqual(args, ['pos']);
  });

  it('grouped booleans, -n5, -n=5, --bool=false', () => {
    let p = parseArgs(['-aq', '-n5'], defs);
    assert.equal(p.flags.bool('all') && p.flags.bool('quiet'), true);
    assert.equal(p.flags.int('last'), 5);
    p = parseArgs(['-qn', '7'], defs);
    assert.equal(p.flags.int('last'), 7);
    p = parseArgs(['-n=9', '--all=false', '--quiet=1'], defs);
    assert.equal(p.flags.int('last'), 9);
    assert.equal(p.flags.bool('all'), false);
    assert.equal(p.flags.bool('quiet'), true);
  });

  it('defaults and isSet', () => {
    const p = parseArgs([], defs);
    assert.equal(p.flags.int('last'), -1);
    assert.equal(p.flags.isSet('last'), false);
    assert.deepEqual(p.flags.list('filter'), []);
  });

  it('-- ends flags; a lone - is an argument; interspersed by default', () => {
    assert.deepEqual(parseArgs(['x', '-a', '--', '-q'], defs).args, ['x', '-q']);
    assert.deepEqual(parseArgs(['-', '-a'], defs).args, ['-']);
  });

  it('non-interspersed stops at the first argument (run IMAGE CMD...)', () => {
    const p = parseArgs(['-a', 'busybox', 'ls', '-a', '--format', 'x'], defs, { interspersed: false });
    assert.equal(p.flags.bool('all'), true);
    assert.equal(p.flags.isSet('format'), false);
    assert.deepEqual(p.args, ['busybox', 'ls', '-a', '--format', 'x']);
  });

  it('errors match pflag', () => {
    const msg = (argv: string[]): string => {
      try {
        parseArgs(argv, defs);
      } catch (e) {
        assert.ok(e instanceof FlagError);
        return e.message;
      }
      return '';
    };
    assert.equal(msg(['--nope']), 'unknown flag: --nope');
    assert.equal(msg(['-x']), "unknown shorthand flag: 'x' in -x");
    assert.equal(msg(['-ax']), "unknown shorthand flag: 'x' in -ax");
    assert.equal(msg(['--format']), 'flag needs an argument: --format');
    assert.equal(msg(['-n']), "flag needs an argument: 'n' in -n");
    assert.equal(msg(['-n', 'abc']), 'invalid argument "abc" for "-n, --last" flag: strconv.ParseInt: parsing "abc": invalid syntax');
    assert.equal(msg(['--all=maybe']), 'invalid argument "maybe" for "-a, --all" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  });

  it('help and deprecation', () => {
    assert.equal(parseArgs(['--help'], defs).flags.help, true);
    assert.equal(parseArgs(['-h'], defs).flags.help, true);
    const p = parseArgs(['--time', '3'], defs);
    assert.deepEqual(p.flags.warnings, ['Flag --time has been deprecated, use --timeout instead']);
  });
});

function createBody(argv: string[], env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
  const { flags, args } = parseArgs(argv, [...RUN_FLAGS, ...CONTAINER_FLAGS], { interspersed: false });
  return buildCreateConfig(flags, args, [0, 0], env).body;
}

describe('run/create options -> create body', () => {
  it('defaults like `docker run --rm busybox echo hi`', () => {
    const b = createBody(['--rm', 'busybox', 'echo', 'hi']);
    // key order and values recorded from the docker CLI 28 against a fake daemon
    assert.deepEqual(Object.keys(b), ['Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'OpenStdin', 'StdinOnce', 'Env', 'Cmd', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'OnBuild', 'Labels', 'HostConfig', 'NetworkingConfig']);
    assert.equal(JSON.stringify(b), '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["echo","hi"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}');
  });

  it('-it sets Tty/OpenStdin/StdinOnce/AttachStdin', () => {
    const b = createBody(['-it', 'busybox', 'sh']);
    assert.equal(b.Tty, true);
    assert.equal(b.OpenStdin, true);
    assert.equal(b.StdinOnce, true);
    assert.equal(b.AttachStdin, true);
  });

  it('many flags map onto Config/HostConfig like docker', () => {
    const b = createBody([
      '-d', '--name', 'n1', '-h', 'myhost', '-u', '1000:1000', '-w', '/tmp', '--entrypoint', '/bin/sh', '-e', 'A=1', '--env', 'B', '-e', 'C',
      '-l', 'k=v', '--network', 'mynet', '--network-alias', 'al', '-p', '127.0.0.1:8080:80/udp', '-p', '90', '--expose', '7000-7001',
      '-v', '/data', '-v', 'vol:/v:ro', '--mount', 'type=bind,src=/tmp,dst=/m,readonly', '--restart', 'on-failure:3', '--init',
      '--privileged', '--cap-add', 'net_admin', '--cap-drop', 'ALL', '--stop-signal', 'SIGINT', '--stop-timeout', '5', '--log-driver', 'json-file',
      '--log-opt', 'max-size=1m', '--memory', '512m', '--memory-swap', '1g', '--cpus', '1.5', '--pids-limit', '100',
      '--ulimit', 'nofile=1024:2048', '--tmpfs', '/run:rw,size=1m', '--health-cmd', 'true', '--health-interval', '5s', '--device', '/dev/null:/dev/xnull',
      'busybox', '-c', 'echo hi',
    ], { C: 'from-env' });
    const h = b.HostConfig as Record<string, unknown>;
    assert.equal(b.Hostname, 'myhost');
    assert.deepEqual(b.Env, ['A=1', 'B', 'C=from-env']);
    assert.deepEqual(b.Entrypoint, ['/bin/sh']);
    assert.deepEqual(b.Cmd, ['-c', 'echo hi']);
    assert.deepEqual(b.ExposedPorts, { '7000/tcp': {}, '7001/tcp': {}, '80/udp': {}, '90/tcp': {} });
    assert.deepEqual(b.Volumes, { '/data': {} });
    assert.deepEqual(b.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9 });
    assert.equal(b.StopSignal, 'SIGINT');
    assert.equal(b.StopTimeout, 5);
    assert.deepEqual(h.Binds, ['vol:/v:ro']);
    assert.equal(h.NetworkMode, 'mynet');
    assert.deepEqual(h.PortBindings, { '80/udp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '90/tcp': [{ HostIp: '', HostPort: '' }] });
    assert.deepEqual(h.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
    assert.deepEqual(h.CapAdd, ['CAP_NET_ADMIN']);
    assert.deepEqual(h.CapDrop, ['ALL']);
    assert.equal(h.Memory, 512 * 1024 * 1024);
    assert.equal(h.MemorySwap, 1024 ** 3);
    assert.equal(h.NanoCpus, 1.5e9);
    assert.equal(h.PidsLimit, 100);
    assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Hard: 2048, Soft: 1024 }]);
    assert.deepEqual(h.Tmpfs, { '/run': 'rw,size=1m' });
    assert.deepEqual(h.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m' } });
    assert.deepEqual(h.Devices, [{ PathOnHost: '/dev/null', PathInContainer: '/dev/xnull', CgroupPermissions: 'rwm' }]);
    assert.deepEqual(h.Mounts, [{ Type: 'bind', Source: '/tmp', Target: '/m', ReadOnly: true }]);
    assert.equal(h.Init, true);
    const eps = (b.NetworkingConfig as { EndpointsConfig: Record<string, { Aliases: string[] }> }).EndpointsConfig;
    assert.deepEqual(Object.keys(eps), ['mynet']);
    assert.deepEqual(eps.mynet!.Aliases, ['al']);
  });

  it('--network NAME alone sends no endpoint settings', () => {
    const b = createBody(['--network', 'host', 'busybox']);
    assert.deepEqual((b.NetworkingConfig as { EndpointsConfig: object }).EndpointsConfig, {});
  });

  it('--env-file and --label-file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cli-'));
    fs.writeFileSync(path.join(dir, 'env'), '# comment\n\nX=1\n  Y=two words\nZ\n');
    fs.writeFileSync(path.join(dir, 'labels'), 'a=b\nc\n');
    const b = createBody(['--env-file', path.join(dir, 'env'), '-e', 'W=0', '--label-file', path.join(dir, 'labels'), 'busybox'], { Z: 'zz' });
    assert.deepEqual(b.Env, ['X=1', 'Y=two words', 'Z=zz', 'W=0']);
    assert.deepEqual(b.Labels, { a: 'b', c: '' });
    fs.rmSync(dir, { recursive: true });
  });

  it('conflicts and invalid values', () => {
    assert.throws(() => createBody(['--rm', '--restart', 'always', 'busybox']), (e: Error) => e instanceof OptsError && e.message === 'conflicting options: cannot specify both --restart and --rm');
    assert.throws(() => createBody(['-a', 'nope', 'busybox']), /valid streams are STDIN, STDOUT and STDERR/);
    assert.throws(() => createBody(['--restart', 'on-failure:x', 'busybox']), /maximum retry count must be an integer/);
    assert.throws(() => createBody(['--pull', 'sometimes', 'busybox']), /invalid pull option: 'sometimes'/);
    assert.throws(() => createBody(['--memory', '12q', 'busybox']), /invalid suffix/);
  });

  it('helpers', () => {
    assert.deepEqual(parseRestartPolicy('always'), { Name: 'always', MaximumRetryCount: 0 });
    assert.deepEqual(normalizeCaps(['sys_admin', 'CAP_CHOWN', 'all']), ['CAP_SYS_ADMIN', 'CAP_CHOWN', 'ALL']);
    assert.equal(parseGoDurationNs('1m30s'), 90e9);
    assert.equal(parseGoDurationNs('250ms'), 250e6);
    assert.throws(() => parseGoDurationNs('5x'));
    assert.deepEqual(splitVolume('/data'), { source: '', target: '/data', mode: '' });
    assert.deepEqual(splitVolume('/data:ro'), { source: '', target: '/data', mode: 'ro' });
    assert.deepEqual(splitVolume('v:/data:ro'), { source: 'v', target: '/data', mode: 'ro' });
    const ps = parsePortSpecs(['8000-8001:80-81', '[::1]:53:53/udp', '127.0.0.1::9000']);
    assert.deepEqual([...ps.bindings.entries()], [
      ['80/tcp', [{ HostIp: '', HostPort: '8000' }]],
      ['81/tcp', [{ HostIp: '', HostPort: '8001' }]],
      ['53/udp', [{ HostIp: '::1', HostPort: '53' }]],
      ['9000/tcp', [{ HostIp: '127.0.0.1', HostPort: '' }]],
    ]);
    assert.deepEqual(parseMount('type=volume,source=v,target=/x,volume-opt=a=b,volume-nocopy'), {
      Type: 'volume', Source: 'v', Target: '/x', VolumeOptions: { NoCopy: true, DriverConfig: { Options: { a: 'b' } } },
    });
    assert.deepEqual(parseMount('type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770'), { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1770 } });
    assert.throws(() => parseMount('type=bind,src=/x'), /target is required/);
  });
});

describe('detach keys', () => {
  it('parses key specs like term.ToBytes', () => {
    assert.deepEqual(detachKeysToBytes('ctrl-p,ctrl-q'), [16, 17]);
    assert.deepEqual(detachKeysToBytes('ctrl-a,x,ctrl-@,ctrl-['), [1, 120, 0, 27]);
    assert.throws(() => detachKeysToBytes('ctrl-foo'));
  });

  it('EscapeProxy holds back a partial sequence and detaches on the full one', () => {
    const p = new EscapeProxy([16, 17]);
    assert.deepEqual(p.feed(Buffer.from('a')), Buffer.from('a'));
    assert.deepEqual(p.feed(Buffer.from([16])), Buffer.alloc(0));
    assert.equal(p.feed(Buffer.from([17])), 'detach');
    // a broken sequence is forwarded as typed
    assert.deepEqual(p.feed(Buffer.from([16])), Buffer.alloc(0));
    assert.deepEqual(p.feed(Buffer.from('x')), Buffer.from([16, 120]));
    // multi-byte reads (pastes) never match, like moby/term
    assert.deepEqual(p.feed(Buffer.from([16, 17])), Buffer.from([16, 17]));
  });
});
