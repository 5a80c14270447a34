// The build context and COPY/ADD: .dockerignore (applied by the CLI and by
// berthd to what it receives), hostile contexts (../ entries, symlinks out of
// the context, archives with ../ members), ADD archives and URLs, --chown,
// --chmod, wildcards, COPY --from an image, ONBUILD, and the error stream.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { packTar, type TarInput } from '../../src/common/archive';
import { expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon, waitFor } from '../harness';
import { apiBuild, build, buildOk, context, streamText, tarOf, tempDir } from './build-util';
import { haveRegistry, startRegistry } from './registry-peer';

function tarBuffer(entries: TarInput[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    packTar(entries).on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts))).on('error', reject);
  });
}

const FILES = ['a.txt', 'app.log', 'secret/s1', 'secret/keep', 'sub/c.log', 'sub/y.txt', 'logs/x.log'];

describe('docker build: context, COPY and ADD', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  const ignoreFiles = (): Record<string, string> => {
    const files: Record<string, string> = { '.dockerignore': '# build context rules\n*.log\nsecret/\n!secret/keep\n/logs\n', Dockerfile: 'FROM busybox\nCOPY . /ctx\n' };
    for (const f of FILES) files[f] = `${f}\n`;
    return files;
  };
  const expected = ['.dockerignore', 'Dockerfile', 'a.txt', 'secret', 'secret/keep', 'sub', 'sub/c.log', 'sub/y.txt'];
  const listing = async (image: string): Promise<string[]> =>
    okOut(await d.docker(['run', '--rm', image, 'sh', '-c', 'cd /ctx && find . -mindepth 1 | sed "s|^\\./||" | sort']), 'find').split('\n');

  it('.dockerignore (*.log, secret/ with !secret/keep, /logs, comments): the image has exactly the expected files', async () => {
    await buildOk(d, context(ignoreFiles()), ['-t', 'ignored:cli']);
    assert.deepEqual(await listing('ignored:cli'), expected);
  });

  it('berthd applies .dockerignore itself to a context sent unfiltered', async () => {
    const dir = context(ignoreFiles());
    const r = await apiBuild(d, tarOf(dir), 't=ignored:api');
    assert.equal(r.status, 200, r.text);
    expectMatch(streamText(r.messages), /Successfully tagged ignored:api/, 'built');
    assert.deepEqual(await listing('ignored:api'), expected);
    // A .dockerignore naming the Dockerfile and itself: the build still reads them, COPY does not see them.
    const r2 = await apiBuild(d, tarOf(context({ '.dockerignore': 'Dockerfile\n.dockerignore\n', Dockerfile: 'FROM busybox\nCOPY . /ctx\n', 'x.txt': 'x' })), 't=ignored:self');
    assert.equal(r2.status, 200, r2.text);
    assert.deepEqual(await listing('ignored:self'), ['x.txt']);
  });

  it('a context with ../ entries is refused and writes nothing outside', async () => {
    const outside = path.join(os.tmpdir(), `berth-escape-${process.pid}`);
    fs.rmSync(outside, { force: true });
    const depth = '../'.repeat(12);
    const body = await tarBuffer([
      { name: 'Dockerfile', type: 'file', body: Buffer.from('FROM busybox\nCOPY . /ctx\n') },
      { name: `${depth}${outside.slice(1)}`, type: 'file', body: Buffer.from('escaped') },
    ]);
    const r = await apiBuild(d, body, 't=hostile:1');
    assert.equal(r.status, 400, r.text);
    expectMatch(r.text, /points outside the context/, 'error');
    assert.equal(fs.existsSync(outside), false, 'nothing was written outside the context');
    expectCode(await d.docker(['image', 'inspect', 'hostile:1']), 1, 'no image');
    // Nor inside the daemon's namespace.
    assert.notEqual(d.nsRun('test', ['-e', outside]).code, 0);
  });

  it('symlinks pointing out of the context resolve inside it when used as COPY sources', async () => {
    const hostSecret = path.join(os.tmpdir(), `berth-host-secret-${process.pid}`);
    fs.writeFileSync(hostSecret, 'host secret\n');
    const body = await tarBuffer([
      { name: 'Dockerfile', type: 'file', body: Buffer.from('FROM busybox\nCOPY abs /abs\nCOPY up /up\nCOPY dir/ /d/\n') },
      { name: hostSecret.slice(1), type: 'file', body: Buffer.from('in-context copy\n') },
      { name: 'abs', type: 'symlink', linkname: hostSecret },
      { name: 'up', type: 'symlink', linkname: `${'../'.repeat(10)}${hostSecret.slice(1)}` },
      { name: 'dir/inner', type: 'symlink', linkname: '/etc/shadow' },
    ]);
    const r = await apiBuild(d, body, 't=links:1');
    assert.equal(r.status, 200, r.text);
    assert.ok(!r.messages.some((m) => m['error']), r.text);
    assert.equal(okOut(await d.docker(['run', '--rm', 'links:1', 'cat', '/abs', '/up']), 'run'), 'in-context copy\nin-context copy');
    // A symlink inside a copied directory is copied as a symlink (it points into the image, not the host).
    assert.equal(okOut(await d.docker(['run', '--rm', 'links:1', 'readlink', '/d/inner']), 'readlink'), '/etc/shadow');
    // When the target is not in the context, the source does not exist.
    const missing = await tarBuffer([
      { name: 'Dockerfile', type: 'file', body: Buffer.from('FROM busybox\nCOPY abs /abs\n') },
      { name: 'abs', type: 'symlink', linkname: hostSecret },
    ]);
    const m = await apiBuild(d, missing, 't=links:2');
    const err = m.messages.find((x) => x['error']);
    assert.ok(err, m.text);
    expectMatch(String(err['error']), /COPY failed: file not found in build context/, 'error');
    assert.doesNotMatch(m.text, /host secret/);
    fs.rmSync(hostSecret, { force: true });
  });

  it('ADD extracts local archives (members with ../ stay inside the destination), copies other files as they are', async () => {
    const work = tempDir('addsrc-');
    fs.mkdirSync(path.join(work, 'pkg/bin'), { recursive: true });
    fs.writeFileSync(path.join(work, 'pkg/bin/tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
    const dir = context({ Dockerfile: 'FROM busybox\nADD pkg.tar.gz /opt/\nADD evil.tar /dst/\nADD plain.txt /plain.txt\nRUN find /opt /dst | sort && cat /plain.txt\n', 'plain.txt': 'not an archive\n' });
    assert.equal(spawnSync('tar', ['-C', work, '-czf', path.join(dir, 'pkg.tar.gz'), 'pkg']).status, 0);
    fs.writeFileSync(path.join(dir, 'evil.tar'), await tarBuffer([{ name: '../../../../etc/evil', type: 'file', body: Buffer.from('contained\n') }]));
    const out = await buildOk(d, dir, ['-t', 'adds:1']);
    expectMatch(out, /\n\/opt\/pkg\/bin\/tool\n/, 'extracted');
    expectMatch(out, /\n\/dst\/etc\/evil\n/, '../ members land under the destination');
    expectMatch(out, /\nnot an archive\n/, 'plain file');
    assert.equal(okOut(await d.docker(['run', '--rm', 'adds:1', '/opt/pkg/bin/tool']), 'tool'), 'tool');
    expectCode(await d.docker(['run', '--rm', 'adds:1', 'test', '-e', '/etc/evil']), 1, 'nothing outside the destination');
  });

  it('ADD of a URL: fetched when reachable, a clear error when not', async () => {
    // A web server in the daemon's network namespace.
    okOut(await d.docker(['run', '-d', '--name', 'fileserver', '--network', 'host', 'busybox', 'sh', '-c', 'mkdir /www && echo remote-content > /www/file.txt && printf "FROM busybox\\nRUN echo built-from-a-remote-dockerfile\\n" > /www/Dockerfile && exec httpd -f -p 127.0.0.1:8777 -h /www']), 'web server');
    await waitFor('the file server', () => d.nsRun('curl', ['-s', '-m', '2', 'http://127.0.0.1:8777/file.txt']).stdout, { timeoutMs: 10_000 });
    const out = await buildOk(d, context({ Dockerfile: 'FROM busybox\nADD http://127.0.0.1:8777/file.txt /downloads/\nRUN cat /downloads/file.txt && stat -c %a /downloads/file.txt\n' }));
    expectMatch(out, /\nremote-content\n600\n/, 'downloaded with mode 0600');
    const notFound = await build(d, context({ Dockerfile: 'FROM busybox\nADD http://127.0.0.1:8777/missing /f\n' }));
    expectMatch(notFound.stderr, /ADD failed: failed to GET http:\/\/127\.0\.0\.1:8777\/missing with status 404/, 'HTTP errors');
    // A remote context: the URL of a Dockerfile (POST /build?remote=...).
    const remote = await d.api('POST', `/v1.41/build?remote=${encodeURIComponent('http://127.0.0.1:8777/Dockerfile')}&t=remote:1`, undefined, { timeoutMs: 60_000 });
    assert.equal(remote.status, 200, remote.text);
    expectMatch(remote.text, /built-from-a-remote-dockerfile/, 'remote Dockerfile');
    okOut(await d.docker(['rm', '-f', 'fileserver']), 'rm');
    const r = await build(d, context({ Dockerfile: 'FROM busybox\nADD http://127.0.0.1:8778/nothing.tar /x\n' }));
    expectCode(r, 1, 'unreachable URL');
    expectMatch(r.stderr, /ADD failed: failed to GET http:\/\/127\.0\.0\.1:8778\/nothing\.tar: .*(ECONNREFUSED|refused)/i, 'error names the URL and the cause');
    const dns = await build(d, context({ Dockerfile: 'FROM busybox\nADD http://no-such-host.invalid/f /f\n' }));
    expectMatch(dns.stderr, /ADD failed: failed to GET http:\/\/no-such-host\.invalid\/f: /, 'unresolvable host');

  });

  it('COPY --chown/--chmod, wildcards, directories, multiple sources, COPY --from an image', async () => {
    const dir = context({
      'src/a.js': 'a', 'src/b.js': 'b', 'src/c.txt': 'c', 'src/lib/d.js': 'd', 'run.sh': { data: '#!/bin/sh\necho run\n', mode: 0o700 },
      Dockerfile: [
        'FROM busybox',
        'COPY --chown=app:app src/*.js /js/',
        'COPY --chown=1000 --chmod=640 src /tree',
        'COPY src/a.js src/c.txt /multi/',
        'COPY run.sh /usr/bin/',
        'COPY --from=busybox /bin/busybox /opt/bb/echo',
        'RUN ls -ln /js /tree /tree/lib /multi | grep -v ^total && stat -c "%a %U" /usr/bin/run.sh && /opt/bb/echo from-image',
      ].join('\n'),
    });
    const out = await buildOk(d, dir, ['--no-cache']);
    const lines = out.split('\n');
    const has = (re: RegExp): void => assert.ok(lines.some((l) => re.test(l)), `${re} in:\n${out}`);
    has(/^-rw-r--r-- +1 1000 +1000 .* a\.js$/);
    has(/^-rw-r--r-- +1 1000 +1000 .* b\.js$/);
    has(/^-rw-r----- +1 1000 +1000 .* c\.txt$/);
    has(/^drw-r----- +2 1000 +1000 .* lib$/);
    has(/^-rw-r--r-- +1 0 +0 .* c\.txt$/);
    has(/^700 root$/);
    has(/^from-image$/);
    const multi = await build(d, context({ 'a': 'a', 'b': 'b', Dockerfile: 'FROM busybox\nCOPY a b /notadir\n' }));
    expectMatch(multi.stderr, /When using COPY with more than one source file, the destination must be a directory and end with a \//, 'error');
    // `../` that would leave the context is dropped (Dockerfile reference): ../x is the context's x, absent here.
    const outside = await build(d, context({ Dockerfile: 'FROM busybox\nCOPY ../x /x\n' }));
    expectMatch(outside.stderr, /COPY failed: file not found in build context or excluded by \.dockerignore: stat x: file does not exist/, 'error');
  });

  it('ONBUILD triggers run in the child build', async () => {
    await buildOk(d, context({ Dockerfile: 'FROM busybox\nONBUILD RUN echo triggered > /onbuild.txt\nONBUILD COPY f.txt /f.txt\n' }), ['-t', 'onbuild-base']);
    const out = await buildOk(d, context({ Dockerfile: 'FROM onbuild-base\nRUN cat /onbuild.txt /f.txt\n', 'f.txt': 'from child context\n' }), ['-t', 'onbuild-child']);
    expectMatch(out, /# Executing 2 build triggers\n/, 'triggers announced');
    expectMatch(out, /\ntriggered\nfrom child context\n/, 'triggers ran');
    // As Docker: the triggers were consumed, the child has none (null, not an empty list).
    assert.equal(okOut(await d.docker(['inspect', '-f', '{{json .Config.OnBuild}}', 'onbuild-child']), 'inspect'), 'null');
  });

  it('FROM an image that is only in a registry: pulled during the build (progress in the stream); --pull', { skip: haveRegistry() ? false : 'no docker-registry binary' }, async () => {
    const reg = await startRegistry(d);
    try {
      const ref = `${reg.host}/build/base:1`;
      okOut(await d.docker(['tag', 'busybox', ref]), 'tag');
      okOut(await d.docker(['push', ref], { timeoutMs: 120_000 }), 'push');
      okOut(await d.docker(['rmi', ref]), 'rmi');
      const dir = context({ Dockerfile: `FROM ${ref}\nRUN echo built-on-a-pulled-base\n` });
      const r = await apiBuild(d, tarOf(dir), 't=pulled:1');
      assert.equal(r.status, 200, r.text);
      assert.ok(!r.messages.some((m) => m['error']), r.text);
      assert.ok(r.messages.some((m) => typeof m['status'] === 'string' && /Pulling from build\/base|Download complete|Pull complete|Already exists/.test(m['status'])), `pull progress in the stream: ${r.text.slice(0, 2000)}`);
      expectMatch(streamText(r.messages), /built-on-a-pulled-base/, 'RUN on the pulled base');
      okOut(await d.docker(['image', 'inspect', ref]), 'the base is now local');
      const again = await buildOk(d, dir, ['--pull']);
      expectMatch(again, /Successfully built/, '--pull with the registry reachable');
    } finally {
      await reg.stop();
    }
    // --pull when the registry is gone: the local copy is used.
    const local = await buildOk(d, context({ Dockerfile: 'FROM busybox\nRUN true\n' }), ['--pull']);
    expectMatch(local, /Successfully built/, '--pull without a registry');
  });

  it('the error stream: in-band errorDetail with the exit code, and a 400 before any output', async () => {
    const r = await apiBuild(d, await tarBuffer([{ name: 'Dockerfile', type: 'file', body: Buffer.from('FROM busybox\nRUN exit 3\n') }]), 't=errs');
    assert.equal(r.status, 200);
    const last = r.messages[r.messages.length - 1] ?? {};
    assert.deepEqual(last, { errorDetail: { code: 3, message: "The command '/bin/sh -c exit 3' returned a non-zero code: 3" }, error: "The command '/bin/sh -c exit 3' returned a non-zero code: 3" });
    const bad = await apiBuild(d, await tarBuffer([{ name: 'Dockerfile', type: 'file', body: Buffer.from('FROM busybox\nBOGUS x\n') }]), '');
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.text), { message: 'dockerfile parse error on line 2: unknown instruction: BOGUS\nDockerfile:2: unknown instruction: BOGUS' });
    const missing = await apiBuild(d, await tarBuffer([{ name: 'Dockerfile', type: 'file', body: Buffer.from('FROM nosuchimage:1\n') }]), '');
    const err = missing.messages.find((m) => m['error']);
    assert.ok(err, missing.text);
    expectMatch(String(err['error']), /nosuchimage/, 'the missing base image is named');
  });
});
