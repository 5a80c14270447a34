// Bad input: malformed JSON, unknown containers, taken names, and hostile
// import tars (../ entries, absolute paths, symlinks and hard links out of
// the layer). Nothing may land outside the data-root and berthd keeps serving.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as tar from 'tar-stream';
import { expectCode, expectMatch, okOut, skipUnlessRoot, useDaemon } from '../harness';
import type { Daemon } from '../harness';

interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
  content?: string;
}

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: Buffer) => chunks.push(c));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header: tar.Headers = { name: e.name, type, mode: type === 'directory' ? 0o755 : 0o644, mtime: new Date(0) };
    if (e.linkname !== undefined) header.linkname = e.linkname;
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry(header, e.content ?? 'x\n', cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  return done;
}

/** Every path under dir (relative), with size for files, skipping the given subtrees. */
function tree(dir: string, skip: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string): void => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      const full = path.join(p, e.name);
      if (skip.includes(full)) continue;
      const st = fs.lstatSync(full);
      out.set(path.relative(dir, full), e.isDirectory() ? 'dir' : `${st.mode.toString(8)} ${st.nlink}`);
      if (e.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out;
}

const UP = '../'.repeat(24);

describe('bad input', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon();

  const stillServing = async (after: string): Promise<void> => {
    const ping = await d.api('GET', '/_ping').catch((e: Error) => ({ status: 0, text: e.message }));
    assert.equal(ping.status, 200, `berthd stopped answering after ${after}: ${ping.text}`);
    assert.ok(d.running, `berthd died after ${after}`);
    expectCode(await d.docker(['ps']), 0, `docker ps after ${after}`);
  };

  describe('API errors', () => {
    it('malformed JSON gets 400 with a message', async () => {
      for (const body of ['{"Image": "busybox",', 'not json at all', '{"Image": "busybox"}}', '[1,2']) {
        for (const p of ['/containers/create', '/v1.41/containers/create?name=malformed']) {
          const r = await d.api<{ message?: string }>('POST', p, body, { headers: { 'Content-Type': 'application/json' } });
          assert.equal(r.status, 400, `POST ${p} ${JSON.stringify(body)} → ${r.status} ${r.text}`);
          assert.equal(r.headers['content-type'], 'application/json', 'error bodies are application/json');
          assert.ok(typeof r.json?.message === 'string' && r.json.message.length > 0, `no message in ${r.text}`);
        }
      }
      const wrongType = await d.api<{ message?: string }>('POST', '/containers/create', '{"Image": 42, "Cmd": "x"}', { headers: { 'Content-Type': 'application/json' } });
      assert.equal(wrongType.status, 400, `wrongly typed fields → ${wrongType.status} ${wrongType.text}`);
      assert.ok(wrongType.json?.message, wrongType.text);
      // Nothing was created by any of that.
      assert.equal(okOut(await d.docker(['ps', '-aq']), 'ps -aq'), '');
      await stillServing('malformed JSON');
    });

    it('malformed JSON on exec create gets 400', async () => {
      okOut(await d.docker(['run', '-d', '--name', 'exec-target', 'busybox', 'sleep', '1000']), 'run');
      const r = await d.api<{ message?: string }>('POST', '/containers/exec-target/exec', '{"Cmd": ["true"', { headers: { 'Content-Type': 'application/json' } });
      assert.equal(r.status, 400, r.text);
      assert.ok(r.json?.message, r.text);
      okOut(await d.docker(['rm', '-f', 'exec-target']), 'rm -f');
      await stillServing('malformed exec JSON');
    });

    it('unknown container gets 404 "No such container"', async () => {
      const r = await d.api<{ message: string }>('GET', '/containers/nosuchctr/json');
      assert.equal(r.status, 404);
      assert.equal(r.json.message, 'No such container: nosuchctr');
      for (const [method, p] of [
        ['POST', '/containers/nosuchctr/start'],
        ['POST', '/containers/nosuchctr/stop'],
        ['POST', '/containers/nosuchctr/kill'],
        ['DELETE', '/containers/nosuchctr'],
        ['GET', '/containers/nosuchctr/logs?stdout=1'],
        ['POST', '/containers/nosuchctr/exec'],
      ] as const) {
        const x = await d.api<{ message: string }>(method, p, method === 'POST' && p.endsWith('/exec') ? { Cmd: ['true'] } : undefined);
        assert.equal(x.status, 404, `${method} ${p} → ${x.status} ${x.text}`);
        expectMatch(x.json.message, /No such container: nosuchctr/, `${method} ${p}`);
      }
      const ins = await d.docker(['inspect', 'nosuchctr']);
      expectCode(ins, 1, 'docker inspect nosuchctr');
      expectMatch(ins.stderr, /No such object: nosuchctr/, 'inspect stderr');
      for (const cmd of [['rm', 'nosuchctr'], ['stop', 'nosuchctr'], ['logs', 'nosuchctr'], ['exec', 'nosuchctr', 'true'], ['start', 'nosuchctr']]) {
        const x = await d.docker(cmd);
        expectCode(x, 1, `docker ${cmd.join(' ')}`);
        expectMatch(x.stderr, /No such container: nosuchctr/, `docker ${cmd.join(' ')}`);
      }
      expectCode(await d.docker(['rm', '-f', 'nosuchctr']), 0, 'docker rm -f of a missing container is not an error');
      await stillServing('404s');
    });

    it('unknown image gets 404 "No such image"', async () => {
      const r = await d.api<{ message: string }>('POST', '/containers/create', { Image: 'nosuchimage:latest', Cmd: ['true'] });
      assert.equal(r.status, 404, r.text);
      assert.equal(r.json.message, 'No such image: nosuchimage:latest');
      const i = await d.api<{ message: string }>('GET', '/images/nosuchimage/json');
      assert.equal(i.status, 404, i.text);
      expectMatch(i.json.message, /No such image: nosuchimage/, 'image inspect');
    });

    it('a taken name gets 409', async () => {
      okOut(await d.docker(['create', '--name', 'taken', 'busybox', 'true']), 'first create');
      const r = await d.docker(['create', '--name', 'taken', 'busybox', 'true']);
      expectCode(r, 1, 'second create with the same name');
      expectMatch(r.stderr, /Conflict\. The container name "\/taken" is already in use by container "[0-9a-f]{64}"\. You have to remove \(or rename\) that container to be able to reuse that name\./, 'stderr');
      const api = await d.api<{ message: string }>('POST', '/containers/create?name=taken', { Image: 'busybox', Cmd: ['true'] });
      assert.equal(api.status, 409, api.text);
      const run = await d.docker(['run', '--name', 'taken', 'busybox', 'true']);
      expectCode(run, 125, 'run with a taken name');
      assert.equal(okOut(await d.docker(['ps', '-a', '--format', '{{.Names}}']), 'ps -a'), 'taken', 'still exactly one container');
      okOut(await d.docker(['rm', 'taken']), 'rm');
      await stillServing('409s');
    });

    it('an invalid name gets 400', async () => {
      const r = await d.docker(['create', '--name', 'bad name!', 'busybox', 'true']);
      expectCode(r, 1, 'create with an invalid name');
      expectMatch(r.stderr, /Invalid container name \(bad name!\), only \[a-zA-Z0-9\]\[a-zA-Z0-9_\.-\] are allowed/, 'stderr');
      const api = await d.api('POST', `/containers/create?name=${encodeURIComponent('../x')}`, { Image: 'busybox', Cmd: ['true'] });
      assert.equal(api.status, 400, api.text);
    });
  });

  describe('hostile import tars', () => {
    let outside = '';
    let secret = '';
    const tag = crypto.randomBytes(4).toString('hex');
    const hostEscapes = [`/berth-escape-${tag}`, `/tmp/berth-escape-${tag}`];

    const check = async (what: string, before: Map<string, string>): Promise<void> => {
      assert.equal(fs.readFileSync(secret, 'utf8'), 'secret\n', `${what}: the outside file was overwritten`);
      assert.equal(fs.statSync(secret).nlink, 1, `${what}: the outside file got hard-linked from the layer`);
      assert.deepEqual(fs.readdirSync(outside).sort(), ['secret'], `${what}: files appeared outside the data-root`);
      for (const p of hostEscapes) assert.ok(!fs.existsSync(p), `${what}: ${p} was created on the host`);
      const after = tree(d.dir, [d.dataRoot, d.execRoot, d.logFile, d.dockerConfig]);
      const added = [...after.keys()].filter((k) => !before.has(k));
      assert.deepEqual(added, [], `${what}: new files in the sandbox outside the data-root`);
      await stillServing(what);
    };

    const attempt = async (daemon: Daemon, name: string, entries: Entry[]): Promise<void> => {
      const before = tree(daemon.dir, [daemon.dataRoot, daemon.execRoot, daemon.logFile, daemon.dockerConfig]);
      const file = path.join(daemon.dir, `${name}.tar`);
      fs.writeFileSync(file, await makeTar(entries));
      before.set(`${name}.tar`, '');
      const imp = await daemon.docker(['import', file, `evil-${name}:latest`]);
      fs.rmSync(file);
      before.delete(`${name}.tar`);
      await check(`import of ${name}`, before);
      if (imp.code === 0) {
        // The layer may be unpacked lazily: make a container use it too.
        const c = await daemon.docker(['create', '--name', `evil-${name}`, `evil-${name}:latest`, '/nonexistent']);
        if (c.code === 0) {
          await daemon.docker(['start', `evil-${name}`]);
          await check(`container from ${name}`, before);
          okOut(await daemon.docker(['rm', '-f', `evil-${name}`]), 'rm -f');
        }
        await daemon.docker(['rmi', '-f', `evil-${name}:latest`]);
        await check(`after rmi of ${name}`, before);
      } else {
        assert.ok(imp.stderr.trim().length > 0, `import of ${name} failed without a message`);
      }
    };

    it('set up a file outside the data-root', () => {
      outside = path.join(d.dir, 'outside');
      fs.mkdirSync(outside);
      secret = path.join(outside, 'secret');
      fs.writeFileSync(secret, 'secret\n');
    });

    it('../ entries', async () => {
      await attempt(d, 'dotdot', [
        { name: 'ok.txt' },
        { name: `${UP}${outside.slice(1)}/dotdot-file` },
        { name: `sub/${UP}${outside.slice(1)}/dotdot-nested` },
        { name: `${UP}tmp/berth-escape-${tag}` },
        { name: `${UP}${outside.slice(1)}/dotdot-dir/`, type: 'directory' },
      ]);
    });

    it('absolute paths', async () => {
      await attempt(d, 'absolute', [
        { name: 'ok.txt' },
        { name: `${outside}/abs-file` },
        { name: `/berth-escape-${tag}` },
        { name: `/tmp/berth-escape-${tag}` },
        { name: `${outside}/abs-dir/`, type: 'directory' },
      ]);
    });

    it('a symlink pointing out of the layer, then a file written through it', async () => {
      await attempt(d, 'symlink-abs', [
        { name: 'escape', type: 'symlink', linkname: outside },
        { name: 'escape/through-abs-symlink', content: 'pwned\n' },
        { name: 'escape/through-dir/', type: 'directory' },
        { name: 'escape/secret', content: 'pwned\n' },
      ]);
      await attempt(d, 'symlink-rel', [
        { name: 'a/', type: 'directory' },
        { name: 'a/b/', type: 'directory' },
        { name: 'a/b/rel', type: 'symlink', linkname: `${UP}${outside.slice(1)}` },
        { name: 'a/b/rel/through-rel-symlink', content: 'pwned\n' },
        { name: 'a/b/rel/secret', content: 'pwned\n' },
      ]);
      await attempt(d, 'symlink-root', [
        { name: 'root', type: 'symlink', linkname: '/' },
        { name: `root/berth-escape-${tag}`, content: 'pwned\n' },
        { name: `root/tmp/berth-escape-${tag}`, content: 'pwned\n' },
        { name: `root/${outside.slice(1)}/via-root-link`, content: 'pwned\n' },
      ]);
    });

    it('hard links out of the layer', async () => {
      await attempt(d, 'hardlink', [
        { name: 'hl-abs', type: 'link', linkname: secret },
        { name: 'hl-rel', type: 'link', linkname: `${UP}${secret.slice(1)}` },
        { name: 'hl-abs', content: 'pwned\n' },
      ]);
      await attempt(d, 'hardlink-via-symlink', [
        { name: 'esc', type: 'symlink', linkname: outside },
        { name: 'steal', type: 'link', linkname: 'esc/secret' },
        { name: 'steal', content: 'pwned\n' },
      ]);
    });

    it('a truncated tar and a non-tar body are refused cleanly', async () => {
      const good = await makeTar([{ name: 'a.txt', content: 'a'.repeat(5000) }]);
      for (const [label, body] of [
        ['truncated', good.subarray(0, 1024 + 100)],
        ['garbage', crypto.randomBytes(4096)],
      ] as const) {
        const before = tree(d.dir, [d.dataRoot, d.execRoot, d.logFile, d.dockerConfig]);
        const r = await d.api('POST', `/images/create?fromSrc=-&repo=broken-${label}&tag=latest`, body, { headers: { 'Content-Type': 'application/x-tar' } });
        const failed = r.status >= 400 || /"error"/.test(r.text);
        assert.ok(failed, `import of a ${label} tar succeeded: ${r.status} ${r.text}`);
        const img = await d.api('GET', `/images/broken-${label}:latest/json`);
        assert.equal(img.status, 404, `a ${label} import left an image behind`);
        await check(`${label} tar`, before);
      }
    });

    it('nothing escaped at any point (final check)', async () => {
      for (const p of hostEscapes) {
        const existed = fs.existsSync(p);
        if (existed) fs.rmSync(p, { recursive: true, force: true });
        assert.ok(!existed, `${p} exists on the host`);
      }
      assert.deepEqual(fs.readdirSync(outside).sort(), ['secret']);
    });
  });
});
