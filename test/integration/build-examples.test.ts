// Issue 7 acceptance through the real docker CLI (legacy builder): a base
// image from scratch, the documentation-style examples (web page served by
// httpd through -p, ENTRYPOINT + CMD, multi-stage, USER/WORKDIR/ENV/ARG,
// heredocs), a failing RUN, docker history, and the build options.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { busyboxTar, expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon, waitFor } from '../harness';
import { apiBuild, build, buildOk, builtId, context, ranSteps, tarOf, tempDir } from './build-util';

describe('docker build: examples and options', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  it('FROM scratch + ADD rootfs.tar / + CMD ["sh"] makes a base image that runs', async () => {
    const dir = context({ Dockerfile: 'FROM scratch\nADD rootfs.tar /\nCMD ["sh"]\n' });
    fs.copyFileSync(busyboxTar(), path.join(dir, 'rootfs.tar'));
    const out = await buildOk(d, dir, ['-t', 'mybase:1']);
    expectMatch(out, /^Step 1\/3 : FROM scratch\n ---> \nStep 2\/3 : ADD rootfs.tar \/\n ---> [0-9a-f]{12}\nStep 3\/3 : CMD \["sh"\]\n ---> [0-9a-f]{12}\n/m, 'legacy output');
    expectMatch(out, /Successfully tagged mybase:1\n/, 'tagged');
    assert.equal(okOut(await d.docker(['run', '--rm', 'mybase:1', 'sh', '-c', 'echo from-scratch-base; test -x /bin/busybox && echo ok']), 'run'), 'from-scratch-base\nok');
    // CMD ["sh"] is what runs without arguments.
    assert.equal(okOut(await d.docker(['run', '--rm', '-i', 'mybase:1'], { input: 'echo from-default-cmd\n' }), 'run default'), 'from-default-cmd');
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{json .Config.Cmd}}', 'mybase:1']), 'inspect'), '["sh"]');
    // The archive was extracted, not copied.
    expectCode(await d.docker(['run', '--rm', 'mybase:1', 'sh', '-c', 'test -e /rootfs.tar']), 1, 'no rootfs.tar in the image');
  });

  it('a web page image (WORKDIR + COPY index.html, busybox httpd) answers through -p', async () => {
    const dir = context({
      'index.html': '<h1>hello from berth build</h1>\n',
      Dockerfile: 'FROM busybox\nWORKDIR /var/www\nCOPY index.html .\nEXPOSE 80\nCMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]\n',
    });
    await buildOk(d, dir, ['-t', 'web:1']);
    okOut(await d.docker(['run', '-d', '--name', 'web1', '-p', '8089:80', 'web:1']), 'run -d -p');
    const body = await waitFor('the web page', () => {
      const r = d.nsRun('curl', ['-s', '-m', '2', 'http://127.0.0.1:8089/']);
      return r.code === 0 ? r.stdout : '';
    }, { timeoutMs: 10_000 });
    assert.equal(body, '<h1>hello from berth build</h1>\n');
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.Config.WorkingDir}} {{json .Config.ExposedPorts}}', 'web:1']), 'inspect'), '/var/www {"80/tcp":{}}');
    okOut(await d.docker(['rm', '-f', 'web1']), 'rm');
  });

  it('ENTRYPOINT ["top","-b"] + CMD ["-c"]: runs top -b -c; run img -n 1 replaces only CMD', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nENTRYPOINT ["top","-b"]\nCMD ["-c"]\n' });
    await buildOk(d, dir, ['-t', 'top:1']);
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{json .Config.Entrypoint}} {{json .Config.Cmd}}', 'top:1']), 'inspect'), '["top","-b"] ["-c"]');
    const out = okOut(await d.docker(['run', '--rm', 'top:1', '-n', '1']), 'run -n 1');
    expectMatch(out, /top -b -n 1/, 'top ran with the replaced CMD');
    // Without arguments the container runs `top -b -c` (busybox's top rejects -c, which is fine: the command line is the point).
    await d.docker(['run', '--name', 'top1', 'top:1']);
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.Path}} {{json .Args}}', 'top1']), 'inspect ctr'), 'top ["-b","-c"]');
    assert.equal(okOut(await d.docker(['ps', '-a', '--no-trunc', '--filter', 'name=top1', '--format', '{{.Command}}']), 'ps'), '"top -b -c"');
    okOut(await d.docker(['rm', '-f', 'top1']), 'rm');
  });

  it('multi-stage: the final stage copies only the script; stage 1 leaves no trace; unneeded stages never run', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox AS builder',
        'WORKDIR /src',
        'RUN echo "secret build input" > input.txt && printf \'#!/bin/sh\\necho "hello from the built script"\\n\' > /src/hello.sh && chmod 755 /src/hello.sh',
        'FROM busybox AS never',
        'RUN echo this stage must not run && exit 42',
        'FROM busybox',
        'COPY --from=builder /src/hello.sh /usr/local/bin/hello',
        'CMD ["hello"]',
      ].join('\n'),
    });
    const out = await buildOk(d, dir, ['-t', 'multi:1']);
    assert.doesNotMatch(out, /this stage must not run/);
    expectMatch(out, /Step 6\/6 : CMD \["hello"\]/, 'step count covers only the stages that run');
    assert.equal(okOut(await d.docker(['run', '--rm', 'multi:1']), 'run'), 'hello from the built script');
    expectCode(await d.docker(['run', '--rm', 'multi:1', 'sh', '-c', 'ls /src || test -e /src/input.txt']), 1, 'no /src');
    const hist = okOut(await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'multi:1']), 'history');
    assert.doesNotMatch(hist, /secret build input|WORKDIR \/src/, 'history has no stage-1 steps');
    expectMatch(hist, /COPY --from=[0-9a-f]{12} file:[0-9a-f]{64} in \/usr\/local\/bin\/hello/, 'COPY --from in history');
    // --target builds the named stage (and what it needs) only.
    const t = await buildOk(d, dir, ['--target', 'builder', '-t', 'multi:builder']);
    expectMatch(t, /Step 3\/3 : RUN/, 'target stage only');
    assert.equal(okOut(await d.docker(['run', '--rm', 'multi:builder', 'cat', '/src/input.txt']), 'run target'), 'secret build input');
  });

  it('independent stages run concurrently; the output stays in stage order', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox AS a', 'RUN sleep 2 && echo from-a > /a',
        'FROM busybox AS b', 'RUN sleep 2 && echo from-b > /b',
        'FROM busybox', 'COPY --from=a /a /a', 'COPY --from=b /b /b', 'RUN cat /a /b',
      ].join('\n'),
    });
    const r = await build(d, dir, ['--no-cache', '-t', 'parallel:1']);
    expectCode(r, 0, 'build');
    assert.ok(r.durationMs < 3800, `two 2 s stages took ${Math.round(r.durationMs)} ms: not concurrent`);
    const steps = [...r.stdout.matchAll(/^Step (\d+)\/8 : /gm)].map((m) => Number(m[1]));
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8]);
    expectMatch(r.stdout, /Step 2\/8 : RUN sleep 2 && echo from-a > \/a\n ---> Running in [0-9a-f]{12}\n ---> Removed intermediate container [0-9a-f]{12}\n ---> [0-9a-f]{12}\nStep 3\/8 : FROM busybox AS b\n/, 'stage a printed as a block');
    expectMatch(r.stdout, /\nfrom-a\nfrom-b\n/, 'final stage');
    // A failing stage stops the others: the build ends quickly with its error, and no container is left.
    const before = okOut(await d.docker(['ps', '-aq']), 'ps');
    const f = await build(d, context({ Dockerfile: 'FROM busybox AS slow\nRUN sleep 20\nFROM busybox AS bad\nRUN sleep 1; exit 3\nFROM busybox\nCOPY --from=slow /etc/hostname /x\nCOPY --from=bad /etc/hostname /y\n' }), ['--no-cache']);
    expectCode(f, 3, 'failing stage');
    assert.ok(f.durationMs < 10_000, `the build waited for the slow stage (${Math.round(f.durationMs)} ms)`);
    expectMatch(f.stderr, /returned a non-zero code: 3/, 'error');
    assert.equal(okOut(await d.docker(['ps', '-aq']), 'ps'), before, 'no container left');
  });

  it('USER + WORKDIR + ENV + ARG substitution', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'ARG USERNAME=app',
        'ARG GREETING',
        'ENV HOME_DIR=/home/${USERNAME} LABEL_TEXT="${GREETING:-hi} there"',
        'WORKDIR $HOME_DIR',
        'WORKDIR work',
        'RUN chown ${USERNAME} .',
        'USER $USERNAME',
        'RUN echo "$(id -un) in $(pwd) says $LABEL_TEXT; arg=$GREETING" > out.txt',
        'LABEL who=$USERNAME greeting="${GREETING}"',
      ].join('\n'),
    });
    await buildOk(d, dir, ['-t', 'subst:1', '--build-arg', 'GREETING=hello']);
    assert.equal(okOut(await d.docker(['run', '--rm', 'subst:1', 'cat', 'out.txt']), 'run'), 'app in /home/app/work says hello there; arg=hello');
    const cfg = JSON.parse(okOut(await d.docker(['inspect', '-f', '{{json .Config}}', 'subst:1']), 'inspect')) as { User: string; WorkingDir: string; Env: string[]; Labels: Record<string, string> };
    assert.equal(cfg.User, 'app');
    assert.equal(cfg.WorkingDir, '/home/app/work');
    assert.ok(cfg.Env.includes('HOME_DIR=/home/app'), cfg.Env.join(','));
    assert.ok(cfg.Env.includes('LABEL_TEXT=hello there'), cfg.Env.join(','));
    assert.ok(!cfg.Env.some((e) => e.startsWith('GREETING=') || e.startsWith('USERNAME=')), 'ARGs are not persisted in the image');
    assert.deepEqual(cfg.Labels, { who: 'app', greeting: 'hello' });
    assert.equal(okOut(await d.docker(['run', '--rm', 'subst:1', 'stat', '-c', '%U', '/home/app/work/out.txt']), 'owner'), 'app');
  });

  it('metadata instructions: SHELL, HEALTHCHECK, STOPSIGNAL, VOLUME, EXPOSE, MAINTAINER, LABEL; proxy args', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'MAINTAINER Jane Doe <jane@example.com>',
        'SHELL ["/bin/sh", "-ec"]',
        'RUN echo "shell ok; proxy=$HTTP_PROXY"',
        'ARG PORT=8080',
        'EXPOSE $PORT 53/udp',
        'VOLUME ["/data", "/logs"]',
        'STOPSIGNAL SIGQUIT',
        'HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD wget -q -O- http://localhost:$PORT/ || exit 1',
        'LABEL org.example.a="x y" org.example.b=$PORT',
        'CMD echo shell form',
      ].join('\n'),
    });
    const out = await buildOk(d, dir, ['-t', 'meta:1', '--build-arg', 'HTTP_PROXY=http://proxy.invalid:3128']);
    expectMatch(out, /\nshell ok; proxy=http:\/\/proxy\.invalid:3128\n/, 'proxy args reach RUN');
    assert.doesNotMatch(out, /not consumed/, 'proxy args need no ARG');
    const img = JSON.parse(okOut(await d.docker(['image', 'inspect', 'meta:1']), 'inspect'))[0] as {
      Author: string; Config: { Shell: string[]; ExposedPorts: Record<string, unknown>; Volumes: Record<string, unknown>; StopSignal: string; Labels: Record<string, string>; Cmd: string[];
        Healthcheck: { Test: string[]; Interval: number; Timeout: number; Retries: number } };
    };
    assert.equal(img.Author, 'Jane Doe <jane@example.com>');
    assert.deepEqual(img.Config.Shell, ['/bin/sh', '-ec']);
    assert.deepEqual(Object.keys(img.Config.ExposedPorts).sort(), ['53/udp', '8080/tcp']);
    assert.deepEqual(Object.keys(img.Config.Volumes).sort(), ['/data', '/logs']);
    assert.equal(img.Config.StopSignal, 'SIGQUIT');
    assert.deepEqual(img.Config.Labels, { 'org.example.a': 'x y', 'org.example.b': '8080' });
    assert.deepEqual(img.Config.Cmd, ['/bin/sh', '-ec', 'echo shell form']);
    assert.deepEqual(img.Config.Healthcheck, { Test: ['CMD-SHELL', 'wget -q -O- http://localhost:$PORT/ || exit 1'], Interval: 5e9, Timeout: 2e9, Retries: 4 });
    const hist = okOut(await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'meta:1']), 'history');
    assert.doesNotMatch(hist, /proxy\.invalid/, 'proxy values stay out of the history');
    // As Docker: proxy args are in the RUN's environment but not in its history line ("|0": no other args).
    expectMatch(hist, /^\|0 \/bin\/sh -ec echo "shell ok; proxy=\$HTTP_PROXY"$/m, 'RUN with the SHELL');
  });

  it('heredocs: RUN <<EOF scripts, a shebang script, COPY <<EOF files', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'ARG WHO=world',
        'RUN <<EOF',
        'set -e',
        'mkdir -p /out',
        'echo "first line" > /out/a',
        'echo "hello $WHO" >> /out/a',
        'EOF',
        'RUN <<EOF',
        '#!/bin/sh',
        'echo "run by $0" > /out/b',
        'EOF',
        'COPY <<EOT /out/c',
        'expanded ${WHO}',
        'EOT',
        'COPY <<"EOT" /out/d',
        'literal ${WHO}',
        'EOT',
        'RUN cat <<EOF > /out/e && cat /out/e',
        'via cat',
        'EOF',
      ].join('\n'),
    });
    const out = await buildOk(d, dir, ['-t', 'heredoc:1']);
    expectMatch(out, /\nvia cat\n/, 'RUN output streamed');
    const files = okOut(await d.docker(['run', '--rm', 'heredoc:1', 'sh', '-c', 'for f in a b c d e; do echo "== $f"; cat /out/$f; done']), 'run');
    assert.equal(files, '== a\nfirst line\nhello world\n== b\nrun by /dev/pipes/EOF\n== c\nexpanded world\n== d\nliteral ${WHO}\n== e\nvia cat');
  });

  it('a failing RUN: non-zero exit with the output and code, no image tagged, no container left', async () => {
    const before = okOut(await d.docker(['ps', '-aq']), 'ps');
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo "about to fail" && echo "on stderr" >&2 && exit 7\nCMD ["true"]\n' });
    const r = await build(d, dir, ['-t', 'failing:1']);
    expectCode(r, 7, 'docker build of a failing RUN');
    expectMatch(r.stdout, /Step 2\/3 : RUN echo "about to fail".*\n ---> Running in [0-9a-f]{12}\nabout to fail\non stderr\n/, 'output of the command');
    expectMatch(r.stderr, /The command '\/bin\/sh -c echo "about to fail" && echo "on stderr" >&2 && exit 7' returned a non-zero code: 7/, 'error message');
    expectCode(await d.docker(['image', 'inspect', 'failing:1']), 1, 'not tagged');
    assert.equal(okOut(await d.docker(['ps', '-aq']), 'ps'), before, 'no intermediate container remains');
    // Over the API the error carries the code.
  });

  it('parse errors name the line; unknown instructions and bad flags are caught before anything runs', async () => {
    const r = await build(d, context({ Dockerfile: 'FROM busybox\nRUN echo one\n\n# comment\nCOPPY a b\n' }));
    expectCode(r, 1, 'bad instruction');
    expectMatch(r.stderr, /Dockerfile:5: unknown instruction: COPPY/, 'error');
    assert.doesNotMatch(r.stdout, /Step 1/, 'nothing ran');
    const f = await build(d, context({ Dockerfile: 'FROM busybox\nCOPY --bogus=1 a b\n' }));
    expectMatch(f.stderr, /dockerfile parse error on line 2: unknown flag: --bogus\nDockerfile:2: unknown flag: --bogus/, 'bad flag');
    // The CLI checks -f itself; a client that sends no Dockerfile gets Docker's message.
    const m = await apiBuild(d, tarOf(context({ 'Dockerfile.dev': 'FROM busybox\n' })), 't=x');
    assert.equal(m.status, 400);
    expectMatch(m.text, /Cannot locate specified Dockerfile: Dockerfile/, 'missing Dockerfile');
  });

  it('docker history lists each instruction with its size; metadata steps are 0B', async () => {
    const dir = context({
      'data.bin': Buffer.alloc(4096, 1),
      Dockerfile: 'FROM busybox\nENV A=1\nCOPY data.bin /data.bin\nRUN head -c 2048 /dev/zero > /zero.bin\nLABEL l=v\nUSER nobody\n',
    });
    const id = builtId(await buildOk(d, dir, ['-t', 'hist:1']));
    const rows = okOut(await d.docker(['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}', 'hist:1']), 'history').split('\n');
    assert.equal(rows.length, 6, rows.join('\n'));
    const [user, label, run, copy, env] = rows.map((r) => r.split('|'));
    assert.deepEqual([user?.[1], user?.[2]], ['/bin/sh -c #(nop)  USER nobody', '0B']);
    assert.deepEqual([label?.[1], label?.[2]], ['/bin/sh -c #(nop)  LABEL l=v', '0B']);
    assert.deepEqual([run?.[1], run?.[2]], ['/bin/sh -c head -c 2048 /dev/zero > /zero.bin', '2.05kB']);
    expectMatch(copy?.[1] ?? '', /^\/bin\/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \/data\.bin $/, 'COPY');
    assert.equal(copy?.[2], '4.1kB');
    assert.deepEqual([env?.[1], env?.[2]], ['/bin/sh -c #(nop)  ENV A=1', '0B']);
    assert.ok(user?.[0]?.includes(id), 'the newest entry is the image itself');
    // Every step is a local image (legacy builder): no <missing> rows for our steps.
    assert.ok(rows.every((r) => !r.startsWith('<missing>')), rows.join('\n'));
  });

  it('-q prints only the ID; --iidfile; several -t; --label; -f inside the context; build-arg warnings', async () => {
    const dir = context({
      'docker/Dockerfile.prod': 'FROM busybox\nARG USED=1\nRUN echo used=$USED\n',
    });
    const iid = path.join(tempDir('iid-'), 'id');
    const df = path.join(dir, 'docker/Dockerfile.prod');
    const q = await build(d, dir, ['-q', '-f', df, '--iidfile', iid, '-t', 'opts:a', '-t', 'opts:b', '--label', 'com.example.team=builders', '--build-arg', 'USED=2', '--build-arg', 'EXTRA=3']);
    expectCode(q, 0, 'build -q');
    expectMatch(q.stdout, /^sha256:[0-9a-f]{64}\n$/, '-q output');
    assert.equal(fs.readFileSync(iid, 'utf8').trim(), q.stdout.trim()); // with -q the CLI writes what it printed
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.Id}} {{index .Config.Labels "com.example.team"}}', 'opts:a']), 'inspect'), `${q.stdout.trim()} builders`);
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{.Id}}', 'opts:b']), 'inspect b'), q.stdout.trim());
    const v = await buildOk(d, dir, ['-f', df, '--label', 'com.example.team=builders', '--build-arg', 'USED=2', '--build-arg', 'EXTRA=3']);
    expectMatch(v, /Step 4\/4 : LABEL "com.example.team"='builders'/, 'the --label step');
    expectMatch(v, /\[Warning\] One or more build-args \[EXTRA\] were not consumed\n/, 'warning');
    assert.deepEqual(ranSteps(v), [], 'all cached');
    // --rm=false keeps the intermediate container; --force-rm removes even failed ones.
    const keep = await buildOk(d, context({ Dockerfile: 'FROM busybox\nRUN echo kept\n' }), ['--rm=false', '--no-cache']);
    const cid = /Running in ([0-9a-f]{12})/.exec(keep)?.[1];
    assert.ok(cid && !/Removed intermediate container/.test(keep), keep);
    okOut(await d.docker(['rm', cid]), 'the kept container exists');
  });

  it('--network none and default for RUN; build from stdin; -f outside the context', async () => {
    const none = await buildOk(d, context({ Dockerfile: 'FROM busybox\nRUN echo nics: $(ls /sys/class/net)\n' }), ['--network', 'none', '--no-cache']);
    expectMatch(none, /\nnics: lo\n/, 'only loopback with --network none');
    const dflt = await buildOk(d, context({ Dockerfile: 'FROM busybox\nRUN echo nics: $(ls /sys/class/net)\n' }), ['--no-cache']);
    expectMatch(dflt, /\nnics: (eth0 lo|lo eth0)\n/, 'a network interface by default');
    const stdin = await d.docker(['build', '-t', 'fromstdin:1', '-'], { input: 'FROM busybox\nRUN echo built-from-stdin\n' });
    expectCode(stdin, 0, 'docker build -');
    expectMatch(stdin.stdout, /built-from-stdin/, 'stdin Dockerfile');
    const outside = path.join(tempDir('df-'), 'Dockerfile');
    fs.writeFileSync(outside, 'FROM busybox\nCOPY f.txt /f.txt\nRUN cat /f.txt\n');
    const o = await buildOk(d, context({ 'f.txt': 'context file\n' }), ['-f', outside, '--no-cache']);
    expectMatch(o, /\ncontext file\n/, '-f outside the context');
  });
});
