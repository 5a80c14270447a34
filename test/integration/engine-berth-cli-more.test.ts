// berth build / cp / commit / diff / export / update / builder prune, and
// run's auto-pull with stored credentials, checked against the real docker
// CLI on the same berthd where the two should agree.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { berthBin, DOCKER_BIN, expectMatch, okOut, runSync, skipUnlessRoot, TmuxSession, useDaemon } from '../harness';
import { haveRegistry, makeCerts, startRegistry, TEST_PASSWORD, TEST_USER, type RegistryPeer } from './registry-peer';

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
}

/** Sorted relative paths under dir (directories with a trailing /). */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string, rel: string): void => {
    for (const n of fs.readdirSync(abs).sort()) {
      const a = path.join(abs, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(a);
      out.push(st.isDirectory() ? `${r}/` : r);
      if (st.isDirectory()) walk(a, r);
    }
  };
  walk(dir, '');
  return out;
}

/** The docker CLI's stderr without what berth does not print: the legacy builder's DEPRECATED banner and logrus lines. */
function dockerErr(t: string): string {
  return t
    .replace(/^DEPRECATED: The legacy builder[\s\S]*?\n\n/, '')
    .split('\n')
    .filter((l) => !/^time="[^"]*" level=/.test(l))
    .join('\n')
    .trim();
}

