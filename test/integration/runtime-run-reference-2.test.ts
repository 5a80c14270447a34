// `docker run` reference, flag by flag (part 2: process, environment,
// lifecycle, logging, attach, exit codes, inspect shape).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DOCKER_BIN, expectCode, expectMatch, okOut, run, runSync, skipUnlessRoot, sleep, startBackground, TmuxSession, useDaemon, waitFor } from '../harness';

const HAVE_DOCKER_PY = runSync('python3', ['-c', 'import docker'], { timeoutMs: 10000 }).code === 0;

describe('docker run reference: process, lifecycle, logging, attach, inspect', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  const inspect = async (fmt: string, name: string): Promise<string> => okOut(await d.docker(['inspect', '-f', fmt, name]), `inspect ${fmt}`);
  const fails = async (args: string[], code: number, re: RegExp): Promise<void> => {
    const r = await d.docker(args);
    expectCode(r, code, args.join(' '));
    expectMatch(r.stderr, re, args.join(' '));
  };
  const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'berth-runref-'));

  it('a default container inspects like Docker: HostConfig defaults, Mounts [], no State.Health, GraphDriver, Platform', async () => {
    okOut(await d.docker(['create', '--name', 'shape', 'busybox', 'sleep', '1']), 'create');
    const j = JSON.parse(okOut(await d.docker(['inspect', 'shape']), 'inspect'))[0] as Record<string, Record<string, unknown>>;
    const hc = j['HostConfig']!;
    assert.deepEqual(hc['LogConfig'], { Type: 'json-file', Config: {} });
    assert.deepEqual(hc['RestartPolicy'], { Name: 'no', MaximumRetryCount: 0 });
    assert.equal(hc['NetworkMode'], 'default');
    assert.equal(hc['IpcMode'], 'private');
    assert.equal(hc['ShmSize'], 67108864);
    assert.equal(hc['Runtime'], 'runc');
    assert.equal(hc['OomKillDisable'], false);
    assert.ok(['host', 'private'].includes(String(hc['CgroupnsMode'])));
    assert.ok(Array.isArray(hc['MaskedPaths']) && (hc['MaskedPaths'] as string[]).includes('/proc/kcore'), 'MaskedPaths filled');
    assert.deepEqual(hc['ReadonlyPaths'], ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
    assert.equal(hc['SecurityOpt'], null);
    assert.ok(!('Init' in hc), 'Init is omitted unless set (omitempty)');
    assert.deepEqual(j['Mounts'], []);
    assert.ok(!('Health' in j['State']!), 'no State.Health without a health check');
    assert.equal(j['State']!['Status'], 'created');
    assert.equal(j['Driver'] as unknown, 'overlay2');
    assert.equal(j['Platform'] as unknown, 'linux');
    const gd = j['GraphDriver'] as unknown as { Name: string; Data: Record<string, string> };
    assert.equal(gd.Name, 'overlay2');
    for (const k of ['LowerDir', 'MergedDir', 'UpperDir', 'WorkDir']) assert.equal(typeof gd.Data[k], 'string', `GraphDriver.Data.${k}`);
    assert.ok(fs.existsSync(gd.Data['LowerDir']!.split(':')[0]!), 'LowerDir names layer directories');
    assert.equal(j['ExecIDs'] as unknown, null);
    for (const k of ['ResolvConfPath', 'HostnamePath', 'HostsPath', 'LogPath']) assert.equal(j[k] as unknown, '', `${k} is filled at the first start`);
    assert.equal(j['Config']!['Entrypoint'], null);
    assert.deepEqual(j['Config']!['Cmd'], ['sleep', '1']);
    assert.ok(j['NetworkSettings'] && typeof j['NetworkSettings'] === 'object');
    okOut(await d.docker(['start', 'shape']), 'start');
    const after = JSON.parse(okOut(await d.docker(['inspect', 'shape']), 'inspect'))[0] as Record<string, string>;
    for (const k of ['ResolvConfPath', 'HostnamePath', 'HostsPath', 'LogPath']) assert.match(after[k]!, /^\//, `${k} after start`);
    await d.docker(['rm', '-f', 'shape']);
  });

  it('a container made with a sparse HostConfig (docker-py, raw API) inspects with every HostConfig field', async () => {
    const c = await d.api<{ Id: string; Warnings: string[] }>('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(c.status, 201);
    assert.deepEqual(c.json.Warnings, []);
    const j = (await d.api<{ HostConfig: Record<string, unknown> }>('GET', `/containers/${c.json.Id}/json`)).json;
    const hc = j.HostConfig;
    const want: Record<string, unknown> = {
      Binds: null, NetworkMode: 'default', PortBindings: {}, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, AutoRemove: false, VolumesFrom: null,
      CapAdd: null, CapDrop: null, IpcMode: 'private', PidMode: '', UTSMode: '', UsernsMode: '', Privileged: false, ReadonlyRootfs: false, ShmSize: 67108864,
      Memory: 0, MemorySwap: 0, NanoCpus: 0, CpuShares: 0, CgroupParent: '', PidsLimit: null, MemorySwappiness: null, OomKillDisable: false,
      Devices: null, DeviceCgroupRules: null, Ulimits: null, LogConfig: { Type: 'json-file', Config: {} }, Runtime: 'runc', Isolation: '',
      Dns: null, DnsOptions: null, DnsSearch: null,
    };
    assert.ok(!('Tmpfs' in hc), 'Tmpfs is omitted when empty');
    for (const [k, v] of Object.entries(want)) assert.deepEqual(hc[k], v, `HostConfig.${k}`);
    await d.api('DELETE', `/containers/${c.json.Id}`);
  });

  it('--entrypoint "" clears the image ENTRYPOINT; an image with only CMD and one with ENTRYPOINT+CMD', async () => {
    okOut(await d.docker(['run', '--name', 'epbase', 'busybox', 'true']), 'base');
    okOut(await d.docker(['commit', '-c', 'ENTRYPOINT ["echo","ep"]', '-c', 'CMD ["dflt"]', 'epbase', 'epimg']), 'commit ep');
    okOut(await d.docker(['commit', '-c', 'CMD ["echo","cmd-only"]', '-c', 'ENV IMGVAR=img OVER=img', 'epbase', 'cmdimg']), 'commit cmd');
    assert.equal(okOut(await d.docker(['run', '--rm', 'epimg']), 'ep default'), 'ep dflt');
    assert.equal(okOut(await d.docker(['run', '--rm', 'epimg', 'x', 'y']), 'ep args'), 'ep x y');
    assert.equal(okOut(await d.docker(['run', '--rm', '--entrypoint', '', 'epimg', 'echo', 'cleared']), 'ep cleared'), 'cleared');
    assert.equal(okOut(await d.docker(['run', '--rm', '--entrypoint', 'printf', 'epimg', '%s-', 'a']), 'ep replaced'), 'a-');
    assert.equal(okOut(await d.docker(['run', '--rm', 'cmdimg']), 'cmd only'), 'cmd-only');
    assert.equal(okOut(await d.docker(['run', '--rm', 'cmdimg', 'echo', 'other']), 'cmd replaced'), 'other');
    // Config.Env: the container's entries first, then the image's it does not name (Docker's merge)
    okOut(await d.docker(['create', '--name', 'envorder', '-e', 'U=1', '-e', 'OVER=mine', 'cmdimg']), 'create');
    const env = JSON.parse(await inspect('{{json .Config.Env}}', 'envorder')) as string[];
    const own = env.filter((e) => !e.startsWith('PATH='));
    assert.deepEqual(own.slice(0, 2).sort(), ['OVER=mine', 'U=1']); // (the CLI's own order of -e values varies)
    assert.deepEqual(own.slice(2), ['IMGVAR=img']);
    await d.docker(['rm', 'envorder']);
    okOut(await d.docker(['create', '--name', 'epc', '--entrypoint', '', 'epimg', 'echo', 'x']), 'create');
    assert.equal(await inspect('{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Path}}', 'epc'), 'null ["echo","x"] echo');
    await d.docker(['rm', 'epbase', 'epc']);
    await d.docker(['rmi', 'epimg', 'cmdimg']);
  });

  it('-w creates the directory; -u uid:gid, names, --group-add; unknown users and groups are refused', async () => {
    assert.equal(okOut(await d.docker(['run', '--rm', '-w', '/new/work/dir', 'busybox', 'pwd']), 'workdir'), '/new/work/dir');
    await fails(['run', '--rm', '-w', 'relative', 'busybox', 'true'], 125, /the working directory 'relative' is invalid, it needs to be an absolute path/);
    expectMatch(okOut(await d.docker(['run', '--rm', '-u', '1000:1000', '--group-add', '10', 'busybox', 'id']), 'uid:gid'), /^uid=1000(\(\w+\))? gid=1000(\(\w+\))? groups=10(\(\w+\))?$/, 'uid:gid');
    assert.equal(okOut(await d.docker(['run', '--rm', '-u', '4321:4322', 'busybox', 'sh', '-c', 'id -u; id -g']), 'numeric'), '4321\n4322');
    expectMatch(okOut(await d.docker(['run', '--rm', '-u', 'nobody', 'busybox', 'id', '-u']), 'name'), /^65534$/, 'nobody');
    await fails(['run', '--rm', '-u', 'nosuchuser', 'busybox', 'true'], 125, /unable to find user nosuchuser: no matching entries in passwd file/);
    await fails(['run', '--rm', '--group-add', 'nosuchgroup', 'busybox', 'true'], 125, /Unable to find group nosuchgroup: no matching entries in group file/);
  });

  it('-e VAR passes the client value, an unset one is dropped; --env-file and --label-file', async () => {
    const dir = tmp();
    try {
      fs.writeFileSync(path.join(dir, 'env'), 'A=1\n# comment\nFROMCLIENT\n');
      fs.writeFileSync(path.join(dir, 'labels'), 'l1=v1\nl2\n');
      const env: NodeJS.ProcessEnv = { ...d.env, FROMCLIENT: 'client-value', PASSME: 'passed' };
      delete env['NOTSET'];
      const out = okOut(await d.docker(['run', '--name', 'envc', '--env-file', path.join(dir, 'env'), '--label-file', path.join(dir, 'labels'),
        '-e', 'PASSME', '-e', 'NOTSET', 'busybox', 'sh', '-c', 'echo "$A $FROMCLIENT $PASSME"; env | grep -c NOTSET; true'], { env }), 'run');
      assert.deepEqual(out.split('\n'), ['1 client-value passed', '0']);
      // the CLI drops a label-file line without "=" (it looks it up in its environment), as Docker's does
      assert.equal(await inspect('{{json .Config.Labels}}', 'envc'), '{"l1":"v1"}');
      const cfgEnv = JSON.parse(await inspect('{{json .Config.Env}}', 'envc')) as string[];
      // as sent: a name without value stays in Config.Env (it only unsets in the process)
      assert.deepEqual(cfgEnv.filter((e) => !e.startsWith('PATH=')).sort(), ['A=1', 'FROMCLIENT=client-value', 'NOTSET', 'PASSME=passed']);
      await d.docker(['rm', 'envc']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--add-host with host-gateway; --stop-signal/--stop-timeout; --oom-score-adj; --ulimit; --shm-size; --init', async () => {
    const hosts = okOut(await d.docker(['run', '--rm', '--add-host', 'gw:host-gateway', '--add-host', 'a.example:10.1.2.3', 'busybox', 'cat', '/etc/hosts']), 'add-host');
    expectMatch(hosts, /^\d+\.\d+\.\d+\.\d+\s+gw$/m, 'host-gateway resolved to an address');
    expectMatch(hosts, /^10\.1\.2\.3\s+a\.example$/m, 'extra host');
    okOut(await d.docker(['create', '--name', 'sig', '--stop-signal', 'SIGUSR1', '--stop-timeout', '3', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{.Config.StopSignal}} {{.Config.StopTimeout}}', 'sig'), 'SIGUSR1 3');
    await d.docker(['rm', 'sig']);
    await fails(['run', '--rm', '--stop-signal', 'bogus', 'busybox', 'true'], 125, /Invalid signal: bogus/);
    assert.equal(okOut(await d.docker(['run', '--rm', '--oom-score-adj', '500', 'busybox', 'cat', '/proc/self/oom_score_adj']), 'oom'), '500');
    await fails(['run', '--rm', '--oom-score-adj', '1001', 'busybox', 'true'], 125, /Invalid value 1001, range for oom score adj is \[-1000, 1000\]/);
    assert.equal(okOut(await d.docker(['run', '--rm', '--ulimit', 'nofile=512:1024', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn']), 'ulimit'), '512\n1024');
    expectMatch(okOut(await d.docker(['run', '--rm', '--shm-size', '8m', 'busybox', 'df', '-k', '/dev/shm']), 'shm'), /\s8192\s/, 'shm size');
    expectMatch(okOut(await d.docker(['run', '--rm', '--init', 'busybox', 'cat', '/proc/1/cmdline']), 'init'), /docker-init/, 'init is PID 1');
  });

  it('docker stop uses --stop-signal and --stop-timeout', async () => {
    okOut(await d.docker(['run', '-d', '--name', 'ssig', '--stop-signal', 'USR1', 'busybox', 'sh', '-c', 'trap "exit 3" USR1; while :; do sleep 0.1; done']), 'run');
    await sleep(300);
    okOut(await d.docker(['stop', 'ssig']), 'stop');
    assert.equal(await inspect('{{.State.ExitCode}}', 'ssig'), '3');
    okOut(await d.docker(['run', '-d', '--name', 'stmo', '--stop-timeout', '1', 'busybox', 'sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done']), 'run');
    await sleep(300);
    const t0 = Date.now();
    okOut(await d.docker(['stop', 'stmo']), 'stop');
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 5000, `stop waited the 1 s stop timeout (${took} ms)`);
    assert.equal(await inspect('{{.State.ExitCode}}', 'stmo'), '137');
    await d.docker(['rm', 'ssig', 'stmo']);
  });

  it('--cidfile is written and an existing one is an error; -d --rm is removed after exit', async () => {
    const dir = tmp();
    try {
      const cid = path.join(dir, 'cid');
      okOut(await d.docker(['run', '--rm', '--cidfile', cid, 'busybox', 'true']), 'cidfile');
      expectMatch(fs.readFileSync(cid, 'utf8'), /^[0-9a-f]{64}$/, 'cidfile content');
      await fails(['run', '--rm', '--cidfile', cid, 'busybox', 'true'], 125, /container ID file found, make sure the other container isn't running or delete/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    okOut(await d.docker(['run', '-d', '--rm', '--name', 'rmd', 'busybox', 'sleep', '0.2']), 'run -d --rm');
    await waitFor('removed', async () => (await d.docker(['inspect', 'rmd'])).code !== 0, { timeoutMs: 5000 });
  });

  it('--restart: on-failure:N stored, bad names and counts get Docker\'s errors (CLI and API), --rm conflicts', async () => {
    okOut(await d.docker(['create', '--name', 'rp', '--restart', 'on-failure:2', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'rp'), 'on-failure 2');
    await d.docker(['rm', 'rp']);
    await fails(['run', '--restart', 'bogus', 'busybox', 'true'], 125,
      /invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'/);
    await fails(['run', '--restart', 'always:3', 'busybox', 'true'], 125, /invalid restart policy: maximum retry count can only be used with 'on-failure'/);
    await fails(['run', '--restart', 'on-failure:x', 'busybox', 'true'], 125, /maximum retry count must be an integer/);
    await fails(['run', '--rm', '--restart', 'always', 'busybox', 'true'], 125, /conflicting options: cannot specify both --restart and --rm|can't create 'AutoRemove' container with restart policy/i);
    const r = await d.api<{ message: string }>('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -1 } } });
    assert.equal(r.status, 400);
    assert.equal(r.json.message, 'invalid restart policy: maximum retry count cannot be negative');
    const auto = await d.api<{ message: string }>('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } });
    assert.equal(auto.status, 400);
    assert.equal(auto.json.message, "can't create 'AutoRemove' container with restart policy");
  });

  it('--log-driver: none (logs refused with Docker\'s error), local and json-file with --log-opt', async () => {
    okOut(await d.docker(['run', '--name', 'lnone', '--log-driver', 'none', 'busybox', 'echo', 'hi']), 'none');
    const r = await d.docker(['logs', 'lnone']);
    expectCode(r, 1, 'logs none');
    assert.equal(r.stderr.trim(), 'Error response from daemon: configured logging driver does not support reading');
    okOut(await d.docker(['run', '--name', 'llocal', '--log-driver', 'local', 'busybox', 'echo', 'hi-local']), 'local');
    assert.equal(okOut(await d.docker(['logs', 'llocal']), 'logs local'), 'hi-local');
    okOut(await d.docker(['create', '--name', 'lopt', '--log-opt', 'max-size=1m', '--log-opt', 'max-file=2', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{json .HostConfig.LogConfig}}', 'lopt'), '{"Type":"json-file","Config":{"max-file":"2","max-size":"1m"}}');
    await fails(['run', '--rm', '--log-driver', 'nosuch', 'busybox', 'true'], 125, /logger: no log driver named 'nosuch' is registered/);
    await d.docker(['rm', 'lnone', 'llocal', 'lopt']);
  });

  it('--pull=never with a missing image fails with Docker\'s error; --platform of the host is accepted, another refused', async () => {
    await fails(['run', '--rm', '--pull', 'never', 'nosuchimage:1', 'true'], 125, /No such image: nosuchimage:1/);
    const r = await d.docker(['run', '--rm', '--pull', 'never', 'nosuchimage:1', 'true']);
    assert.doesNotMatch(r.stderr, /Unable to find image/, 'no pull attempt');
    okOut(await d.docker(['run', '--rm', '--pull', 'missing', '--platform', `linux/${process.arch === 'arm64' ? 'arm64' : 'amd64'}`, 'busybox', 'true']), 'platform');
    const other = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';
    await fails(['run', '--rm', '--pull', 'never', '--platform', other, 'busybox', 'true'], 125,
      new RegExp(`image with reference busybox was found but its platform \\(linux/\\w+\\) does not match the specified platform \\(${other}\\)`));
    await fails(['run', '--rm', '--platform', 'linux/bogus', 'busybox', 'true'], 125, /"linux\/bogus": unknown operating system or architecture/);
  });

  it('--health-* stored with --no-healthcheck clearing; bad durations refused through the API', async () => {
    okOut(await d.docker(['create', '--name', 'hcfg', '--health-cmd', 'true', '--health-interval', '2s', '--health-retries', '4', '--health-start-period', '1s', 'busybox', 'sleep', '9']), 'create');
    assert.equal(await inspect('{{json .Config.Healthcheck}}', 'hcfg'), '{"Test":["CMD-SHELL","true"],"Interval":2000000000,"StartPeriod":1000000000,"Retries":4}');
    okOut(await d.docker(['create', '--name', 'hnone', '--no-healthcheck', 'busybox', 'true']), 'create');
    assert.equal(await inspect('{{json .Config.Healthcheck.Test}} {{json .State.Health}}', 'hnone'), '["NONE"] null');
    const r = await d.api<{ message: string }>('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], Healthcheck: { Test: ['CMD', 'true'], Interval: 1000 } });
    assert.equal(r.status, 400);
    assert.equal(r.json.message, 'Interval in Healthcheck cannot be less than 1ms');
    const neg = await d.api<{ message: string }>('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], Healthcheck: { Test: ['CMD', 'true'], Retries: -1 } });
    assert.equal(neg.json.message, 'Retries in Healthcheck cannot be negative');
    await d.docker(['rm', 'hcfg', 'hnone']);
  });

  it('-a stdout / -a stderr deliver only those streams; -a stdin with -i feeds the container', async () => {
    const both = 'echo out; echo err >&2';
    const o = await d.docker(['run', '--rm', '-a', 'stdout', 'busybox', 'sh', '-c', both]);
    expectCode(o, 0, '-a stdout');
    assert.equal(o.stdout, 'out\n');
    assert.doesNotMatch(o.stderr, /err|panic/);
    const e = await d.docker(['run', '--rm', '-a', 'stderr', 'busybox', 'sh', '-c', both]);
    expectCode(e, 0, '-a stderr');
    assert.equal(e.stdout, '');
    assert.equal(e.stderr, 'err\n');
    const i = await d.docker(['run', '-i', '-a', 'stdin', '-a', 'stdout', '--rm', 'busybox', 'cat'], { input: 'fed\n' });
    expectCode(i, 0, '-a stdin');
    assert.equal(i.stdout, 'fed\n');
  });

  it('--sig-proxy (default true) forwards a signal sent to the CLI; --sig-proxy=false does not', async () => {
    const script = 'trap "echo got-usr1; exit 7" USR1; echo ready; i=0; while [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; echo finished';
    for (const [flags, code, text] of [[[], 7, 'got-usr1'], [['--sig-proxy=false'], 0, 'finished']] as const) {
      const bg = startBackground(DOCKER_BIN, ['run', '--rm', ...flags, 'busybox', 'sh', '-c', script], { env: d.env });
      await waitFor('ready', () => bg.stdout().includes('ready'), { timeoutMs: 5000 });
      process.kill(bg.pid!, 'SIGUSR1');
      assert.equal(await bg.exited, code, `${flags.join(' ')}: ${bg.stderr()}`);
      expectMatch(bg.stdout(), new RegExp(text), flags.join(' ') || 'default');
    }
  });

  it('the berth CLI: -a stderr, --device and a create-time error as the docker CLI', async () => {
    const r = await d.berth(['run', '--rm', '-a', 'stderr', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
    expectCode(r, 0, 'berth -a stderr');
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'err\n');
    // flag value errors: the same text, usage and exit code as the docker CLI
    const cases = [
      ['--sysctl', 'vm.swappiness=1'], ['--device-cgroup-rule', 'x 1:2 rwm'], ['--memory', 'x'], ['--device', '/dev/null:rel'], ['--device', '/dev/null:/x:q'],
      ['--device', ''], ['--ulimit', 'nofile=abc'], ['--ulimit', 'foo=1:2'], ['--ulimit', 'nofile=10:5'], ['--ulimit', 'nofile=1:2:3'], ['--add-host', 'bad'],
      ['--add-host', 'a:notanip'], ['--health-interval', 'x'], ['--pid', 'container:'], ['--userns', 'container:x'], ['--uts', 'container:x'],
      ['--platform', 'x'], ['--gpus', 'foo'], ['--env-file', '/nonexistent'], ['-e', '=x'], ['-a', 'bogus'], ['--cap-add', 'foo'], ['--restart', 'bogus'],
    ];
    for (const args of cases) {
      const dk = await d.docker(['run', '--rm', ...args, 'busybox', 'true']);
      const bt = await d.berth(['run', '--rm', ...args, 'busybox', 'true']);
      assert.equal(bt.code, dk.code, args.join(' '));
      assert.equal(bt.stderr.replaceAll('berth', 'X'), dk.stderr.replaceAll('docker', 'X'), args.join(' '));
    }
    const dir = tmp();
    try {
      fs.writeFileSync(path.join(dir, 'env'), 'FROMFILE=yes\n');
      assert.equal(okOut(await d.berth(['run', '--rm', '--env-file', path.join(dir, 'env'), '--add-host', 'h=10.9.8.7', 'busybox', 'sh', '-c', 'echo $FROMFILE; grep -c "^10.9.8.7.h$" /etc/hosts']), 'berth --env-file'), 'yes\n1');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const b = await d.berth(['run', '--rm', '--cap-add', 'foo', 'busybox', 'true']);
    expectCode(b, 125, 'berth bad cap');
    expectMatch(b.stderr, /invalid CapAdd: unknown capability: "CAP_FOO"/, 'berth bad cap');
  });

  it('docker-py: run with flags, exec_run stream selection, errors as APIError 400', { skip: !HAVE_DOCKER_PY && 'docker-py not installed' }, async () => {
    const script = `
import docker, json
c = docker.from_env()
out = {}
out['caps'] = c.containers.run('busybox', 'grep CapEff /proc/self/status', remove=True, cap_drop=['ALL'], cap_add=['NET_RAW']).decode().split()[1]
ct = c.containers.run('busybox', 'sleep 30', detach=True, name='pyex', oom_score_adj=200, pid_mode='host')
out['hc'] = {k: ct.attrs['HostConfig'][k] for k in ['OomScoreAdj', 'PidMode', 'CgroupnsMode', 'Memory', 'Devices']}
out['health'] = 'Health' in ct.attrs['State']
out['err_only'] = ct.exec_run('sh -c "echo out; echo err >&2"', stdout=False, stderr=True).output.decode()
out['out_only'] = ct.exec_run('sh -c "echo out; echo err >&2"', stdout=True, stderr=False).output.decode()
out['demux'] = [x.decode() for x in ct.exec_run('sh -c "echo out; echo err >&2"', demux=True).output]
ct.remove(force=True)
errs = []
for kw in [dict(cap_add=['foo']), dict(restart_policy={'Name': 'bogus'}), dict(security_opt=['foo=bar']), dict(pid_mode='container:nope')]:
    try:
        c.containers.create('busybox', 'true', **kw)
        errs.append('created')
    except docker.errors.APIError as e:
        errs.append([e.status_code, e.explanation])
out['errs'] = errs
print(json.dumps(out))
`;
    const r = await run('python3', ['-c', script], { env: { ...d.env }, timeoutMs: 60000 });
    expectCode(r, 0, 'docker-py');
    const o = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(o['caps'], '0000000000002000');
    assert.deepEqual(o['hc'], { OomScoreAdj: 200, PidMode: 'host', CgroupnsMode: fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'private' : 'host', Memory: 0, Devices: null });
    assert.equal(o['health'], false);
    assert.equal(o['err_only'], 'err\n');
    assert.equal(o['out_only'], 'out\n');
    assert.deepEqual(o['demux'], ['out\n', 'err\n']);
    assert.deepEqual(o['errs'], [
      [400, 'invalid CapAdd: unknown capability: "CAP_FOO"'],
      [400, "invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"],
      [400, 'invalid --security-opt 2: "foo=bar"'],
      [400, 'No such container: nope'],
    ]);
  });

  it('exit codes: 125 for daemon/flag errors, 126 not executable, 127 not found, the command\'s own otherwise', async () => {
    expectCode(await d.docker(['run', '--rm', '--no-such-flag', 'busybox']), 125, 'bad flag');
    await fails(['run', '--rm', 'busybox', '/etc'], 126, /permission denied/);
    await fails(['run', '--rm', 'busybox', 'nosuchcommand'], 127, /executable file not found in \$PATH/);
    expectCode(await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']), 3, 'exit 3');
  });

  it('docker create + docker start -a: output and exit code; --detach-keys accepted', async () => {
    okOut(await d.docker(['create', '--name', 'csa', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 5']), 'create');
    const r = await d.docker(['start', '-a', 'csa']);
    expectCode(r, 5, 'start -a');
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(await inspect('{{.State.ExitCode}} {{.State.Status}}', 'csa'), '5 exited');
    await d.docker(['rm', 'csa']);
    // -it --detach-keys ctrl-a,x: that sequence detaches, the container keeps running
    const t = await TmuxSession.start(path.join(d.dir, 'tmux-dk.sock'), 'dk', [DOCKER_BIN, 'run', '-it', '--name', 'dk', '--detach-keys', 'ctrl-a,x', 'busybox', 'sh'], d.env);
    try {
      await t.waitFor(/\/ # ?$/m, 15_000);
      await t.keys('C-a', 'x');
      assert.equal(await t.waitExit(10_000), 0, `detached; pane:\n${await t.capture()}`);
    } finally {
      await t.kill();
    }
    assert.equal(await inspect('{{.State.Status}}', 'dk'), 'running');
    await d.docker(['rm', '-f', 'dk']);
  });
});
