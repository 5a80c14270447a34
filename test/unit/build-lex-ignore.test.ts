// Variable substitution (BuildKit's shell lexer), .dockerignore patterns
// (moby/patternmatcher), planning (needed stages, meta args) and the build
// context's virtual filesystem (hostile names, symlinks kept inside).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { packTar, type TarInput } from '../../src/common/archive';
import {
  BuildContext, evalMetaArgs, expandHeredoc, parseDockerignore, parseStages, PatternMatcher, planBuild, processWord, processWords,
} from '../../src/build';

const env = new Map([['A', 'a'], ['EMPTY', ''], ['SP', 'x y'], ['PATH', '/bin']]);

describe('variable substitution', () => {
  test('$var, ${var} and quoting', () => {
    assert.equal(processWord('$A-${A}_$UNSET.', env), 'a-a_.');
    assert.equal(processWord("'$A' \"$A\" \\$A", env), '$A a $A');
    assert.equal(processWord('"a\\"b\\$c\\d"', env), 'a"b$c\\d');
    assert.equal(processWord('$', env), '$');
    assert.equal(processWord('${PATH}:/usr/bin', env), '/bin:/usr/bin');
    assert.equal(processWord('a\\ b', env), 'a b');
  });

  test('modifiers: :- - :+ + :? ?', () => {
    assert.equal(processWord('${UNSET:-dflt} ${EMPTY:-dflt} ${A:-dflt}', env), 'dflt dflt a');
    assert.equal(processWord('${UNSET-dflt}|${EMPTY-dflt}', env), 'dflt|');
    assert.equal(processWord('${A:+alt} ${EMPTY:+alt} ${UNSET:+alt}', env), 'alt  ');
    assert.equal(processWord('${EMPTY+alt}', env), 'alt');
    assert.equal(processWord('${UNSET:-${A}x}', env), 'ax');
    assert.throws(() => processWord('${UNSET:?must be set}', env), /UNSET: must be set/);
    assert.throws(() => processWord('${EMPTY:?}', env), /EMPTY: is not allowed to be empty/);
    assert.equal(processWord('${EMPTY?}', env), '');
    assert.throws(() => processWord('${A', env), /missing '}'/);
    assert.throws(() => processWord('${}', env), /bad substitution/);
    assert.throws(() => processWord('${A:=x}', env), /unsupported modifier/);
  });

  test('words split on unquoted whitespace, including expansions', () => {
    assert.deepEqual(processWords('80 $SP "q r" 443/udp', env), ['80', 'x', 'y', 'q r', '443/udp']);
  });

  test('the backtick escape', () => {
    assert.equal(processWord('a`$A b', env, '`'), 'a$A b');
  });

  test('heredoc expansion keeps quotes', () => {
    assert.equal(expandHeredoc('say "$A" \'${UNSET:-x}\' \\$A $\n', env), 'say "a" \'x\' $A $\n');
  });
});

describe('.dockerignore', () => {
  const m = (lines: string): PatternMatcher => new PatternMatcher(parseDockerignore(lines));

  test('reading: comments, blank lines, leading slash, cleaning, exceptions', () => {
    assert.deepEqual(parseDockerignore('# comment\n\n /abs/x \n!keep\n./a/../b/\n**/*.log\n  # not a comment?\n'), ['abs/x', '!keep', 'b', '**/*.log']);
  });

  test('the issue example: *.log, secret/, !secret/keep', () => {
    const p = m('*.log\nsecret/\n!secret/keep\n');
    assert.equal(p.matches('a.log'), true);
    assert.equal(p.matches('sub/a.log'), false); // `*` does not cross directories
    assert.equal(p.matches('secret'), true);
    assert.equal(p.matches('secret/s1'), true);
    assert.equal(p.matches('secret/keep'), false);
    assert.equal(p.matches('secret/keep/deeper'), false);
    assert.equal(p.matches('a.txt'), false);
  });

  test('** patterns, ? and classes, parents matching', () => {
    const p = m('**/*.tmp\nbuild/**\ndocs/?.md\n[ab]*.c\nnode_modules\n');
    assert.equal(p.matches('x.tmp'), true);
    assert.equal(p.matches('a/b/c/x.tmp'), true);
    assert.equal(p.matches('build/out/x'), true);
    assert.equal(p.matches('build'), false);
    assert.equal(p.matches('docs/a.md'), true);
    assert.equal(p.matches('docs/ab.md'), false);
    assert.equal(p.matches('apple.c'), true);
    assert.equal(p.matches('cherry.c'), false);
    assert.equal(p.matches('node_modules/x/y.js'), true);
    assert.equal(p.matches('src/node_modules/x'), false);
  });

  test('last match wins; exceptions of exceptions', () => {
    const p = m('*\n!*.go\nvendor/x.go\n');
    assert.equal(p.matches('a.txt'), true);
    assert.equal(p.matches('main.go'), false);
    assert.equal(p.matches('vendor/x.go'), true);
    assert.equal(p.matches('Dockerfile'), true);
  });
});