function tarNames(tarFile: string): string[] {
  const r = runSync('tar', ['-tf', tarFile]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((n) => n.replace(/^\.\//, '')).filter((n) => n !== '' && n !== './').sort();
}

describe('berth build', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  let ctx: string;

  before(() => {
    ctx = fs.mkdtempSync(path.join(d.dir, 'ctx-'));
    write(ctx, {
      'Dockerfile': 'FROM busybox\nARG A=none\nRUN echo "arg is $A"\nCOPY . /ctx/\nRUN find /ctx | sort\n',
      '.dockerignore': '# comment\nsecret.txt\nnode_modules\n**/*.log\n!keep.log\nDockerfile\n.dockerignore\n',
      'app.txt': 'app\n',
      'secret.txt': 'secret\n',
      'keep.log': 'kept\n',
      'drop.log': 'dropped\n',
      'sub/deep/x.log': 'x\n',
      'sub/deep/y.txt': 'y\n',
      'node_modules/m/index.js': 'js\n',
    });
  });

  it('steps with timings, RUN output, then CACHED on a rebuild; -q and --iidfile agree; docker gets the same cache', async () => {
    const r = await d.berth(['build', '-t', 'bb:1', '-t', 'bb:2', '--build-arg', 'A=hello', '--label', 'k=v', ctx], { timeoutMs: 120_000 });
    const out = okOut(r, 'berth build');
    expectMatch(out, /^Sent build context: /m, 'context line');
    expectMatch(out, /^\[1\/6\] FROM busybox$/m, 'step line');
    expectMatch(out, /^\[3\/6\] RUN echo "arg is \$A"\n {6}arg is hello\n {6}=> \d+\.\ds {2}[0-9a-f]{12}$/m, 'RUN output and duration');
    expectMatch(out, /^Successfully built [0-9a-f]{12}$/m, 'built');
    expectMatch(out, /^Successfully tagged bb:1$/m, 'tagged 1');
    expectMatch(out, /^Successfully tagged bb:2$/m, 'tagged 2');
    assert.doesNotMatch(out, /Running in|Removing intermediate/);
    // .dockerignore rules: exceptions and **; the Dockerfile and .dockerignore are sent
    // but, being listed, left out of COPY by the builder (the -q comparison with
    // docker below shows the contexts are the same).
    const files = out.split('\n').filter((l) => l.startsWith('      /ctx')).map((l) => l.trim());
    assert.deepEqual(files, ['/ctx', '/ctx/app.txt', '/ctx/keep.log', '/ctx/sub', '/ctx/sub/deep', '/ctx/sub/deep/y.txt']);
    assert.equal(okOut(await d.berth(['inspect', '-f', '{{.Config.Labels.k}}', 'bb:1']), 'inspect'), 'v');

    const again = okOut(await d.berth(['build', '-t', 'bb:1', '--build-arg', 'A=hello', '--label', 'k=v', ctx], { timeoutMs: 60_000 }), 'rebuild');
    expectMatch(again, /^\[3\/6\] RUN echo "arg is \$A"\n {6}=> CACHED {2}[0-9a-f]{12}$/m, 'cached step');
    expectMatch(again, /^Build finished in \d+\.\ds: 6 steps, 5 cached$/m, 'summary');

    const iid = path.join(d.dir, 'iid');
    const q = await d.berth(['build', '-q', '--iidfile', iid, '--build-arg', 'A=hello', '--label', 'k=v', ctx]);
    const id = okOut(q, 'build -q');
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(fs.readFileSync(iid, 'utf8'), id);
    assert.equal(okOut(await d.berth(['inspect', '-f', '{{.Id}}', 'bb:1']), 'inspect'), id);
    // The docker CLI's context for the same directory hits the same cache: the same image.
    const dq = await d.docker(['build', '-q', '--build-arg', 'A=hello', '--label', 'k=v', ctx]);
    assert.equal(okOut(dq, 'docker build -q'), id);

    const fresh = okOut(await d.berth(['build', '--no-cache', '--network', 'none', '--build-arg', 'A=hello', '--label', 'k=v', ctx], { timeoutMs: 60_000 }), '--no-cache');
    assert.doesNotMatch(fresh, /CACHED/);
    expectMatch(fresh, /: 6 steps, 0 cached$/m, 'no cache');
  });

  it('--progress=plain prints what the docker CLI prints', async () => {
    const b = await d.berth(['build', '--progress=plain', '-t', 'bb:plain', '--build-arg', 'A=hello', '--label', 'k=v', ctx]);
    const k = await d.docker(['build', '-t', 'bb:plain', '--build-arg', 'A=hello', '--label', 'k=v', ctx]);
    okOut(b, 'berth plain');
    okOut(k, 'docker');
    const [berth, docker] = [b.stdout, k.stdout];
    // Byte for byte, the upload line's "\r\r\n" included.
    assert.equal(berth, docker);
  });

  it('-f outside the context, -f - and - (Dockerfile or tar on stdin)', async () => {
    const other = fs.mkdtempSync(path.join(d.dir, 'df-'));
    write(other, { 'Dockerfile.alt': 'FROM busybox\nCOPY app.txt /app.txt\nRUN ls -a / | grep -c dockerfile || true\n' });
    const outside = await d.berth(['build', '-t', 'bb:alt', '-f', path.join(other, 'Dockerfile.alt'), ctx]);
    okOut(outside, 'build -f outside');
    assert.equal(okOut(await d.berth(['run', '--rm', 'bb:alt', 'cat', '/app.txt']), 'run'), 'app');

    const stdinDf = await d.berth(['build', '-t', 'bb:stdin', '-f', '-', ctx], { input: 'FROM busybox\nCOPY keep.log /k\n' });
    okOut(stdinDf, 'build -f -');
    assert.equal(okOut(await d.berth(['run', '--rm', 'bb:stdin', 'cat', '/k']), 'run'), 'kept');

    const onlyDf = await d.berth(['build', '-t', 'bb:only', '-'], { input: 'FROM busybox\nRUN echo only\n' });
    expectMatch(okOut(onlyDf, 'build -'), /^ {6}only$/m, 'Dockerfile on stdin');

    const tarFile = path.join(d.dir, 'ctx.tar');
    assert.equal(runSync('tar', ['-C', ctx, '-cf', tarFile, 'Dockerfile', 'app.txt']).code, 0);
    const fromTar = await d.berth(['build', '-t', 'bb:tar', '--build-arg', 'A=tar', '-'], { input: fs.readFileSync(tarFile), timeoutMs: 60_000 });
    expectMatch(okOut(fromTar, 'build - <tar'), /arg is tar/, 'tar on stdin');

    const both = await d.berth(['build', '-f', '-', '-'], { input: 'FROM busybox\n' });
    assert.equal(both.code, 1);
    assert.equal(both.stderr.trim(), "invalid argument: can't use stdin for both build context and dockerfile");
  });

  it('--target stops at a stage; a failed RUN exits with its code and the daemon message, like docker', async () => {
    const ms = fs.mkdtempSync(path.join(d.dir, 'ms-'));
    write(ms, { Dockerfile: 'FROM busybox AS one\nRUN echo one > /one\nFROM one AS two\nRUN echo two > /two\n' });
    okOut(await d.berth(['build', '--target', 'one', '-t', 'bb:one', ms]), 'target');
    const ls = await d.berth(['run', '--rm', 'bb:one', 'ls', '/one', '/two']);
    assert.notEqual(ls.code, 0);

    const bad = fs.mkdtempSync(path.join(d.dir, 'bad-'));
    write(bad, { Dockerfile: 'FROM busybox\nRUN echo before && exit 3\n' });
    const b = await d.berth(['build', bad]);
    const k = await d.docker(['build', bad]);
    // The daemon's errorDetail carries the RUN's exit code, and the docker CLI exits with it.
    assert.equal(k.code, 3);
    assert.equal(b.code, 3);
    expectMatch(b.stdout, /=> FAILED after/, 'failed step marker');
    expectMatch(b.stdout, /^ {6}before$/m, 'output before the failure');
    assert.equal(b.stderr.trim(), dockerErr(k.stderr));

    const missing = await d.berth(['build', fs.mkdtempSync(path.join(d.dir, 'empty-'))]);
    assert.equal(missing.code, 1);
    expectMatch(missing.stderr, /^unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat .*\/Dockerfile: no such file or directory$/m, 'no Dockerfile');
    const nopath = await d.berth(['build', '/nonexistent-ctx']);
    assert.equal(nopath.stderr.trim(), 'unable to prepare context: path "/nonexistent-ctx" not found');
    const badTag = await d.berth(['build', '-t', 'Bad', ctx]);
    assert.equal(badTag.code, 125);
    expectMatch(badTag.stderr, /invalid argument "Bad" for "-t, --tag" flag: invalid reference format: repository name \(library\/Bad\) must be lowercase/, 'tag');
  });

  it('builder prune, image build and builder build aliases', async () => {
    okOut(await d.berth(['image', 'build', '-q', ctx]), 'image build');
    const plainId = okOut(await d.berth(['builder', 'build', '-q', ctx]), 'builder build');
    assert.equal(okOut(await d.berth(['build', '-q', '--compress', ctx]), 'build --compress'), plainId);
    const p = await d.berth(['builder', 'prune', '-f', '-a']);
    expectMatch(okOut(p, 'builder prune'), /Total reclaimed space: /, 'prune');
    const k = await d.docker(['builder', 'prune', '-f', '-a']);
    assert.equal(okOut(await d.berth(['builder', 'prune', '-f']), 'again'), okOut(k, 'docker builder prune').replace(/^.*\n(?=Total)/s, ''));
    const no = await d.berth(['builder', 'prune'], { input: 'n\n' });
    assert.equal(no.code, 1);
    assert.match(no.stdout, /WARNING! This will remove all dangling build cache\. Are you sure you want to continue\? \[y\/N\] /);
  });
});

describe('berth cp / commit / diff / export / update', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();
  let host: string;

  before(async () => {
    host = fs.mkdtempSync(path.join(d.dir, 'cp-'));
    okOut(await d.docker(['run', '-d', '--name', 'c1', 'busybox', 'sh', '-c', 'mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && ln -s /data/a /data/link && sleep 300']), 'run');
    for (let i = 0; i < 50; i++) {
      if ((await d.docker(['exec', 'c1', 'test', '-e', '/data/link'])).code === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(async () => {
    await d.docker(['rm', '-f', 'c1']);
  });

  it('cp from the container: file, dir, dir/. and new names, as docker cp does', async () => {
    for (const [cli, run] of [['berth', d.berth.bind(d)], ['docker', d.docker.bind(d)]] as const) {
      const root = path.join(host, cli);
      fs.mkdirSync(path.join(root, 'existing'), { recursive: true });
      okOut(await run(['cp', 'c1:/data/a', path.join(root, 'file-a')]), `${cli} cp file`);
      okOut(await run(['cp', 'c1:/data', path.join(root, 'existing')]), `${cli} cp dir into dir`);
      okOut(await run(['cp', 'c1:/data', path.join(root, 'newdir')]), `${cli} cp dir to new name`);
      okOut(await run(['cp', 'c1:/data/.', path.join(root, 'contents')]), `${cli} cp dir/. to new`);
      fs.mkdirSync(path.join(root, 'into'));
      okOut(await run(['cp', 'c1:/data/sub/.', path.join(root, 'into')]), `${cli} cp dir/. into existing`);
      okOut(await run(['cp', 'c1:/data/link', path.join(root, 'link-plain')]), `${cli} cp symlink`);
      okOut(await run(['cp', '-L', 'c1:/data/link', path.join(root, 'link-followed')]), `${cli} cp -L`);
      okOut(await run(['cp', 'c1:/data/', path.join(root, 'slash-src')]), `${cli} cp dir/`);
      fs.writeFileSync(path.join(root, 'overwrite'), 'old\n');
      okOut(await run(['cp', 'c1:/data/sub/b', path.join(root, 'overwrite')]), `${cli} cp over a file`);
      fs.symlinkSync('existing', path.join(root, 'dirlink'));
      okOut(await run(['cp', 'c1:/data/a', path.join(root, 'dirlink')]), `${cli} cp to a local symlink to a dir`);
      const noDir = await run(['cp', 'c1:/data/a', path.join(root, 'nodir') + '/']);
      assert.equal(noDir.code, 1, `${cli} file to missing dir/`);
      const missing = await run(['cp', 'c1:/nope', root]);
      assert.equal(missing.code, 1);
    }
    assert.deepEqual(tree(path.join(host, 'berth')), tree(path.join(host, 'docker')));
    assert.equal(fs.readFileSync(path.join(host, 'berth', 'file-a'), 'utf8'), 'one\n');
    assert.equal(fs.readFileSync(path.join(host, 'berth', 'overwrite'), 'utf8'), 'two\n');
    assert.equal(fs.readFileSync(path.join(host, 'berth', 'existing', 'a'), 'utf8'), 'one\n');
    assert.ok(fs.lstatSync(path.join(host, 'berth', 'link-plain')).isSymbolicLink());
    assert.equal(fs.readFileSync(path.join(host, 'berth', 'link-followed'), 'utf8'), 'one\n');
    const m1 = await d.berth(['cp', 'c1:/data/a', path.join(host, 'nodir') + '/']);
    const m2 = await d.docker(['cp', 'c1:/data/a', path.join(host, 'nodir') + '/']);
    assert.equal(m1.stderr.trim(), dockerErr(m2.stderr));
    const n1 = await d.berth(['cp', 'c1:/nope', host]);
    const n2 = await d.docker(['cp', 'c1:/nope', host]);
    assert.equal(n1.stderr.trim(), dockerErr(n2.stderr));
  });

  it('cp to the container: the same tree as docker cp makes', async () => {
    const src = path.join(host, 'same');
    write(src, { 'f.txt': 'F\n', 'd/g.txt': 'G\n', 'd/e/h.txt': 'H\n' });
    fs.symlinkSync('d', path.join(src, 'dl'));
    for (const [cli, run] of [['berth', d.berth.bind(d)], ['docker', d.docker.bind(d)]] as const) {
      const t = `/tmp/cmp-${cli}`;
      okOut(await d.docker(['exec', 'c1', 'mkdir', '-p', `${t}/existing`]), 'mkdir');
      okOut(await run(['cp', path.join(src, 'f.txt'), `c1:${t}/existing`]), `${cli} file into dir`);
      okOut(await run(['cp', path.join(src, 'f.txt'), `c1:${t}/newname`]), `${cli} file to new name`);
      okOut(await run(['cp', path.join(src, 'd'), `c1:${t}/existing`]), `${cli} dir into dir`);
      okOut(await run(['cp', path.join(src, 'd'), `c1:${t}/dnew`]), `${cli} dir to new name`);
      okOut(await run(['cp', `${path.join(src, 'd')}/.`, `c1:${t}/contents`]), `${cli} dir/. to new`);
      okOut(await run(['cp', path.join(src, 'dl'), `c1:${t}/link`]), `${cli} symlink as is`);
      okOut(await run(['cp', '-L', path.join(src, 'dl'), `c1:${t}/followed`]), `${cli} -L`);
      okOut(await run(['cp', `${path.join(src, 'dl')}/`, `c1:${t}/slash`]), `${cli} symlink/ follows`);
      const bad = await run(['cp', path.join(src, 'f.txt'), `c1:${t}/missing/`]);
      assert.equal(bad.code, 1, `${cli} file to missing dir/`);
    }
    const list = async (t: string): Promise<string> =>
      okOut(await d.docker(['exec', 'c1', 'sh', '-c', `cd ${t} && find . | sort | while read f; do if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f"; fi; done`]), 'find');
    assert.equal(await list('/tmp/cmp-berth'), await list('/tmp/cmp-docker'));
    const b = await d.berth(['cp', path.join(src, 'f.txt'), 'c1:/tmp/cmp-berth/missing/']);
    const k = await d.docker(['cp', path.join(src, 'f.txt'), 'c1:/tmp/cmp-docker/missing/']);
    assert.equal(b.stderr.trim().replace('cmp-berth', 'X'), dockerErr(k.stderr).replace('cmp-docker', 'X'));
  });

  it('cp to the container and through stdin/stdout tars', async () => {
    const src = path.join(host, 'up');
    write(src, { 'f.txt': 'F\n', 'd/g.txt': 'G\n' });
    okOut(await d.berth(['cp', path.join(src, 'f.txt'), 'c1:/tmp/']), 'file into dir');
    okOut(await d.berth(['cp', path.join(src, 'f.txt'), 'c1:/tmp/renamed']), 'file to new name');
    okOut(await d.berth(['cp', path.join(src, 'd'), 'c1:/tmp/newd']), 'dir to new name');
    okOut(await d.berth(['cp', path.join(src, 'd') + '/.', 'c1:/tmp/']), 'dir contents into dir');
    okOut(await d.berth(['container', 'cp', '-a', src, 'c1:/tmp']), 'container cp -a');
    const ls = okOut(await d.docker(['exec', 'c1', 'sh', '-c', 'cat /tmp/f.txt /tmp/renamed /tmp/newd/g.txt /tmp/g.txt /tmp/up/d/g.txt']), 'exec');
    assert.equal(ls, 'F\nF\nG\nG\nG');
    // A symlink at the destination is followed: the file it points to is replaced.
    okOut(await d.docker(['exec', 'c1', 'ln', '-s', '/tmp/renamed', '/tmp/tolink']), 'ln');
    write(src, { 'other.txt': 'O\n' });
    okOut(await d.berth(['cp', path.join(src, 'other.txt'), 'c1:/tmp/tolink']), 'cp onto a symlink');
    assert.equal(okOut(await d.docker(['exec', 'c1', 'cat', '/tmp/renamed']), 'cat'), 'O');
    fs.rmSync(path.join(src, 'other.txt'));
    const dirOnFile = await d.berth(['cp', path.join(src, 'd'), 'c1:/tmp/renamed']);
    assert.equal(dirOnFile.code, 1);
    assert.equal(dirOnFile.stderr.trim(), 'cannot copy directory');
    const local = await d.berth(['cp', path.join(src, 'nope'), 'c1:/tmp']);
    assert.equal(local.code, 1);
    const dlocal = await d.docker(['cp', path.join(src, 'nope'), 'c1:/tmp']);
    assert.equal(local.stderr.trim(), dockerErr(dlocal.stderr));
    const both = await d.berth(['cp', 'c1:/a', 'c1:/b']);
    assert.equal(both.stderr.trim(), 'copying between containers is not supported');
    const none = await d.berth(['cp', 'a', 'b']);
    assert.equal(none.stderr.trim(), 'must specify at least one container source');

    const tarOut = path.join(host, 'out.tar');
    const r = runSync('sh', ['-c', `"$0" cp c1:/data - > "$1"`, berthBin(), tarOut], { env: d.env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tarNames(tarOut), ['data/', 'data/a', 'data/link', 'data/sub/', 'data/sub/b']);
    const inTar = path.join(host, 'in.tar');
    assert.equal(runSync('tar', ['-C', src, '-cf', inTar, 'f.txt']).code, 0);
    okOut(await d.berth(['cp', '-', 'c1:/data/sub'], { input: fs.readFileSync(inTar) }), 'cp - (tar on stdin)');
    assert.equal(okOut(await d.docker(['exec', 'c1', 'cat', '/data/sub/f.txt']), 'cat'), 'F');
    const notDir = await d.berth(['cp', '-', 'c1:/data/a'], { input: fs.readFileSync(inTar) });
    assert.equal(notDir.stderr.trim(), 'destination "c1:/data/a" must be a directory');
  });

  it('on a terminal, cp shows its progress and then a summary line, as docker cp does', async () => {
    const sock = path.join(d.dir, 'tmux-cp.sock');
    const dest = path.join(host, 'tty-copy');
    const run = async (name: string, argv: string[]): Promise<string> => {
      // Sessions stay until killServer below: killing the last one stops the server, racing the next start.
      const t = await TmuxSession.start(sock, name, argv, d.env);
      assert.equal(await t.waitExit(30_000), 0, await t.capture());
      return t.capture();
    };
    try {
      const from = await run('cp-from', [berthBin(), 'cp', 'c1:/data', dest]);
      expectMatch(from, new RegExp(`^Successfully copied [0-9.]+k?B to ${dest}$`, 'm'), 'from summary');
      assert.doesNotMatch(from, /Preparing to copy/);
      // The docker CLI counts the same tar bytes.
      const dfrom = await run('cp-from-docker', [DOCKER_BIN, 'cp', 'c1:/data', `${dest}-docker`]);
      const line = (text: string, to: string): string => (new RegExp(`^Successfully copied .* to ${to}$`, 'm').exec(text)?.[0] ?? '').replace(to, 'DEST');
      assert.equal(line(from, dest), line(dfrom, `${dest}-docker`));
      const to = await run('cp-to', [berthBin(), 'cp', dest, 'c1:/tmp/ttycopy']);
      expectMatch(to, /^Successfully copied [0-9.]+k?B to c1:\/tmp\/ttycopy$/m, 'to summary');
      const q = await run('cp-q', [berthBin(), 'cp', '-q', 'c1:/data/a', path.join(host, 'tty-q')]);
      assert.doesNotMatch(q, /Successfully copied/);
    } finally {
      TmuxSession.killServer(sock);
    }
  });

  it('diff, commit -a -m -c, export -o, as docker prints them', async () => {
    okOut(await d.docker(['exec', 'c1', 'sh', '-c', 'echo x > /newfile && rm -f /bin/true']), 'exec');
    const bd = okOut(await d.berth(['diff', 'c1']), 'berth diff');
    assert.equal(bd, okOut(await d.docker(['diff', 'c1']), 'docker diff'));
    expectMatch(bd, /^A \/newfile$/m, 'added');
    expectMatch(bd, /^D \/bin\/true$/m, 'deleted');
    assert.equal(okOut(await d.berth(['container', 'diff', 'c1']), 'container diff'), bd);

    const id = okOut(await d.berth(['commit', '-a', 'Me <me@x>', '-m', 'msg', '-c', 'ENV FOO=bar', '-c', 'LABEL l=1', 'c1', 'committed:v1']), 'commit');
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const fmt = '{{.Author}}|{{.Comment}}|{{index .Config.Labels "l"}}|{{.Config.Env}}';
    assert.match(okOut(await d.berth(['inspect', '-f', fmt, 'committed:v1']), 'inspect'), /^Me <me@x>\|msg\|1\|\[.*FOO=bar\]$/);
    // The same commit by the docker CLI gives the same configuration.
    okOut(await d.docker(['commit', '-a', 'Me <me@x>', '-m', 'msg', '-c', 'ENV FOO=bar', '-c', 'LABEL l=1', 'c1', 'committed:docker']), 'docker commit');
    assert.equal(okOut(await d.berth(['inspect', '-f', fmt, 'committed:v1']), 'inspect'), okOut(await d.berth(['inspect', '-f', fmt, 'committed:docker']), 'inspect docker'));
    assert.equal(okOut(await d.berth(['run', '--rm', 'committed:v1', 'cat', '/newfile']), 'run'), 'x');
    const noPause = okOut(await d.berth(['container', 'commit', '--pause=false', 'c1']), 'commit --pause=false');
    assert.match(noPause, /^sha256:/);
    const badRef = await d.berth(['commit', 'c1', 'x@sha256:' + 'a'.repeat(64)]);
    assert.equal(badRef.code, 1);

    const tarFile = path.join(host, 'export.tar');
    okOut(await d.berth(['export', '-o', tarFile, 'c1']), 'export -o');
    const names = tarNames(tarFile);
    assert.ok(names.includes('newfile'), 'newfile exported');
    assert.ok(names.includes('data/sub/b'), 'data exported');
    assert.ok(!names.includes('bin/true'), 'deleted file not exported');
    const viaStdout = path.join(host, 'export-stdout.tar');
    const r = runSync('sh', ['-c', `"$0" export c1 > "$1"`, berthBin(), viaStdout], { env: d.env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tarNames(viaStdout), names);
    const missing = await d.berth(['export', 'nope']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), dockerErr((await d.docker(['export', 'nope'])).stderr));
  });

  it('errors and exit codes match the docker CLI', async () => {
    const cases: string[][] = [
      ['cp', 'nope:/x', '/tmp'],
      ['cp', 'c1:/nope', '-'],
      ['cp', '', 'c1:/x'],
      ['cp', 'c1:/x'],
      ['diff', 'nope'],
      ['diff'],
      ['commit', 'nope'],
      ['commit', 'c1', 'Bad:tag'],
      ['export'],
      ['update', '--memory', 'abc', 'c1'],
      ['update', '--restart', 'bogus:1:2', 'c1'],
      ['update', '--blkio-weight', 'x', 'c1'],
      ['update', '--blkio-weight', '70000', 'c1'],
      ['update', '--cpus', 'x', 'c1'],
      ['build', '-t', 'Bad', '/'],
      ['build', '-m', 'lots', '/'],
      ['builder', 'prune', 'extra'],
    ];
    for (const args of cases) {
      const b = await d.berth(args);
      const k = await d.docker(args);
      const norm = (t: string): string => t.replace(/\bdocker\b/g, 'X').replace(/\bberth\b/g, 'X').trim();
      assert.equal(b.code, k.code, `exit code of ${args.join(' ')}: berth ${b.stderr} docker ${k.stderr}`);
      assert.equal(norm(b.stderr), norm(dockerErr(k.stderr)), `stderr of ${args.join(' ')}`);
    }
  });

  it('update: resources and restart policy, output and errors as docker', async () => {
    const b = await d.berth(['update', '--memory', '64m', '--memory-swap', '128m', '--cpu-shares', '512', '--pids-limit', '100', '--restart', 'on-failure:3', 'c1']);
    assert.equal(okOut(b, 'update'), 'c1');
    assert.equal(okOut(await d.berth(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'c1']), 'inspect'), '67108864 134217728 512 100 on-failure:3');
    assert.equal(okOut(await d.berth(['container', 'update', '--cpus', '0.5', 'c1']), 'cpus'), okOut(await d.docker(['update', '--cpus', '0.5', 'c1']), 'docker cpus'));
    assert.equal(okOut(await d.berth(['inspect', '-f', '{{.HostConfig.NanoCpus}}', 'c1']), 'inspect'), '500000000');
    const none = await d.berth(['update', 'c1']);
    assert.equal(none.code, 1);
    assert.equal(none.stderr.trim(), dockerErr((await d.docker(['update', 'c1'])).stderr));
    const missing = await d.berth(['update', '-m', '64m', 'nope', 'c1']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout.trim(), 'c1');
    assert.equal(missing.stderr.trim(), dockerErr((await d.docker(['update', '-m', '64m', 'nope'])).stderr));
    const badRestart = await d.berth(['update', '--restart', 'always:x', 'c1']);
    assert.notEqual(badRestart.code, 0);
  });
});

const regSkip = skipUnlessRoot() || (haveRegistry() ? false : 'docker-registry is not installed');

describe('berth run: auto-pull with stored credentials', { skip: regSkip }, () => {
  const d = useDaemon();
  let reg: RegistryPeer;
  before(async () => {
    const certs = makeCerts(path.join(d.dir, 'auto-certs'), ['127.0.0.1']);
    reg = await startRegistry(d, { htpasswd: true, tls: { cert: certs.cert, key: certs.key } });
  });
  after(async () => {
    await reg?.stop();
  });

  it('prints "Unable to find image" and pulls with X-Registry-Auth from config.json', async () => {
    const ref = `${reg.host}/auto/pull:1`;
    okOut(await d.berth(['tag', 'busybox', ref]), 'tag');
    const l = await d.berth(['login', '-u', TEST_USER, '--password-stdin', reg.host], { input: `${TEST_PASSWORD}\n` });
    okOut(l, 'login');
    okOut(await d.berth(['push', ref], { timeoutMs: 120_000 }), 'push');
    okOut(await d.berth(['rmi', ref]), 'rmi');
    const r = await d.berth(['run', '--rm', ref, 'echo', 'pulled'], { timeoutMs: 120_000 });
    assert.equal(okOut(r, 'run'), 'pulled');
    expectMatch(r.stderr, new RegExp(`^Unable to find image '${ref.replace(/[.]/g, '\\.')}' locally$`, 'm'), 'unable to find');
    okOut(await d.berth(['rmi', ref]), 'rmi again');
    const c = await d.berth(['create', '--name', 'ap', ref, 'true'], { timeoutMs: 120_000 });
    assert.match(okOut(c, 'create'), /^[0-9a-f]{64}$/);
    okOut(await d.berth(['rm', 'ap']), 'rm');
    // Without the stored credentials the registry refuses the pull.
    okOut(await d.berth(['logout', reg.host]), 'logout');
    okOut(await d.berth(['rmi', ref]), 'rmi 3');
    const denied = await d.berth(['run', '--rm', ref, 'true'], { timeoutMs: 60_000 });
    assert.notEqual(denied.code, 0);
  });
});
