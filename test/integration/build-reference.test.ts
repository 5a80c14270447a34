// The Dockerfile reference and Docker's legacy builder, point by point:
// error wording, BuildKit-only RUN flags, ARG scoping, heredocs, ADD archives
// (compressed, --unpack) and URLs, --chown name lookups, --chmod forms,
// wildcard destination rules, HEALTHCHECK/STOPSIGNAL/SHELL/ONBUILD metadata,
// substitution modifiers, COPY --from an image not yet local, and
// `builder prune --filter until`.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon, waitFor } from '../harness';
import { build, buildOk, builtId, cachedSteps, context, ranSteps, tempDir } from './build-util';
import { haveRegistry, startRegistry } from './registry-peer';

/** The output lines of a build without the step bookkeeping. */
function printed(out: string): string[] {
  return out.split('\n').filter((l) => l && !/^(Step \d+\/\d+ : | ---> |Sending build context|Successfully (built|tagged))/.test(l));
}

describe('docker build: the Dockerfile reference, as Docker does it', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  it('errors: the line and a suggestion for a typo, before anything runs; BuildKit-only RUN flags fail at their step', async () => {
    const before = okOut(await d.docker(['ps', '-aq']), 'ps');
    const typo = await build(d, context({ Dockerfile: 'FROM busybox\nRUN echo one\n\n# comment\nRUN echo two\nCOPPY a b\n' }), ['-t', 'typo:1']);
    expectCode(typo, 1, 'unknown instruction');
    expectMatch(typo.stderr, /dockerfile parse error on line 6: unknown instruction: COPPY \(did you mean COPY\?\)/, 'Docker\'s message');
    expectMatch(typo.stderr, /Dockerfile:6: unknown instruction: COPPY/, 'file and line');
    assert.doesNotMatch(typo.stdout, /Step 1/, 'nothing ran');
    const flag = await build(d, context({ Dockerfile: 'FROM busybox\nCOPY --chmown=1 a b\n' }));
    expectMatch(flag.stderr, /dockerfile parse error on line 2: unknown flag: --chmown \(did you mean chown\?\)/, 'flag typo');
    // -f with another name: the name is in the message.
    const devDir = context({ 'Dockerfile.dev': 'FROM busybox\nHEALTHCHECK --interval=1us CMD true\n' });
    const named = await build(d, devDir, ['-f', path.join(devDir, 'Dockerfile.dev')]);
    expectMatch(named.stderr, /dockerfile parse error on line 2: Interval "interval" cannot be less than 1ms\nDockerfile\.dev:2: /, 'file name');
    const unterminated = await build(d, context({ Dockerfile: 'FROM busybox\nRUN <<EOF\necho never ends\n' }));
    expectMatch(unterminated.stderr, /failed to parse Dockerfile: unterminated heredoc/, 'heredoc');
    const empty = await build(d, context({ Dockerfile: '' }));
    expectMatch(empty.stderr, /the Dockerfile \(Dockerfile\) cannot be empty/, 'empty');
    const warned = await buildOk(d, context({ Dockerfile: 'FROM busybox\nRUN echo a \\\n\n  b\n' }));
    expectMatch(warned, /\[WARNING\]: Empty continuation line found in: RUN echo a   b\n\[WARNING\]: Empty continuation lines will become errors in a future release\.\n/, 'parser warnings');
    const target = await build(d, context({ Dockerfile: 'FROM busybox AS a\nRUN true\n' }), ['--target', 'nope']);
    expectMatch(target.stderr, /target stage "nope" could not be found/, '--target');

    for (const [flagText, name] of [['--mount=type=cache,target=/root/.cache', 'mount'], ['--network=none', 'network'], ['--security=insecure', 'security']]) {
      const r = await build(d, context({ Dockerfile: `FROM busybox\nRUN echo before\nRUN ${flagText} echo never\n` }), ['-t', 'flags:1', '--no-cache']);
      expectCode(r, 1, `RUN ${flagText}`);
      expectMatch(r.stdout, /Step 2\/3 : RUN echo before\n[\s\S]*\nbefore\n[\s\S]*Step 3\/3 : RUN /, 'the steps before it ran');
      expectMatch(r.stderr, new RegExp(`the --${name} option requires BuildKit\\. Refer to https://docs\\.docker\\.com/go/buildkit/ to learn how to build images with BuildKit enabled`), 'Docker\'s message');
      assert.doesNotMatch(r.stdout, /\nnever\n/, 'the command did not run');
    }
    expectCode(await d.docker(['image', 'inspect', 'flags:1']), 1, 'not tagged');
    // The build-wide --network is the legacy builder's way: host shares the daemon's network namespace.
    const host = await buildOk(d, context({ Dockerfile: 'FROM busybox\nRUN echo nics: $(ls /sys/class/net)\n' }), ['--network', 'host', '--no-cache']);
    const nics = /\nnics: (.*)\n/.exec(host)?.[1]?.split(' ') ?? [];
    assert.ok(nics.includes('lo') && !nics.includes('eth0') && nics.length > 1, `the daemon's interfaces with --network host: ${nics.join(' ')}`);
    assert.equal(okOut(await d.docker(['ps', '-aq']), 'ps'), before, 'no container left');
  });

  it('ARG scoping: global ARGs are steps and serve FROM; a stage sees them only when redeclared; ENV wins; proxies are not in history', async () => {
    const dir = context({
      Dockerfile: [
        'ARG BASE=busybox',
        'ARG VERSION=latest',
        'FROM ${BASE}:${VERSION} AS first',
        'RUN echo "unset-in-stage=[${VERSION}] user=${username:-some_user}"',
        'ARG VERSION',
        'ARG username',
        'RUN echo "redeclared=[${VERSION}] user=${username:-some_user}"',
        'ARG CONT_IMG_VER',
        'ENV CONT_IMG_VER=v1.0.0',
        'RUN echo "env-wins=${CONT_IMG_VER} proxy=$HTTP_PROXY"',
        'FROM first',
        'RUN echo "next-stage=[${username}]"',
      ].join('\n'),
    });
    const out = await buildOk(d, dir, ['--no-cache', '--build-arg', 'username=alice', '--build-arg', 'CONT_IMG_VER=v2.0.0', '--build-arg', 'HTTP_PROXY=http://proxy.invalid:3128', '--build-arg', 'NOTUSED=1', '-t', 'args:1']);
    expectMatch(out, /^Step 1\/12 : ARG BASE=busybox\nStep 2\/12 : ARG VERSION=latest\nStep 3\/12 : FROM \$\{BASE\}:\$\{VERSION\} AS first\n/m, 'global ARGs are the first steps');
    const lines = printed(out);
    assert.ok(lines.includes('unset-in-stage=[] user=some_user'), lines.join('\n'));
    assert.ok(lines.includes('redeclared=[latest] user=alice'), lines.join('\n'));
    assert.ok(lines.includes('env-wins=v1.0.0 proxy=http://proxy.invalid:3128'), lines.join('\n'));
    assert.ok(lines.includes('next-stage=[]'), lines.join('\n'));
    expectMatch(out, /\[Warning\] One or more build-args \[NOTUSED\] were not consumed\n/, 'the unused build-arg');
    const hist = okOut(await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'args:1']), 'history');
    assert.doesNotMatch(hist, /proxy\.invalid|HTTP_PROXY=/, 'proxy values stay out of the history');
    // A different proxy value does not invalidate the cache (it is not part of the step).
    const again = await buildOk(d, dir, ['--build-arg', 'username=alice', '--build-arg', 'CONT_IMG_VER=v2.0.0', '--build-arg', 'HTTP_PROXY=http://other.invalid:8080', '--build-arg', 'NOTUSED=1']);
    assert.deepEqual(ranSteps(again), [], 'all cached');
    // A stage the target does not need is skipped, but its ARGs count as consumed (Docker's builder would have run it).
    const skip = await buildOk(d, context({ Dockerfile: 'FROM busybox AS skipped\nARG ONLY_IN_SKIPPED\nRUN echo in-skipped\nFROM busybox\nRUN echo final\n' }),
      ['--build-arg', 'ONLY_IN_SKIPPED=1', '--build-arg', 'NOPE=1', '--no-cache']);
    assert.doesNotMatch(skip, /\nin-skipped\n/, 'the unneeded stage did not run');
    expectMatch(skip, /\[Warning\] One or more build-args \[NOPE\] were not consumed\n/, 'only the undeclared arg');
  });

  it('heredocs: several in one RUN, <<- strips tabs, COPY of several into a directory, a quoted delimiter is literal', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'ENV WHO=world',
        'RUN <<EOF1 cat > /a && cat <<EOF2 > /b',
        'line a',
        'EOF1',
        'line b $WHO',
        'EOF2',
        'RUN <<-EOT',
        '\techo tab-stripped > /c',
        '\tEOT',
        'COPY <<one <<two /dst/',
        '1 $WHO',
        'one',
        '2',
        'two',
        'COPY <<-"EOF" /lit',
        '\t$WHO literal',
        '\tEOF',
        'RUN <<EOF sh',
        'echo via-stdin > /d',
        'EOF',
      ].join('\n'),
    });
    await buildOk(d, dir, ['-t', 'heredocs:2']);
    const got = okOut(await d.docker(['run', '--rm', 'heredocs:2', 'sh', '-c', 'for f in /a /b /c /dst/one /dst/two /lit /d; do cat $f; done']), 'run');
    assert.equal(got, 'line a\nline b world\ntab-stripped\n1 world\n2\n$WHO literal\nvia-stdin');
  });

  it('ADD: gzip, bzip2 and xz archives are extracted, --unpack=false keeps one; a downloaded archive is extracted only with --unpack=true', async () => {
    const work = tempDir('addarch-');
    fs.mkdirSync(path.join(work, 'pkg'));
    fs.writeFileSync(path.join(work, 'pkg/hello.txt'), 'hello from an archive\n');
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'ADD a.tar.gz /gz/',
        'ADD a.tar.bz2 /bz2/',
        'ADD a.tar.xz /xz/',
        'ADD --unpack=false a.tar.gz /kept/',
        'ADD http://127.0.0.1:8791/a.tar.gz /url/',
        'ADD --unpack=true http://127.0.0.1:8791/a.tar.gz /urlx/',
        'RUN cat /gz/pkg/hello.txt /bz2/pkg/hello.txt /xz/pkg/hello.txt && ls /kept /url && cat /urlx/pkg/hello.txt',
      ].join('\n'),
    });
    for (const [flag, name] of [['-z', 'a.tar.gz'], ['-j', 'a.tar.bz2'], ['-J', 'a.tar.xz']]) {
      assert.equal(spawnSync('tar', ['-C', work, flag, '-cf', path.join(dir, name as string), 'pkg']).status, 0, name);
    }
    // The same archive served over HTTP from the daemon's network namespace.
    const www = fs.readFileSync(path.join(dir, 'a.tar.gz')).toString('base64');
    okOut(await d.docker(['run', '-d', '--name', 'archserver', '--network', 'host', 'busybox', 'sh', '-c', `mkdir /www && echo ${www} | base64 -d > /www/a.tar.gz && exec httpd -f -p 127.0.0.1:8791 -h /www`]), 'web server');
    try {
      await waitFor('the web server', () => d.nsRun('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:8791/a.tar.gz']).stdout === '200', { timeoutMs: 10_000 });
      const out = await buildOk(d, dir, ['--no-cache']);
      const lines = printed(out);
      assert.deepEqual(lines.filter((l) => l === 'hello from an archive').length, 4, out);
      assert.ok(lines.filter((l) => l === 'a.tar.gz').length === 2, `the archive kept as a file by --unpack=false and for a URL:\n${out}`);
    } finally {
      okOut(await d.docker(['rm', '-f', 'archserver']), 'rm');
    }
  });

  it('COPY --chown resolves names in the image (a user alone: GID = UID); --chmod takes octal, symbolic and ARG values', async () => {
    const dir = context({
      'f.txt': 'f\n', 'tool.sh': { data: '#!/bin/sh\n', mode: 0o700 }, 'dir/x': 'x\n',
      Dockerfile: [
        'FROM busybox',
        'RUN echo "svc:x:1234:5678::/:/bin/sh" >> /etc/passwd && echo "svcgrp:x:5678:" >> /etc/group && echo "ops:x:4321:" >> /etc/group',
        'ARG MODE=440',
        'COPY --chown=svc:ops f.txt /o/named',
        'COPY --chown=svc f.txt /o/useronly',
        'COPY --chown=10:11 f.txt /o/numeric',
        'COPY --chmod=$MODE f.txt /m/arg',
        'COPY --chmod=+x f.txt /m/plusx',
        'COPY --chmod=u=rwX,go=rX tool.sh f.txt /m/sym/',
        'COPY --chmod=g=u --chown=svc:svcgrp dir /m/dir',
        'RUN stat -c "%n %u:%g %a" /o/* /m/arg /m/plusx /m/sym/* /m/dir /m/dir/x',
      ].join('\n'),
    });
    const lines = printed(await buildOk(d, dir, ['--no-cache']));
    for (const want of ['/o/named 1234:4321 644', '/o/useronly 1234:1234 644', '/o/numeric 10:11 644', '/m/arg 0:0 440', '/m/plusx 0:0 755',
      '/m/sym/tool.sh 0:0 755', '/m/sym/f.txt 0:0 644', '/m/dir/x 1234:5678 664']) {
      assert.ok(lines.includes(want), `${want} in:\n${lines.join('\n')}`);
    }
    const missing = await build(d, context({ 'f.txt': 'f', Dockerfile: 'FROM busybox\nCOPY --chown=nosuchuser f.txt /f\n' }));
    expectMatch(missing.stderr, /unable to convert uid\/gid chown string to host mapping: can't find uid for user nosuchuser: no such user: nosuchuser/, 'unknown user');
    const bad = await build(d, context({ 'f.txt': 'f', Dockerfile: 'FROM busybox\nARG M=8\nCOPY --chmod=$M f.txt /f\n' }));
    expectMatch(bad.stderr, /invalid chmod parameter: '8'\. it should be octal string and between 0 and 07777/, 'bad chmod');
  });

  it('wildcards: several matches need a directory destination ending in /; one match may be a file; none is an error; ../ stays inside', async () => {
    const files = { 'a.txt': 'a\n', 'b.txt': 'b\n', 'one.md': 'one\n', 'arr[0].txt': 'bracket\n' };
    const many = await build(d, context({ ...files, Dockerfile: 'FROM busybox\nCOPY *.txt /dst\n' }));
    expectMatch(many.stderr, /When using COPY with more than one source file, the destination must be a directory and end with a \//, 'several matches');
    const none = await build(d, context({ ...files, Dockerfile: 'FROM busybox\nCOPY *.none /dst/\n' }));
    expectMatch(none.stderr, /COPY failed: no source files were specified/, 'no match');
    const ok = await buildOk(d, context({
      ...files,
      Dockerfile: 'FROM busybox\nCOPY *.md /single\nCOPY ?.txt /letters/\nCOPY arr[[]0].txt /escaped\nCOPY ../../a.txt /clamped\nRUN cat /single /escaped /clamped && ls /letters\n',
    }), ['--no-cache']);
    const lines = printed(ok);
    for (const want of ['one', 'bracket', 'a', 'a.txt', 'b.txt']) assert.ok(lines.includes(want), `${want} in:\n${ok}`);
    // --exclude (Dockerfile 1.19): patterns relative to the copied directory or to where the wildcard is evaluated.
    const ex = await buildOk(d, context({
      'home.txt': 'h', 'homer.md': 'h', 'homedir/x.txt': 'x', 'dir/a.md': 'a', 'dir/b.js': 'b', 'dir/sub/c.js': 'c', 'dir/keep/d.md': 'd',
      Dockerfile: 'FROM busybox\nCOPY --exclude=*.txt hom* /ex1/\nCOPY --exclude=*.md --exclude=sub dir /ex2/\nRUN cd / && find ex1 ex2 | sort\n',
    }), ['--no-cache']);
    const found = printed(ex).filter((l) => /^ex[12]/.test(l));
    // --parents (Dockerfile 1.20): paths kept below the destination, from a /./ pivot when there is one; ** recurses.
    const par = await buildOk(d, context({
      'x/a.txt': 'xa\n', 'y/a.txt': 'ya\n', 'p/q/b.txt': 'b', 'p/q/c.md': 'c', 'src/a.txt': '1', 'src/x/b.txt': '2', 'src/x/y/c.txt': '3', 'src/x/n.md': 'n', 'tree/t/u': 'u',
      Dockerfile: 'FROM busybox\nCOPY ./x/a.txt ./y/a.txt /no_parents/\nCOPY --parents ./x/a.txt ./y/a.txt /parents/\nCOPY --parents ./p/./q/*.txt /pivot/\nCOPY --parents ./src/**/*.txt /deep/\nCOPY --parents tree /kept/\nRUN cd / && find no_parents parents pivot deep kept -type f | sort && cat /parents/x/a.txt /parents/y/a.txt\n',
    }), ['--no-cache']);
    assert.deepEqual(printed(par), ['deep/src/a.txt', 'deep/src/x/b.txt', 'deep/src/x/y/c.txt', 'kept/tree/t/u', 'no_parents/a.txt', 'parents/x/a.txt', 'parents/y/a.txt', 'pivot/q/b.txt', 'xa', 'ya'], par);
    // homedir matches hom*: its contents are copied (a directory source); *.md is not **/*.md, so keep/d.md stays.
    assert.deepEqual(found, ['ex1', 'ex1/homer.md', 'ex1/x.txt', 'ex2', 'ex2/b.js', 'ex2/keep', 'ex2/keep/d.md'], ex);
  });

  it('metadata: HEALTHCHECK with every option and NONE, STOPSIGNAL, SHELL, ONBUILD, substitution modifiers', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'ENV FILE=/srv/app/archive.tar.gz',
        'HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --start-interval=2s --retries=4 CMD ["wget", "-q", "-O-", "http://localhost/"]',
        'STOPSIGNAL SIGQUIT',
        'SHELL ["/bin/sh", "-ec"]',
        'ONBUILD RUN echo triggered',
        'WORKDIR ${FILE%/*}',
        'LABEL base=${FILE##*/} stem=${FILE%%.*} swapped=${FILE/app/svc}',
        'RUN pwd',
      ].join('\n'),
    });
    const out = await buildOk(d, dir, ['-t', 'meta:2', '--no-cache']);
    expectMatch(out, /\n\/srv\/app\n/, 'WORKDIR from ${FILE%/*}');
    const cfg = JSON.parse(okOut(await d.docker(['inspect', '-f', '{{json .Config}}', 'meta:2']), 'inspect')) as Record<string, unknown>;
    assert.deepEqual(cfg['Healthcheck'], { Test: ['CMD', 'wget', '-q', '-O-', 'http://localhost/'], Interval: 5e9, Timeout: 3e9, StartPeriod: 10e9, StartInterval: 2e9, Retries: 4 });
    assert.equal(cfg['StopSignal'], 'SIGQUIT');
    assert.deepEqual(cfg['Shell'], ['/bin/sh', '-ec']);
    assert.deepEqual(cfg['OnBuild'], ['RUN echo triggered']);
    assert.deepEqual(cfg['Labels'], { base: 'archive.tar.gz', stem: '/srv/app/archive', swapped: '/srv/svc/archive.tar.gz' });
    const hist = okOut(await d.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'meta:2']), 'history');
    expectMatch(hist, /#\(nop\)  HEALTHCHECK &\{\["CMD" "wget" "-q" "-O-" "http:\/\/localhost\/"\] "5s" "3s" "10s" "2s" '\\x04'\}/, 'HEALTHCHECK in history');
    expectMatch(hist, /^\/bin\/sh -ec pwd$/m, 'RUN with the SHELL');
    // A child image: the trigger runs first; HEALTHCHECK NONE turns the check off.
    const child = await buildOk(d, context({ Dockerfile: 'FROM meta:2\nHEALTHCHECK NONE\n' }), ['-t', 'meta:child']);
    expectMatch(child, /# Executing 1 build trigger\n[\s\S]*\ntriggered\n/, 'ONBUILD trigger');
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{json .Config.Healthcheck}} {{json .Config.OnBuild}}', 'meta:child']), 'inspect child'), '{"Test":["NONE"]} null');
    const badSignal = await build(d, context({ Dockerfile: 'FROM busybox\nSTOPSIGNAL SIGNOPE\n' }));
    expectMatch(badSignal.stderr, /Invalid signal: SIGNOPE/, 'STOPSIGNAL');
  });

  it('COPY --from an image that is only in a registry pulls it', { skip: haveRegistry() ? false : 'no docker-registry binary' }, async () => {
    const reg = await startRegistry(d);
    try {
      const ref = `${reg.host}/build/files:1`;
      okOut(await d.docker(['build', '-t', ref, context({ Dockerfile: 'FROM busybox\nRUN echo from-the-registry > /payload\n' })], { timeoutMs: 120_000 }), 'build the source');
      okOut(await d.docker(['push', ref], { timeoutMs: 120_000 }), 'push');
      okOut(await d.docker(['rmi', ref]), 'rmi');
      const out = await buildOk(d, context({ Dockerfile: `FROM busybox\nCOPY --from=${ref} /payload /payload\nRUN cat /payload\n` }), ['--no-cache']);
      expectMatch(out, /\nfrom-the-registry\n/, 'copied from the pulled image');
    } finally {
      await reg.stop();
    }
    const missing = await build(d, context({ Dockerfile: 'FROM busybox\nCOPY --from=127.0.0.1:1/none:1 /x /x\n' }));
    expectCode(missing, 1, 'an image that cannot be pulled');
  });

  it('builder prune --filter until keeps newer cache; -a removes the rest; system df counts it', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo cached > /c\nLABEL x=1\n' });
    const first = await buildOk(d, dir);
    const id = builtId(first);
    const old = okOut(await d.docker(['builder', 'prune', '-f', '--filter', 'until=1h']), 'prune until=1h');
    expectMatch(old, /Total reclaimed space/, 'prune output');
    assert.deepEqual(cachedSteps(await buildOk(d, dir)), [2, 3], 'records newer than an hour survive');
    const df = await d.api<{ BuildCache: Array<{ Type: string; Size: number }> }>('GET', '/v1.41/system/df');
    assert.ok(df.json.BuildCache.length >= 2, JSON.stringify(df.json.BuildCache));
    okOut(await d.docker(['builder', 'prune', '-af']), 'prune -a');
    const again = await buildOk(d, dir);
    assert.deepEqual(cachedSteps(again), [], 'nothing cached after prune -a');
    assert.equal(builtId(again) === id, false, 'a fresh image');
  });
});
