// Details of the Dockerfile reference and Docker's builder checked below the
// daemon: pattern modifiers in substitutions, --chmod (octal and symbolic),
// --chown name lookups, the "did you mean" suggestions, the build context's
// shared-memory file store.
import * as assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { packTar } from '../../src/common/archive';
import { BuildContext, processWord } from '../../src/build';
import { parseChmod, parseChown } from '../../src/build/copy';
import { suggest } from '../../src/build/dockerfile/instructions';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'build-ref-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('substitution pattern modifiers (Dockerfile reference, BuildKit lexer)', () => {
  const env = new Map([['str', 'foobarbaz'], ['p', 'a/b/c.tar.gz'], ['E', '']]);
  test('# ## % %% trim the shortest / longest prefix or suffix', () => {
    assert.equal(processWord('${str#f*b}', env), 'arbaz');
    assert.equal(processWord('${str##f*b}', env), 'az');
    assert.equal(processWord('${str%b*}', env), 'foobar');
    assert.equal(processWord('${str%%b*}', env), 'foo');
    assert.equal(processWord('${p##*/}', env), 'c.tar.gz');
    assert.equal(processWord('${p%.*}', env), 'a/b/c.tar');
    assert.equal(processWord('${p%%.*}', env), 'a/b/c');
    assert.equal(processWord('${str#x}', env), 'foobarbaz', 'no match: unchanged');
    assert.equal(processWord('${unset#x}', env), '');
    assert.equal(processWord('${str#\\*}', env), 'foobarbaz', 'escaped * is literal');
  });
  test('/ and // replace the first / every match', () => {
    assert.equal(processWord('${str/ba/fo}', env), 'fooforbaz');
    assert.equal(processWord('${str//ba/fo}', env), 'fooforfoz');
    assert.equal(processWord('${p//\\//_}', env), 'a_b_c.tar.gz', 'an escaped / inside the pattern');
    assert.equal(processWord('${str/o?/X}', env), 'fXbarbaz');
    assert.equal(processWord('${str/[ab]/X}', env), 'foobarbaz', 'brackets are literal');
  });
  test('errors', () => {
    assert.throws(() => processWord('${str:#x}', env), /unsupported modifier \(:#\) in substitution/);
    assert.throws(() => processWord('${str/x', env), /missing '\/' in \$\{\}/);
    assert.throws(() => processWord('${str/x/y', env), /missing '\}'/);
  });
});

describe('--chmod', () => {
  test('octal', () => {
    assert.equal(parseChmod('755')(0o600, false), 0o755);
    assert.equal(parseChmod('0640')(0o777, true), 0o640);
    assert.equal(parseChmod('4755')(0, false), 0o4755);
    assert.throws(() => parseChmod('999'), /invalid chmod parameter: '999'. it should be octal string and between 0 and 07777/);
    assert.throws(() => parseChmod('17777'), /between 0 and 07777/);
  });
  test('symbolic (chmod(1)): +x, u=rwX,go=rX, g=u, -w, s and t', () => {
    assert.equal(parseChmod('+x')(0o644, false), 0o755);
    const rx = parseChmod('u=rwX,go=rX');
    assert.equal(rx(0o600, false), 0o644, 'X: a plain file stays non-executable');
    assert.equal(rx(0o700, false), 0o755, 'X: an executable file stays executable');
    assert.equal(rx(0o700, true), 0o755, 'X: directories get x');
    assert.equal(parseChmod('g=u')(0o740, false), 0o770);
    assert.equal(parseChmod('a-w')(0o666, false), 0o444);
    assert.equal(parseChmod('o=')(0o777, false), 0o770);
    assert.equal(parseChmod('u+s,+t')(0o755, true), 0o5755);
    assert.equal(parseChmod('go-rwx,u+rw')(0o000, false), 0o600);
    for (const bad of ['u+z', 'x', '=rw;', '', 'ugo']) assert.throws(() => parseChmod(bad), /invalid chmod parameter/, bad);
  });
});

describe('--chown', () => {
  const root = path.join(tmp, 'root');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:5678::/home/app:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nstaff:x:50:\napp:x:5678:\n');
  test('names from the image, numbers as they are; a user alone gives the GID the UID\'s value', () => {
    assert.deepEqual(parseChown('app:staff', root), { uid: 1234, gid: 50 });
    assert.deepEqual(parseChown('app', root), { uid: 1234, gid: 1234 });
    assert.deepEqual(parseChown('10:11', root), { uid: 10, gid: 11 });
    assert.deepEqual(parseChown('1', root), { uid: 1, gid: 1 });
    assert.deepEqual(parseChown('55:staff', root), { uid: 55, gid: 50 });
  });
  test('missing names and bad forms fail with Docker\'s messages', () => {
    assert.throws(() => parseChown('nobody', root), /unable to convert uid\/gid chown string to host mapping: can't find uid for user nobody: no such user: nobody/);
    assert.throws(() => parseChown('app:nogroup', root), /can't find gid for group nogroup: no such group: nogroup/);
    assert.throws(() => parseChown('a:b:c', root), /invalid chown string format: a:b:c/);
    // No /etc/passwd at all (FROM scratch): names cannot be resolved.
    assert.throws(() => parseChown('app', path.join(tmp, 'empty')), /no such user: app/);
  });
  test('a passwd that is not a regular file is not read', () => {
    const r2 = path.join(tmp, 'root2');
    fs.mkdirSync(path.join(r2, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(r2, 'etc/passwd'));
    assert.throws(() => parseChown('app', r2), /no such user/);
  });
});

describe('suggestions', () => {
  test('within distance 2, in the case written', () => {
    assert.equal(suggest('unknown instruction: COPPY', 'COPPY', ['copy', 'run'], false), 'unknown instruction: COPPY (did you mean COPY?)');
    assert.equal(suggest('x', 'Runn', ['copy', 'run'], false), 'x (did you mean run?)');
    assert.equal(suggest('x', 'zzzzzz', ['copy', 'run'], false), 'x');
    assert.equal(suggest('x', 'copy', ['copy', 'run'], false), 'x', 'exact: no suggestion');
  });
});

describe('context file store', () => {
  test('big and small files survive the shared-memory store intact, with their checksums; close() drops the data', async () => {
    const big = randomBytes(20 * 1024 * 1024 + 123);
    const small = Buffer.from('small file\n');
    const tar = packTar([
      { name: 'big.bin', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, body: big },
      { name: 'd/small.txt', type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: 0, body: small },
      { name: 'd/big2.bin', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, body: big.subarray(0, 3 * 1024 * 1024) },
    ]);
    const ctx = await BuildContext.receive(tar, { spoolDir: path.join(tmp, 'spool') });
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    for (const [p, want] of [['big.bin', big], ['d/small.txt', small], ['d/big2.bin', big.subarray(0, 3 * 1024 * 1024)]] as const) {
      const n = ctx.stat(p);
      assert.ok(n, p);
      assert.ok((await ctx.readFile(n)).equals(want), `${p} content`);
      assert.equal(await ctx.contentHash(n), sha(want), `${p} checksum`);
    }
    ctx.close();
    // A second context reuses the segments: the first one's nodes must not show its data.
    const again = await BuildContext.receive(packTar([{ name: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, body: randomBytes(2 << 20) }]), { spoolDir: path.join(tmp, 'spool') });
    const x = again.stat('x');
    assert.ok(x);
    assert.equal((await again.readFile(x)).length, 2 << 20);
    again.close();
  });
});
