// The build context the CLI sends (src/cli/buildctx.ts): .dockerignore
// rules, the Dockerfile and .dockerignore always sent, a Dockerfile from
// outside under a random name, owners 0:0, archive detection on stdin.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { contextFromLocalDir, contextTar, ContextError, dockerfileOnlyTar, isArchive, listContext, readDockerignore, trimBuildFilesFromExcludes } from '../../src/cli/buildctx';
import { readTar } from '../../src/common/archive';

async function entries(tar: NodeJS.ReadableStream): Promise<Array<{ name: string; uid: number; gid: number; type: string; data: string }>> {
  const out = [];
  for await (const e of readTar(tar)) {
    const chunks: Buffer[] = [];
    for await (const c of e.body) chunks.push(c);
    out.push({ name: e.header.name, uid: e.header.uid, gid: e.header.gid, type: e.header.type, data: Buffer.concat(chunks).toString() });
  }
  return out;
}

describe('build context', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ctx-'));
    const files: Record<string, string> = {
      'Dockerfile': 'FROM scratch\n',
      '.dockerignore': '*.log\n!keep.log\nbuild\n!build/dist/**\nDockerfile\nvendor/\n',
      'a.txt': 'a',
      'x.log': 'x',
      'keep.log': 'k',
      'build/tmp/t': 't',
      'build/dist/out.js': 'o',
      'vendor/v.go': 'v',
      'src/z.log': 'z',
    };
    for (const [n, t] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, n)), { recursive: true });
      fs.writeFileSync(path.join(dir, n), t);
    }
    fs.symlinkSync('a.txt', path.join(dir, 'link'));
    fs.linkSync(path.join(dir, 'a.txt'), path.join(dir, 'hard'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists what Docker sends: exceptions re-include below excluded dirs; Dockerfile and .dockerignore kept', () => {
    const { contextDir, relDockerfile } = contextFromLocalDir(dir, '');
    assert.equal(relDockerfile, 'Dockerfile');
    const excludes = trimBuildFilesFromExcludes(readDockerignore(contextDir), relDockerfile, false);
    assert.deepEqual(excludes.slice(-1), ['!Dockerfile']);
    const rels = listContext(contextDir, excludes).map((i) => (i.st.isDirectory() ? `${i.rel}/` : i.rel));
    // `*.log` is top-level only; build/dist itself stays excluded (no entry) while the exception brings its files back.
    assert.deepEqual(rels, ['.dockerignore', 'Dockerfile', 'a.txt', 'build/dist/out.js', 'hard', 'keep.log', 'link', 'src/', 'src/z.log']);
  });

  it('writes entries owned by root, hard links as links, symlinks as symlinks', async () => {
    const items = listContext(dir, []);
    const es = await entries(contextTar(items).tar);
    assert.ok(es.every((e) => e.uid === 0 && e.gid === 0));
    const byName = new Map(es.map((e) => [e.name, e]));
    assert.equal(byName.get('link')?.type, 'symlink');
    assert.equal(byName.get('a.txt')?.type, 'file');
    assert.equal(byName.get('hard')?.type, 'link');
    assert.equal(byName.get('build/')?.type, 'dir');
  });

  it('adds an outside Dockerfile under a random name and lists it in .dockerignore', async () => {
    const items = listContext(dir, []);
    const { tar, dockerfileName } = contextTar(items, { dockerfile: Buffer.from('FROM busybox\n') });
    assert.match(dockerfileName ?? '', /^\.dockerfile\.[0-9a-f]{20}$/);
    const es = await entries(tar);
    const ign = es.find((e) => e.name === '.dockerignore');
    assert.ok(ign?.data.endsWith(`\n${dockerfileName}\n`));
    assert.ok(ign?.data.startsWith('*.log\n'));
    assert.equal(es.filter((e) => e.name === '.dockerignore').length, 1);
    assert.equal(es.at(-1)?.name, dockerfileName);
    assert.equal(es.at(-1)?.data, 'FROM busybox\n');
  });

  it('without a .dockerignore, one is made for the added Dockerfile', async () => {
    const items = listContext(dir, ['.dockerignore']);
    const { tar, dockerfileName } = contextTar(items, { dockerfile: Buffer.from('FROM x\n') });
    const es = await entries(tar);
    assert.equal(es.find((e) => e.name === '.dockerignore')?.data, `.dockerignore\n${dockerfileName}\n`);
  });

  it('Dockerfile lookup: -f relative to the cwd, lower-case fallback, Docker error wording', () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ctx2-'));
    try {
      fs.writeFileSync(path.join(other, 'dockerfile'), 'FROM x\n');
      assert.equal(contextFromLocalDir(other, '').relDockerfile, 'dockerfile');
      assert.equal(contextFromLocalDir(other, path.join(dir, 'Dockerfile')).relDockerfile, path.relative(fs.realpathSync(other), fs.realpathSync(path.join(dir, 'Dockerfile'))));
      fs.rmSync(path.join(other, 'dockerfile'));
      assert.throws(() => contextFromLocalDir(other, ''), (e: Error) => e instanceof ContextError && e.message === `unable to evaluate symlinks in Dockerfile path: lstat ${fs.realpathSync(other)}/Dockerfile: no such file or directory`);
      assert.throws(() => contextFromLocalDir(path.join(dir, 'a.txt'), ''), /context must be a directory/);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('a .dockerignore that cannot be read is reported as Docker does', () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ctx3-'));
    try {
      fs.mkdirSync(path.join(other, '.dockerignore'));
      assert.throws(() => readDockerignore(other), { message: `error reading .dockerignore: read ${other}/.dockerignore: is a directory` });
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('recognises archives on stdin', async () => {
    const chunks: Buffer[] = [];
    for await (const c of dockerfileOnlyTar(Buffer.from('FROM x\n'))) chunks.push(c as Buffer);
    const tar = Buffer.concat(chunks);
    assert.ok(isArchive(tar));
    assert.ok(isArchive(Buffer.from([0x1f, 0x8b, 8, 0])));
    assert.ok(!isArchive(Buffer.from('FROM busybox\nRUN true\n')));
    assert.ok(!isArchive(Buffer.alloc(1024, 0x41)));
    const es = await entries(dockerfileOnlyTar(Buffer.from('FROM x\n')));
    assert.deepEqual(es.map((e) => [e.name, e.data]), [['Dockerfile', 'FROM x\n']]);
  });
});
