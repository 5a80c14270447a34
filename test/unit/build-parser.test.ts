// Dockerfile parsing: directives, continuations, comments, heredocs, flags,
// JSON/shell forms, every instruction's argument rules, stage splitting and
// the errors (with their line numbers).
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DockerfileError, extractBuilderFlags, parseDockerfile, parseStages, parseWords, type Instruction,
} from '../../src/build';

function err(text: string): string {
  try {
    parseStages(text);
  } catch (e) {
    assert.ok(e instanceof DockerfileError, `expected a DockerfileError, got ${String(e)}`);
    return e.message;
  }
  assert.fail(`no error for:\n${text}`);
}

function only(text: string): Instruction {
  const df = parseStages(`FROM busybox\n${text}`);
  const ins = df.stages[0]?.instructions[0];
  assert.ok(ins, 'an instruction');
  return ins;
}

describe('lines', () => {
  test('continuations, comments inside them, empty continuation lines, CRLF, BOM', () => {
    const r = parseDockerfile('\ufeffFROM busybox\r\nRUN echo a \\\r\n  # a comment\r\n    b \\\n\n  c\nCMD ["x"]\n');
    assert.deepEqual(r.nodes.map((n) => n.cmd), ['from', 'run', 'cmd']);
    const run = r.nodes[1]!;
    assert.equal(run.args, 'echo a     b   c');
    assert.equal(run.startLine, 2);
    assert.equal(run.endLine, 6);
    assert.equal(r.nodes[2]!.startLine, 7);
    assert.deepEqual(r.warnings, ['Empty continuation line found in: RUN echo a     b   c']);
  });

  test('comments and blank lines are skipped; keywords are case-insensitive', () => {
    const r = parseDockerfile('# hello\n\n  # indented comment\nfrom busybox\n  run   echo   hi  \n');
    assert.deepEqual(r.nodes.map((n) => [n.cmd, n.keyword, n.args, n.startLine]), [['from', 'from', 'busybox', 4], ['run', 'run', 'echo   hi', 5]]);
    assert.equal(r.nodes[1]!.original, 'run   echo   hi');
  });

  test('parser directives: escape, syntax, only at the top', () => {
    const r = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM busybox\nRUN echo a `\n  b\n');
    assert.equal(r.escape, '`');
    assert.deepEqual(r.directives, { syntax: 'docker/dockerfile:1', escape: '`' });
    assert.equal(r.nodes[1]!.args, 'echo a   b');
    // After anything else, a directive is a comment.
    const late = parseDockerfile('FROM busybox\n# escape=`\nRUN echo a \\\n b\n');
    assert.equal(late.escape, '\\');
    assert.equal(late.nodes[1]!.args, 'echo a  b');
    const afterComment = parseDockerfile('# hello\n# escape=`\nFROM x\n');
    assert.equal(afterComment.escape, '\\');
    assert.throws(() => parseDockerfile('# escape=`\n# escape=\\\nFROM x\n'), /Dockerfile:2: only one escape parser directive can be used/);
    assert.throws(() => parseDockerfile('# escape=x\nFROM x\n'), /invalid escape token/);
  });

  test('builder flags are split off the arguments', () => {
    assert.deepEqual(extractBuilderFlags('--from=builder --chown="a b" src dst'), { args: 'src dst', flags: ['--from=builder', '--chown=a b'] });
    assert.deepEqual(extractBuilderFlags('--link -- --not-a-flag x'), { args: ' --not-a-flag x', flags: ['--link'] });
    assert.deepEqual(extractBuilderFlags('-x y'), { args: '-x y', flags: [] });
  });

  test('parseWords keeps quotes for later expansion', () => {
    assert.deepEqual(parseWords('A="hello world" B=x\\ y C=\'$z\'', '\\'), ['A="hello world"', 'B=x\\ y', "C='$z'"]);
  });
});

