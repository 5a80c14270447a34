// `docker run` reference, flag by flag (part 1: security, devices,
// namespaces): what the docker CLI sends, what inspect shows, the effect in
// the container and Docker's error texts.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon } from '../harness';

const V2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
const LOOP0 = fs.existsSync('/dev/loop0');

describe('docker run reference: security, devices, namespaces', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  const inspect = async (fmt: string, name: string): Promise<string> => okOut(await d.docker(['inspect', '-f', fmt, name]), `inspect ${fmt}`);
  const fails = async (args: string[], code: number, re: RegExp): Promise<void> => {
    const r = await d.docker(args);
    expectCode(r, code, args.join(' '));
    expectMatch(r.stderr, re, args.join(' '));
  };

  it('--cap-add/--cap-drop: ALL, CAP_ prefix, lower case; unknown names are refused', async () => {
    const eff = async (...flags: string[]): Promise<bigint> => {
      const out = okOut(await d.docker(['run', '--rm', ...flags, 'busybox', 'grep', 'CapEff', '/proc/self/status']), flags.join(' '));
      return BigInt('0x' + out.split(/\s+/)[1]);
    };
    assert.equal(await eff('--cap-drop', 'ALL', '--cap-add', 'CAP_NET_RAW'), 1n << 13n);
    assert.equal(await eff('--cap-drop', 'all', '--cap-add', 'net_raw', '--cap-add', 'Chown'), (1n << 13n) | 1n);
    const all = await eff('--cap-add', 'all', '--cap-drop', 'chown');
    assert.equal(all & 1n, 0n, 'chown dropped from ALL');
    assert.ok((all & (1n << 21n)) !== 0n, 'ALL includes SYS_ADMIN');
    const def = await eff('--cap-drop', 'NET_RAW');
    assert.equal(def, 0xa80425fbn & ~(1n << 13n), 'default set minus NET_RAW');
    await fails(['run', '--rm', '--cap-add', 'foo', 'busybox', 'true'], 125, /invalid CapAdd: unknown capability: "CAP_FOO"/);
    await fails(['run', '--rm', '--cap-drop', 'CAP_NOPE', 'busybox', 'true'], 125, /invalid CapDrop: unknown capability: "CAP_NOPE"/);
    // a capability the engine itself lacks is refused as Docker 28 does (this machine's bounding set has no SYS_RESOURCE)
    const bnd = BigInt('0x' + (/^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 'ffffffffff'));
    if ((bnd & (1n << 24n)) === 0n) {
      await fails(['run', '--rm', '--cap-add', 'SYS_RESOURCE', 'busybox', 'true'], 125,
        /invalid CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"/);
    }
    okOut(await d.docker(['create', '--name', 'caps', '--cap-add', 'net_admin', '--cap-drop', 'mknod', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}}', 'caps'), '["CAP_NET_ADMIN"] ["CAP_MKNOD"]', 'the CLI normalises the names');
    await d.docker(['rm', 'caps']);
  });

  it('--device with a path mapping and r permission; a missing device is refused', { skip: !LOOP0 && 'no /dev/loop0' }, async () => {
    const out = okOut(await d.docker(['run', '--rm', '--device', '/dev/loop0:/dev/xd:r', 'busybox', 'sh', '-c',
      'ls -l /dev/xd | cut -c1; stat -c "%t:%T" /dev/xd; head -c1 /dev/xd >/dev/null; echo read=$?; (echo x > /dev/xd) 2>/dev/null; echo write=$?']), 'run --device');
    assert.deepEqual(out.split('\n'), ['b', '7:0', 'read=0', 'write=1']);
    // without :r the same device is writable (an unbound loop device answers ENXIO, not EPERM)
    const rw = await d.docker(['run', '--rm', '--device', '/dev/loop0:/dev/xd', 'busybox', 'sh', '-c', 'echo x > /dev/xd']);
    assert.doesNotMatch(rw.stderr, /Operation not permitted/);
    okOut(await d.docker(['create', '--name', 'dev', '--device', '/dev/loop0:/dev/xd:r', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{json .HostConfig.Devices}}', 'dev'), '[{"PathOnHost":"/dev/loop0","PathInContainer":"/dev/xd","CgroupPermissions":"r"}]');
    await d.docker(['rm', 'dev']);
    // a default container cannot reach the device even after mknod
    const denied = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'mknod /dev/l b 7 0 && head -c1 /dev/l']);
    expectMatch(denied.stderr, /Operation not permitted/, 'default device cgroup');
    await fails(['run', '--rm', '--device', '/dev/nonexistent-dev', 'busybox', 'true'], 127,
      /error gathering device information while adding custom device "\/dev\/nonexistent-dev": no such file or directory/);
  });

  it('--device-cgroup-rule allows a device by major number; a bad rule is refused (CLI and API)', { skip: !LOOP0 && 'no /dev/loop0' }, async () => {
    okOut(await d.docker(['run', '--rm', '--device-cgroup-rule', 'b 7:* rmw', 'busybox', 'sh', '-c', 'mknod /dev/l b 7 0 && head -c1 /dev/l']), 'rule');
    okOut(await d.docker(['run', '-d', '--name', 'dcr', '--device-cgroup-rule', 'c 42:* rmw', 'busybox', 'sleep', '30']), 'run');
    const id = await inspect('{{.Id}}', 'dcr');
    if (!V2) expectMatch(fs.readFileSync(`/sys/fs/cgroup/devices/berth/${id}/devices.list`, 'utf8'), /^c 42:\* rwm$/m, 'devices.list');
    assert.equal(await inspect('{{json .HostConfig.DeviceCgroupRules}}', 'dcr'), '["c 42:* rmw"]');
    await d.docker(['rm', '-f', 'dcr']);
    const r = await d.api<{ message: string }>('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { DeviceCgroupRules: ['x 1:2 rwm'] } });
    assert.equal(r.status, 400);
    assert.equal(r.json.message, "invalid device cgroup rule format: 'x 1:2 rwm'");
  });

  it('--privileged sees the host devices and may use them', { skip: !LOOP0 && 'no /dev/loop0' }, async () => {
    const out = okOut(await d.docker(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'stat -c "%t:%T" /dev/loop0; head -c1 /dev/loop0 >/dev/null; echo $?']), 'privileged');
    assert.deepEqual(out.split('\n'), ['7:0', '0']);
    okOut(await d.docker(['create', '--name', 'priv', '--privileged', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{json .HostConfig.SecurityOpt}} {{json .HostConfig.MaskedPaths}} {{json .HostConfig.ReadonlyPaths}}', 'priv'), '["label=disable"] null null');
    await d.docker(['rm', 'priv']);
  });

  it('--sysctl: namespaced ones are set, others refused, net.* refused with --network host', async () => {
    assert.equal(okOut(await d.docker(['run', '--rm', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=1000000', 'busybox', 'sh', '-c',
      'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax']), 'sysctl'), '1\n1000000');
    await fails(['run', '--rm', '--sysctl', 'vm.swappiness=1', 'busybox', 'true'], 125, /sysctl 'vm.swappiness=1' is not allowed/);
    await fails(['run', '--rm', '--network', 'host', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'true'], 125, /sysctl "net.ipv4.ip_forward" not allowed in host network namespace/);
  });

  it('--read-only: the root and /tmp are read-only, /dev/shm stays writable, --tmpfs /tmp is writable', async () => {
    const out = okOut(await d.docker(['run', '--rm', '--read-only', 'busybox', 'sh', '-c',
      'touch /x 2>/dev/null; echo root=$?; touch /tmp/x 2>/dev/null; echo tmp=$?; touch /dev/shm/x; echo shm=$?']), 'read-only');
    assert.equal(out, 'root=1\ntmp=1\nshm=0');
    assert.equal(okOut(await d.docker(['run', '--rm', '--read-only', '--tmpfs', '/tmp', 'busybox', 'sh', '-c', 'touch /tmp/x && echo ok']), 'tmpfs'), 'ok');
    okOut(await d.docker(['create', '--name', 'ro', '--read-only', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{.HostConfig.ReadonlyRootfs}}', 'ro'), 'true');
    await d.docker(['rm', 'ro']);
  });

  it('--security-opt: no-new-privileges, seccomp=unconfined, seccomp=<file>, apparmor/label accepted, unknown refused', async () => {
    const status = async (...flags: string[]): Promise<string> =>
      okOut(await d.docker(['run', '--rm', ...flags, 'busybox', 'sh', '-c', 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\\t\\n" "  "']), flags.join(' '));
    expectMatch(await status(), /NoNewPrivs: 0 Seccomp: 2/, 'default');
    expectMatch(await status('--security-opt', 'no-new-privileges'), /NoNewPrivs: 1/, 'nnp');
    expectMatch(await status('--security-opt', 'no-new-privileges=true'), /NoNewPrivs: 1/, 'nnp=true');
    expectMatch(await status('--security-opt', 'no-new-privileges=false'), /NoNewPrivs: 0/, 'nnp=false');
    expectMatch(await status('--security-opt', 'seccomp=unconfined'), /Seccomp: 0/, 'unconfined');
    expectMatch(await status('--security-opt', 'apparmor=unconfined', '--security-opt', 'label=disable'), /Seccomp: 2/, 'apparmor/label');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-seccomp-'));
    try {
      const file = path.join(dir, 'profile.json');
      fs.writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
      const r = await d.docker(['run', '--rm', '--security-opt', `seccomp=${file}`, 'busybox', 'sh', '-c', 'mkdir /x; echo rc=$?']);
      assert.equal(r.stdout.trim(), 'rc=1');
      expectMatch(r.stderr, /Operation not permitted/, 'mkdir refused by the profile');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expectMatch(await status('--security-opt', 'seccomp=builtin'), /Seccomp: 2/, 'builtin profile');
    // a path is not read on the daemon's side: the value must be the profile itself
    const c = await d.api<{ Id: string }>('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { SecurityOpt: ['seccomp=/etc/passwd'] } });
    assert.equal(c.status, 201);
    const st = await d.api<{ message: string }>('POST', `/containers/${c.json.Id}/start`);
    assert.equal(st.status, 400);
    expectMatch(st.json.message, /^Decoding seccomp profile failed: /, 'path as profile');
    await d.api('DELETE', `/containers/${c.json.Id}`);
    // systempaths=unconfined: the CLI sends empty MaskedPaths/ReadonlyPaths
    expectMatch(okOut(await d.docker(['run', '--rm', '--security-opt', 'systempaths=unconfined', 'busybox', 'sh', '-c', 'head -c 10 /proc/timer_list | wc -c; grep " /proc/sys " /proc/self/mounts | wc -l']), 'systempaths'), /^10\n0$/, 'nothing masked or read-only');
    expectMatch(okOut(await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'head -c 10 /proc/timer_list | wc -c']), 'default masks'), /^0$/, '/proc/timer_list masked');
    await fails(['run', '--rm', '--security-opt', 'foo=bar', 'busybox', 'true'], 125, /invalid --security-opt 2: "foo=bar"/);
    await fails(['run', '--rm', '--security-opt', 'no-new-privileges=maybe', 'busybox', 'true'], 125, /invalid --security-opt 2: "no-new-privileges=maybe"/);
  });

  it('--pid=host and --pid=container:<name> (stored as container:<id>); a missing container is a 400, not a pull', async () => {
    const host = Number(okOut(await d.docker(['run', '--rm', '--pid', 'host', 'busybox', 'sh', '-c', 'ls /proc | grep -c "^[0-9]"']), 'pid host'));
    assert.ok(host > 5, `host pids: ${host}`);
    okOut(await d.docker(['run', '-d', '--name', 'pidsrc', 'busybox', 'sleep', '60']), 'run');
    const ps = okOut(await d.docker(['run', '--rm', '--pid', 'container:pidsrc', 'busybox', 'ps', '-o', 'pid,comm']), 'pid container');
    expectMatch(ps, /^\s*1 sleep$/m, "sees the donor's PID 1");
    const id = await inspect('{{.Id}}', 'pidsrc');
    okOut(await d.docker(['create', '--name', 'pidj', '--pid', 'container:pidsrc', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{.HostConfig.PidMode}}', 'pidj'), `container:${id}`);
    await fails(['run', '--rm', '--pid', 'container:nonexistent', 'busybox', 'true'], 125, /Error response from daemon: No such container: nonexistent/);
    const r = await d.docker(['run', '--rm', '--pid', 'container:nonexistent', 'busybox', 'true']);
    assert.doesNotMatch(r.stderr, /Unable to find image/);
    const bad = await d.api<{ message: string }>('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { PidMode: 'bogus' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.message, 'invalid PID mode: bogus');
    await d.docker(['rm', '-f', 'pidsrc', 'pidj']);
  });

  it('--ipc: private by default, shareable + container: share /dev/shm, non-shareable donors refused, none has no /dev/shm', async () => {
    okOut(await d.docker(['create', '--name', 'ipcdef', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{.HostConfig.IpcMode}}', 'ipcdef'), 'private');
    okOut(await d.docker(['run', '-d', '--name', 'ipcsrc', '--ipc', 'shareable', 'busybox', 'sh', '-c', 'echo shared > /dev/shm/f; sleep 60']), 'run');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(okOut(await d.docker(['run', '--rm', '--ipc', 'container:ipcsrc', 'busybox', 'cat', '/dev/shm/f']), 'ipc container'), 'shared');
    const same = okOut(await d.docker(['run', '--rm', '--ipc', 'container:ipcsrc', 'busybox', 'readlink', '/proc/self/ns/ipc']), 'ns');
    assert.equal(same, okOut(await d.docker(['exec', 'ipcsrc', 'readlink', '/proc/self/ns/ipc']), 'donor ns'));
    okOut(await d.docker(['run', '-d', '--name', 'ipcpriv', 'busybox', 'sleep', '60']), 'run');
    await fails(['run', '--rm', '--ipc', 'container:ipcpriv', 'busybox', 'true'], 125, /non-shareable IPC \(hint: use IpcMode:shareable for the donor container\)/);
    assert.equal(okOut(await d.docker(['run', '--rm', '--ipc', 'none', 'busybox', 'sh', '-c', 'test -e /dev/shm && echo yes || echo no']), 'none'), 'no');
    const hostNs = fs.readlinkSync('/proc/self/ns/ipc');
    assert.equal(okOut(await d.docker(['run', '--rm', '--ipc', 'host', 'busybox', 'readlink', '/proc/self/ns/ipc']), 'host'), hostNs);
    await fails(['run', '--rm', '--ipc', 'bogus', 'busybox', 'true'], 125, /invalid IPC mode: bogus/);
    await d.docker(['rm', '-f', 'ipcdef', 'ipcsrc', 'ipcpriv']);
  });

  it('--hostname conflicts with --uts host and --network container:, as do --dns, --add-host, -p there', async () => {
    await fails(['run', '--rm', '--uts', 'host', '--hostname', 'x', 'busybox', 'true'], 125, /conflicting options: hostname and the UTS mode/);
    okOut(await d.docker(['run', '-d', '--name', 'netsrc', '--hostname', 'web', 'busybox', 'sleep', '60']), 'run');
    // joining its network takes its hostname and /etc/hostname, as Docker
    assert.equal(okOut(await d.docker(['run', '--rm', '--network', 'container:netsrc', 'busybox', 'sh', '-c', 'hostname; cat /etc/hostname; echo $HOSTNAME']), 'joined'), 'web\nweb\nweb');
    // --network host: the host's name unless -h is given
    okOut(await d.docker(['create', '--name', 'hostnet', '--network', 'host', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{.Config.Hostname}}', 'hostnet'), os.hostname());
    assert.equal(okOut(await d.docker(['run', '--rm', '--network', 'host', 'busybox', 'hostname']), 'host net'), os.hostname());
    assert.equal(okOut(await d.docker(['run', '--rm', '--network', 'host', '-h', 'custom', 'busybox', 'sh', '-c', 'hostname; echo $HOSTNAME']), 'host net -h'), 'custom\ncustom');
    await d.docker(['rm', 'hostnet']);
    await fails(['run', '--rm', '--network', 'container:netsrc', '--hostname', 'x', 'busybox', 'true'], 125, /conflicting options: hostname and the network mode/);
    await fails(['run', '--rm', '--network', 'container:netsrc', '--dns', '1.1.1.1', 'busybox', 'true'], 125, /conflicting options: dns and the network mode/);
    await fails(['run', '--rm', '--network', 'container:netsrc', '--add-host', 'a:1.2.3.4', 'busybox', 'true'], 125, /conflicting options: custom host-to-IP mapping and the network mode/);
    await fails(['run', '--rm', '--network', 'container:netsrc', '-p', '8080:80', 'busybox', 'true'], 125, /conflicting options: port publishing and the container type network mode/);
    await fails(['run', '--rm', '--network', 'container:nonexistent', 'busybox', 'true'], 125, /No such container: nonexistent/);
    await d.docker(['rm', '-f', 'netsrc']);
  });

  it('--uts=host, --hostname/--domainname, --cgroupns (default as Docker on this cgroup version)', async () => {
    assert.equal(okOut(await d.docker(['run', '--rm', '--uts', 'host', 'busybox', 'hostname']), 'uts host'), os.hostname());
    const out = okOut(await d.docker(['run', '--rm', '--hostname', 'web', '--domainname', 'example.com', 'busybox', 'sh', '-c',
      'hostname; cat /etc/hostname; cat /proc/sys/kernel/domainname; grep -c "web.example.com web" /etc/hosts']), 'hostname');
    assert.deepEqual(out.split('\n'), ['web', 'web', 'example.com', '1']);
    okOut(await d.docker(['create', '--name', 'cgns', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{.HostConfig.CgroupnsMode}}', 'cgns'), V2 ? 'private' : 'host');
    await d.docker(['rm', 'cgns']);
    const priv = okOut(await d.docker(['run', '--rm', '--cgroupns', 'private', 'busybox', 'cat', '/proc/self/cgroup']), 'cgroupns private');
    for (const l of priv.split('\n')) assert.match(l, /:\/$/, `private cgroup ns shows / : ${l}`);
    const hostns = okOut(await d.docker(['run', '--rm', '--cgroupns', 'host', 'busybox', 'cat', '/proc/self/cgroup']), 'cgroupns host');
    expectMatch(hostns, /\/berth\/[0-9a-f]{64}$/m, 'host cgroup ns shows the full path');
  });

  it('--cgroup-parent places the container under that cgroup; stats still read it', async () => {
    const parent = `/berth/parent-${process.pid}`;
    okOut(await d.docker(['run', '-d', '--name', 'cgp', '--cgroup-parent', parent, 'busybox', 'sleep', '30']), 'run');
    const id = await inspect('{{.Id}}', 'cgp');
    assert.equal(await inspect('{{.HostConfig.CgroupParent}}', 'cgp'), parent);
    expectMatch(fs.readFileSync(`/proc/${await inspect('{{.State.Pid}}', 'cgp')}/cgroup`, 'utf8'), new RegExp(`:${parent}/${id}$`, 'm'), 'cgroup path');
    expectMatch(okOut(await d.docker(['stats', '--no-stream', '--format', '{{.PIDs}}', 'cgp']), 'stats'), /^1$/, 'stats pids');
    await d.docker(['rm', '-f', 'cgp']);
    // the parent is ours to clean up (runc removes only the container's own cgroup)
    for (const root of V2 ? ['/sys/fs/cgroup'] : fs.readdirSync('/sys/fs/cgroup').map((c) => `/sys/fs/cgroup/${c}`)) {
      try { fs.rmdirSync(root + parent); } catch { /* not created for this controller */ }
    }
  });

  it('--userns=host, --isolation default are accepted; --isolation process, --runtime foo and --gpus get Docker\'s errors', async () => {
    okOut(await d.docker(['create', '--name', 'misc', '--userns', 'host', '--isolation', 'default', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{.HostConfig.UsernsMode}} {{.HostConfig.Isolation}} {{.HostConfig.Runtime}}', 'misc'), 'host default runc');
    await d.docker(['rm', 'misc']);
    await fails(['run', '--rm', '--isolation', 'process', 'busybox', 'true'], 125, /invalid isolation \(process\): linux only supports 'default'/);
    await fails(['run', '--rm', '--runtime', 'foo', 'busybox', 'true'], 125, /unknown or invalid runtime name: foo/);
    await fails(['run', '--rm', '--gpus', 'all', 'busybox', 'true'], 125, /could not select device driver "" with capabilities: \[\[gpu\]\]/);
  });
});