describe('planning', () => {
  test('only the target and the stages it needs run; meta args feed FROM', () => {
    const df = parseStages([
      'ARG BASE=busybox', 'ARG TAG', 'FROM ${BASE} AS deps', 'RUN a', 'FROM busybox AS unused', 'RUN b',
      'FROM deps AS build', 'RUN c', 'FROM busybox AS assets', 'RUN d', 'FROM ${BASE}', 'COPY --from=build /x /x', 'COPY --from=assets /y /y',
    ].join('\n'));
    const p = planBuild(df, { buildArgs: new Map(), extraSteps: 0 });
    assert.deepEqual(p.stages.map((s) => s.name ?? String(s.index)), ['deps', 'build', 'assets', '4']);
    assert.equal(p.totalSteps, 2 + 2 + 2 + 2 + 3); // the global ARGs are steps too
    const t = planBuild(df, { target: 'BUILD', buildArgs: new Map(), extraSteps: 1 });
    assert.deepEqual(t.stages.map((s) => s.name), ['deps', 'build']);
    assert.equal(t.totalSteps, 7);
    assert.throws(() => planBuild(df, { target: 'nope', buildArgs: new Map(), extraSteps: 0 }), /target stage "nope" could not be found/);
  });

  test('meta args: build-arg values win, defaults expand earlier ones, platform args exist', () => {
    const df = parseStages('ARG A=1\nARG B=${A}2\nARG C\nFROM x\n');
    const { meta, declared } = evalMetaArgs(df.metaArgs, new Map([['A', '9'], ['C', null]]), '\\');
    assert.equal(meta.get('A'), '9');
    assert.equal(meta.get('B'), '92');
    assert.equal(meta.has('C'), false);
    assert.ok(meta.get('TARGETARCH'));
    assert.deepEqual([...declared].sort(), ['A', 'B', 'C']);
  });
});

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bctx-unit-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function ctxFrom(entries: TarInput[]): Promise<BuildContext> {
  return BuildContext.receive(packTar(entries), { spoolDir: fs.mkdtempSync(path.join(tmp, 'spool-')) });
}

describe('build context', () => {
  test('a ../ entry is refused', async () => {
    await assert.rejects(ctxFrom([{ name: 'Dockerfile', type: 'file', body: Buffer.from('FROM x') }, { name: '../../etc/evil', type: 'file', body: Buffer.from('x') }]), /points outside the context/);
  });

  test('symlinks resolve inside the context, clamped at its root', async () => {
    const ctx = await ctxFrom([
      { name: 'etc/hostname', type: 'file', body: Buffer.from('inside') },
      { name: 'abs', type: 'symlink', linkname: '/etc/hostname' },
      { name: 'up', type: 'symlink', linkname: '../../../../etc/hostname' },
      { name: 'loop', type: 'symlink', linkname: 'loop' },
    ]);
    assert.equal(ctx.resolve('abs'), 'etc/hostname');
    assert.equal(ctx.resolve('up'), 'etc/hostname');
    assert.equal((await ctx.readFile(ctx.stat('up')!)).toString(), 'inside');
    assert.throws(() => ctx.resolve('loop'), /too many levels of symbolic links/);
    assert.equal(ctx.resolve('../x'), null);
    ctx.close();
  });

  test('implicit directories, hard links, globbing and content hashes', async () => {
    const ctx = await ctxFrom([
      { name: 'a/b/c.txt', type: 'file', body: Buffer.from('c') },
      { name: 'a/d.txt', type: 'link', linkname: 'a/b/c.txt' },
      { name: 'x.log', type: 'file', body: Buffer.from('log') },
    ]);
    assert.equal(ctx.lstat('a')?.type, 'dir');
    assert.equal(ctx.lstat('a/d.txt')?.type, 'file');
    assert.deepEqual([...ctx.walk('a')].map((n) => n.path), ['a', 'a/b', 'a/b/c.txt', 'a/d.txt']);
    assert.deepEqual(ctx.glob('a/*.txt'), ['a/d.txt']);
    assert.deepEqual(ctx.glob('*'), ['a', 'x.log']);
    assert.equal(await ctx.contentHash(ctx.lstat('a/d.txt')!), await ctx.contentHash(ctx.lstat('a/b/c.txt')!));
    ctx.close();
  });

  test('.dockerignore is applied to what arrives; data beyond the memory limit spills to disk', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'spool-'));
    const big = Buffer.alloc(100_000, 7);
    const ctx = await BuildContext.receive(packTar([
      { name: '.dockerignore', type: 'file', body: Buffer.from('*.log\nsecret/\n!secret/keep\n') },
      { name: 'Dockerfile', type: 'file', body: Buffer.from('FROM x') },
      { name: 'a.log', type: 'file', body: Buffer.from('x') },
      { name: 'big.bin', type: 'file', body: big },
      { name: 'secret/s1', type: 'file', body: Buffer.from('s') },
      { name: 'secret/keep', type: 'file', body: Buffer.from('k') },
      { name: 'sub/b.log', type: 'file', body: Buffer.from('y') },
    ]), { spoolDir: dir, memoryLimit: 1000 });
    await ctx.applyDockerignore();
    assert.deepEqual([...ctx.walk('')].map((n) => n.path).filter(Boolean), ['.dockerignore', 'Dockerfile', 'big.bin', 'secret', 'secret/keep', 'sub', 'sub/b.log']);
    assert.ok(fs.readdirSync(dir).length === 1, 'a spool file');
    assert.deepEqual(await ctx.readFile(ctx.lstat('big.bin')!), big);
    ctx.close();
    assert.equal(fs.readdirSync(dir).length, 0, 'spool file removed');
  });

  test('a tar that ends right after the last file (as the docker CLI sends with -f outside the context) is accepted', async () => {
    const full = await new Promise<Buffer>((resolve) => {
      const parts: Buffer[] = [];
      packTar([{ name: 'Dockerfile', type: 'file', body: Buffer.from('FROM x\n') }]).on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts)));
    });
    const truncated = full.subarray(0, 512 + 7);
    const ctx = await BuildContext.receive(Readable.from([truncated]), { spoolDir: tmp });
    assert.equal((await ctx.readFile(ctx.lstat('Dockerfile')!)).toString(), 'FROM x\n');
    // Cut inside the data: still an error.
    await assert.rejects(BuildContext.receive(Readable.from([full.subarray(0, 512 + 3)]), { spoolDir: tmp }), /unexpected EOF/);
  });
});