describe('heredocs', () => {
  test('RUN and COPY heredocs, <<- and quoted delimiters', () => {
    const text = 'FROM busybox\nRUN <<EOF\necho one\n  echo two\nEOF\nCOPY <<-"A" <<B /dst/\n\tindented $X\n\tA\nplain\nB\nRUN echo after\n';
    const r = parseDockerfile(text);
    assert.deepEqual(r.nodes.map((n) => n.cmd), ['from', 'run', 'copy', 'run']);
    const run = r.nodes[1]!;
    assert.deepEqual(run.heredocs, [{ name: 'EOF', content: 'echo one\n  echo two\n', expand: true, chomp: false, fd: 0 }]);
    const copy = r.nodes[2]!;
    assert.deepEqual(copy.heredocs.map((h) => [h.name, h.content, h.expand, h.chomp]), [['A', 'indented $X\n', false, true], ['B', 'plain\n', true, false]]);
    assert.equal(r.nodes[3]!.startLine, 11);
    const df = parseStages(text);
    const c = df.stages[0]!.instructions[1]!;
    assert.equal(c.kind, 'copy');
    if (c.kind === 'copy') assert.deepEqual(c.sources.map((s) => s.kind === 'heredoc' ? s.heredoc.name : s.raw), ['A', 'B']);
  });

  test('heredoc markers inside quotes or JSON are not heredocs; unterminated ones are errors', () => {
    assert.equal(parseDockerfile('FROM x\nRUN echo "<<EOF"\n').nodes[1]!.heredocs.length, 0);
    assert.equal(parseDockerfile('FROM x\nRUN ["sh", "-c", "cat <<EOF"]\n').nodes[1]!.heredocs.length, 0);
    assert.throws(() => parseDockerfile('FROM x\nRUN <<EOF\necho\n'), /Dockerfile:2: unterminated heredoc/);
  });
});

