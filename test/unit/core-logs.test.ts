import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readLog, scanRecords, render, tsFromUnix } from '../../src/containers/logs';

const line = (ts: string, stream: string, flag: string, text: string): string => `${ts} ${stream} ${flag} ${text}\n`;
const T1 = '2026-11-22T05:00:00.000000001+00:00';
const T2 = '2026-11-22T05:00:01.500000000+00:00';
const T3 = '2026-11-22T05:00:02.000000000+00:00';

test('scanRecords splits complete records and keeps the partial tail', () => {
  const buf = Buffer.from(line(T1, 'stdout', 'F', 'a') + line(T2, 'stderr', 'P', 'b') + T3 + ' stdout F unfinished');
  const { recs, rest } = scanRecords(buf);
  assert.equal(recs.length, 2);
  assert.equal(recs[0]!.stream, 1);
  assert.equal(recs[1]!.stream, 2);
  assert.equal(recs[1]!.partial, true);
  assert.equal(buf.subarray(rest).toString(), T3 + ' stdout F unfinished');
});

test('render frames lines, honours partials, stream selection and timestamps', () => {
  const buf = Buffer.from(line(T1, 'stdout', 'F', 'out') + line(T2, 'stderr', 'P', 'par') + line(T3, 'stderr', 'F', 'tial'));
  const { recs } = scanRecords(buf);
  const raw = render(buf, recs, { stdout: true, stderr: true, tail: -1, timestamps: false, raw: true });
  assert.equal(raw.toString(), 'out\npartial\n');
  const onlyErr = render(buf, recs, { stdout: false, stderr: true, tail: -1, timestamps: false, raw: false });
  assert.deepEqual([...onlyErr.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 3]);
  assert.equal(onlyErr.subarray(8, 11).toString(), 'par');
  const ts = render(buf, recs.slice(0, 1), { stdout: true, stderr: true, tail: -1, timestamps: true, raw: true });
  assert.equal(ts.toString(), '2026-11-22T05:00:00.000000001Z out\n');
  const since = render(buf, recs, { stdout: true, stderr: true, tail: -1, timestamps: false, raw: true, since: tsFromUnix(Date.parse('2026-11-22T05:00:01Z') / 1000) });
  assert.equal(since.toString(), 'partial\n');
});

test('readLog tail returns the last N records', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logs-'));
  const f = path.join(dir, 'log');
  let s = '';
  for (let i = 0; i < 1000; i++) s += line(T1, 'stdout', 'F', `line ${i}`);
  fs.writeFileSync(f, s);
  const r = readLog(f, { stdout: true, stderr: true, tail: 2, timestamps: false, raw: true });
  assert.equal(r.data.toString(), 'line 998\nline 999\n');
  assert.equal(r.offset, Buffer.byteLength(s));
  const all = readLog(f, { stdout: true, stderr: true, tail: -1, timestamps: false, raw: true });
  assert.equal(all.data.toString().split('\n').length, 1001);
  fs.rmSync(dir, { recursive: true });
});

test('readLog with a sink streams a large log in chunks with the same bytes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logs-'));
  const f = path.join(dir, 'log');
  let s = '';
  for (let i = 0; i < 60000; i++) s += line(T1, i % 3 ? 'stdout' : 'stderr', i % 7 ? 'F' : 'P', `line ${i} ${'x'.repeat(i % 50)}`);
  fs.writeFileSync(f, s);
  const o = { stdout: true, stderr: true, tail: -1, timestamps: true, raw: false };
  const whole = readLog(f, o);
  const parts: Buffer[] = [];
  const streamed = readLog(f, o, (b) => parts.push(b));
  assert.ok(parts.length > 1, 'more than one chunk');
  assert.ok(Buffer.concat(parts).equals(whole.data));
  assert.equal(streamed.offset, whole.offset);
  fs.rmSync(dir, { recursive: true });
});

/** stdcopy frames → [stream, payload] pairs */
function frames(b: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (let p = 0; p < b.length;) {
    const n = b.readUInt32BE(p + 4);
    out.push([b[p]!, b.subarray(p + 8, p + 8 + n).toString()]);
    p += 8 + n;
  }
  return out;
}

test('coalesce puts consecutive lines of one stream in one frame, same bytes once demultiplexed', () => {
  let text = '';
  for (let i = 0; i < 5000; i++) text += line(T1, i >= 2000 && i < 2003 ? 'stderr' : 'stdout', 'F', `line ${i} ${'x'.repeat(20)}`);
  const buf = Buffer.from(text);
  const { recs } = scanRecords(buf);
  for (const timestamps of [false, true]) {
    const o = { stdout: true, stderr: true, tail: -1, timestamps, raw: false };
    const plain = frames(render(buf, recs, o));
    const merged = frames(render(buf, recs, { ...o, coalesce: true }));
    assert.equal(plain.length, 5000);
    assert.ok(merged.length < 20, `${merged.length} frames`);
    assert.ok(merged.every(([, s]) => s.length <= 64 << 10));
    for (const stream of [1, 2]) {
      assert.equal(merged.filter(([s]) => s === stream).map(([, t]) => t).join(''), plain.filter(([s]) => s === stream).map(([, t]) => t).join(''));
    }
    assert.deepEqual(merged.filter(([s]) => s === 2).length, 1, 'the three stderr lines share one frame');
  }
});