describe('instructions', () => {
  test('unknown instruction names its line', () => {
    // Docker's legacy builder's words, then the compiler-style place.
    assert.equal(err('FROM busybox\nRUN true\n\n# c\nCOPPY a b\n'),
      'dockerfile parse error on line 5: unknown instruction: COPPY (did you mean COPY?)\nDockerfile:5: unknown instruction: COPPY (did you mean COPY?)');
    // The suggestion follows the case written; far from every instruction, none.
    assert.match(err('FROM busybox\nrunn x\n'), /^dockerfile parse error on line 2: unknown instruction: runn \(did you mean run\?\)\n/);
    assert.match(err('FROM busybox\nFOOBAR x\n'), /^dockerfile parse error on line 2: unknown instruction: FOOBAR\nDockerfile:2: unknown instruction: FOOBAR$/);
  });

  test('FROM forms and stage names', () => {
    const df = parseStages('ARG BASE=busybox\nFROM --platform=linux/amd64 ${BASE} AS Build\nRUN x\nFROM scratch\nCOPY --from=build /a /a\n');
    assert.equal(df.metaArgs.length, 1);
    assert.deepEqual(df.stages.map((s) => [s.index, s.name, s.from.image, s.from.platform]), [[0, 'build', '${BASE}', 'linux/amd64'], [1, undefined, 'scratch', undefined]]);
    assert.match(err('FROM a b\n'), /FROM requires either one or three arguments/);
    assert.match(err('FROM a AS 1x\n'), /invalid name for build stage/);
    assert.match(err('FROM a AS x\nFROM b AS X\n'), /^x stage name already used\nDockerfile:2: /);
    assert.match(err('RUN x\n'), /Dockerfile:1: no build stage in current context/);
    assert.match(err('# only a comment\n'), /^failed to parse Dockerfile: file with no instructions$/);
  });

  test('RUN/CMD/ENTRYPOINT exec and shell forms', () => {
    assert.deepEqual((only('RUN ["echo", "a b"]') as { command: unknown }).command, { json: true, args: ['echo', 'a b'] });
    assert.deepEqual((only('RUN [not json') as { command: unknown }).command, { json: false, line: '[not json' });
    assert.deepEqual((only('CMD echo $HOME') as { command: unknown }).command, { json: false, line: 'echo $HOME' });
    assert.match(err('FROM x\nCMD ["a", 1]\n'), /arrays must be comprised of strings only/);
    assert.match(err('FROM x\nRUN\n'), /RUN requires at least one argument/);
    // BuildKit's RUN flags parse; the legacy builder refuses them when the step runs.
    assert.deepEqual((only('RUN --mount=type=cache,target=/x true') as { flagsUsed: string[] }).flagsUsed, ['mount']);
    assert.deepEqual((only('RUN --network=none --security=sandbox true') as { flagsUsed: string[] }).flagsUsed, ['network', 'security']);
    assert.match(err('FROM x\nRUN --network=bogus true\n'), /invalid network mode "bogus"/);
    assert.match(err('FROM x\nRUN --mnt=x true\n'), /unknown flag: --mnt \(did you mean mount\?\)/);
  });

  test('ENV and LABEL: both forms', () => {
    assert.deepEqual((only('ENV A=1 B="two words"') as { pairs: unknown }).pairs, [{ key: 'A', value: '1' }, { key: 'B', value: '"two words"' }]);
    assert.deepEqual((only('ENV A hello  world') as { pairs: unknown }).pairs, [{ key: 'A', value: 'hello  world' }]);
    assert.deepEqual((only('LABEL "com.x"=y') as { pairs: unknown }).pairs, [{ key: '"com.x"', value: 'y' }]);
    assert.match(err('FROM x\nENV A\n'), /ENV must have two arguments/);
    assert.match(err('FROM x\nENV A=1 B\n'), /can't find = in "B"/);
  });

  test('COPY/ADD flags and sources', () => {
    const c = only('COPY --from=builder --chown=app:app --chmod=0755 a b /dst/');
    assert.equal(c.kind, 'copy');
    if (c.kind === 'copy') {
      assert.deepEqual([c.from, c.chown, c.chmod, c.dest], ['builder', 'app:app', '0755', '/dst/']);
      assert.deepEqual(c.sources, [{ kind: 'path', raw: 'a' }, { kind: 'path', raw: 'b' }]);
    }
    const j = only('ADD ["a b", "/x y"]');
    if (j.kind === 'add') assert.deepEqual([j.sources, j.dest], [[{ kind: 'path', raw: 'a b' }], '/x y']);
    assert.match(err('FROM x\nCOPY a\n'), /COPY requires at least two arguments/);
    assert.match(err('FROM x\nCOPY --bogus=1 a b\n'), /^dockerfile parse error on line 2: unknown flag: --bogus\nDockerfile:2: /);
    assert.match(err('FROM x\nADD --from=x a b\n'), /unknown flag: --from/);
    assert.match(err('FROM x\nCOPY --chmown=1 a b\n'), /unknown flag: --chmown \(did you mean chown\?\)/);
    assert.match(err('FROM x\nCOPY --link=maybe a b\n'), /expecting boolean value for flag --link, not: maybe/);
    assert.match(err('FROM x\nCOPY <<EOF <<X\nhi\nEOF\nX\n'), /COPY cannot accept a heredoc as a destination/);
    assert.equal((only('ADD --unpack=false a.tar /x/') as { unpack?: boolean }).unpack, false);
    assert.equal((only('COPY --chmod=$MODE a /x') as { chmod?: string }).chmod, '$MODE');
    assert.deepEqual((only('COPY --exclude=*.txt --exclude=*.md a /x/') as { exclude?: string[] }).exclude, ['*.txt', '*.md']);
    assert.equal((only('COPY --parents ./a/./b /x/') as { parents?: boolean }).parents, true);
    assert.match(err('FROM x\nCOPY --from a b\n'), /missing a value on flag: --from/);
    assert.match(err('FROM x\nCOPY --from=a --from=b a b\n'), /duplicate flag specified: --from/);
  });

  test('ARG, SHELL, HEALTHCHECK, ONBUILD, single-argument instructions', () => {
    assert.deepEqual((only('ARG A B=2 C="x y"') as { args: unknown }).args, [{ key: 'A' }, { key: 'B', value: '2' }, { key: 'C', value: '"x y"' }]);
    assert.deepEqual((only('SHELL ["/bin/bash", "-c"]') as { shell: unknown }).shell, ['/bin/bash', '-c']);
    assert.match(err('FROM x\nSHELL /bin/bash -c\n'), /SHELL requires the arguments to be in JSON form/);
    const h = only('HEALTHCHECK --interval=5s --timeout=1m30s --retries=3 CMD curl -f http://x/');
    assert.deepEqual((h as { health: unknown }).health, { test: ['CMD-SHELL', 'curl -f http://x/'], interval: 5e9, timeout: 90e9, startPeriod: 0, startInterval: 0, retries: 3 });
    assert.deepEqual((only('HEALTHCHECK NONE') as { health: { test: string[] } }).health.test, ['NONE']);
    assert.deepEqual((only('HEALTHCHECK CMD ["true"]') as { health: { test: string[] } }).health.test, ['CMD', 'true']);
    assert.match(err('FROM x\nHEALTHCHECK FOO bar\n'), /Unknown type "FOO"/);
    assert.deepEqual((only('ONBUILD RUN echo hi') as { expression: string }).expression, 'RUN echo hi');
    assert.match(err('FROM x\nONBUILD ONBUILD RUN x\n'), /Chaining ONBUILD/);
    assert.match(err('FROM x\nONBUILD FROM y\n'), /FROM isn't allowed as an ONBUILD trigger/);
    assert.match(err('FROM x\nWORKDIR\n'), /WORKDIR requires exactly one argument/);
    assert.match(err('FROM x\nEXPOSE\n'), /EXPOSE requires at least one argument/);
    assert.deepEqual((only('VOLUME ["/a", "/b"]') as { paths: string[] }).paths, ['/a', '/b']);
    assert.deepEqual((only('VOLUME /a /b') as { paths: string[] }).paths, ['/a', '/b']);
  });
});
