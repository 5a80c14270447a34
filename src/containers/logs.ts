// Reading conmon's k8s-file logs and rendering Docker's log stream.
// A record is "<RFC3339Nano UTC> <stdout|stderr> <F|P> <bytes>\n"; P marks a
// partial line (no newline in the original output).
import * as fs from 'node:fs';

export interface LogOptions {
  stdout: boolean;
  stderr: boolean;
  /** number of records from the end, or -1 for all */
  tail: number;
  timestamps: boolean;
  /** nanosecond bounds (strings in conmon's fixed format compare correctly) */
  since?: string;
  until?: string;
  /** raw output (TTY containers) instead of multiplexed frames */
  raw: boolean;
  /** consecutive lines of one stream share a frame (up to MAX_FRAME bytes) */
  coalesce?: boolean;
}

const MAX_FRAME = 64 << 10;

const TS_LEN = 35; // 2026-11-22T05:00:00.123456789+00:00

/** Unix seconds (with fraction) → the fixed-width timestamp conmon writes. */
export function tsFromUnix(v: number): string {
  const sec = Math.floor(v);
  const nanos = Math.round((v - sec) * 1e9);
  const d = new Date(sec * 1000).toISOString().slice(0, 19);
  return `${d}.${String(nanos).padStart(9, '0')}+00:00`;
}

interface Rec { start: number; tsEnd: number; stream: 1 | 2; partial: boolean; contentStart: number; end: number }

/** Splits complete records out of buf; returns them and the offset of the first incomplete byte. */
export function scanRecords(buf: Buffer, from = 0): { recs: Rec[]; rest: number } {
  const recs: Rec[] = [];
  let pos = from;
  for (;;) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0) break;
    // "<ts> stdout F " — stream name is 6 bytes.
    const tsEnd = pos + TS_LEN;
    if (nl > tsEnd + 9 && buf[tsEnd] === 32) {
      const stream: 1 | 2 = buf[tsEnd + 4] === 0x65 /* 'e' of stderr */ ? 2 : 1;
      const partial = buf[tsEnd + 8] === 0x50; // 'P'
      recs.push({ start: pos, tsEnd, stream, partial, contentStart: tsEnd + 10, end: nl });
    } else if (nl >= tsEnd + 9 && buf[tsEnd] === 32) {
      // empty content
      const stream: 1 | 2 = buf[tsEnd + 4] === 0x65 ? 2 : 1;
      const partial = buf[tsEnd + 8] === 0x50;
      recs.push({ start: pos, tsEnd, stream, partial, contentStart: Math.min(tsEnd + 10, nl), end: nl });
    }
    pos = nl + 1;
  }
  return { recs, rest: pos };
}

/** Renders records as Docker's log stream bytes, into one buffer (no allocation per line). */
export function render(buf: Buffer, recs: Rec[], o: LogOptions): Buffer {
  const keep: Rec[] = [];
  let total = 0;
  let frames = 0, frameStream = 0, frameLen = 0;
  const payload = (r: Rec): number => (o.timestamps ? TS_LEN - 4 : 0) + (r.end - r.contentStart) + (r.partial ? 0 : 1);
  for (const r of recs) {
    if (r.stream === 1 ? !o.stdout : !o.stderr) continue;
    if (o.since || o.until) {
      const ts = buf.toString('latin1', r.start, r.tsEnd);
      if (o.since && ts <= o.since) continue;
      if (o.until && ts > o.until) continue;
    }
    keep.push(r);
    const len = payload(r);
    total += len;
    if (o.raw) continue;
    if (!o.coalesce || r.stream !== frameStream || frameLen + len > MAX_FRAME) { frames++; frameStream = r.stream; frameLen = 0; }
    frameLen += len;
  }
  const out = Buffer.allocUnsafe(total + frames * 8);
  let p = 0;
  let head = -1; // offset of the open frame's header
  frameStream = 0;
  for (const r of keep) {
    const len = payload(r);
    if (!o.raw) {
      if (head < 0 || !o.coalesce || r.stream !== frameStream || out.readUInt32BE(head + 4) + len > MAX_FRAME) {
        head = p;
        frameStream = r.stream;
        out[p] = r.stream; out[p + 1] = 0; out[p + 2] = 0; out[p + 3] = 0;
        out.writeUInt32BE(0, p + 4);
        p += 8;
      }
      out.writeUInt32BE(out.readUInt32BE(head + 4) + len, head + 4);
    }
    if (o.timestamps) {
      p += buf.copy(out, p, r.start, r.tsEnd - 6);
      out[p++] = 0x5a; // Z
      out[p++] = 0x20;
    }
    p += buf.copy(out, p, r.contentStart, r.end);
    if (!r.partial) out[p++] = 10;
  }
  return out;
}

/** Reads the whole log (or its last `tail` records) once. Returns the bytes and the file offset read to. */
/**
 * With a sink, rendered bytes go to it in chunks (a large log is never held
 * whole in memory) and `data` comes back empty.
 */
export function readLog(file: string, o: LogOptions, sink?: (b: Buffer) => void): { data: Buffer; offset: number; ino: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return { data: Buffer.alloc(0), offset: 0, ino: 0 };
  }
  try {
    const st = fs.fstatSync(fd);
    const size = st.size;
    if (o.tail === 0) return { data: Buffer.alloc(0), offset: size, ino: st.ino };
    let start = 0;
    let buf: Buffer;
    if (o.tail > 0) {
      // Read backwards in chunks until enough newlines are seen.
      let chunk = 64 * 1024;
      for (;;) {
        start = Math.max(0, size - chunk);
        buf = Buffer.allocUnsafe(size - start);
        fs.readSync(fd, buf, 0, buf.length, start);
        let count = 0;
        for (let i = buf.length - 1; i >= 0; i--) if (buf[i] === 10) count++;
        if (count > o.tail || start === 0) break;
        chunk *= 4;
      }
      // Keep only the last `tail` records.
      let nls = 0, cut = 0;
      for (let i = buf.length - 2; i >= 0; i--) {
        if (buf[i] === 10 && ++nls === o.tail) { cut = i + 1; break; }
      }
      if (nls < o.tail && start > 0) cut = buf.indexOf(10) + 1;
      buf = buf.subarray(cut);
    } else if (sink) {
      const CHUNK = 1 << 20;
      let carry = Buffer.alloc(0);
      let off = 0;
      const piece = Buffer.allocUnsafe(CHUNK);
      while (off < size) {
        const n = fs.readSync(fd, piece, 0, Math.min(CHUNK, size - off), off);
        if (n <= 0) break;
        off += n;
        const all = carry.length ? Buffer.concat([carry, piece.subarray(0, n)]) : piece.subarray(0, n);
        const { recs, rest } = scanRecords(all);
        if (recs.length) {
          const out = render(all, recs, o);
          if (out.length) sink(out);
        }
        carry = Buffer.from(all.subarray(rest));
      }
      return { data: Buffer.alloc(0), offset: off - carry.length, ino: st.ino };
    } else {
      buf = Buffer.allocUnsafe(size);
      let off = 0;
      while (off < size) {
        const n = fs.readSync(fd, buf, off, size - off, off);
        if (n <= 0) break;
        off += n;
      }
      buf = buf.subarray(0, off);
    }
    const { recs, rest } = scanRecords(buf);
    const consumed = (o.tail > 0 ? size - buf.length : 0) + rest;
    const data = render(buf, recs, o);
    if (sink) {
      if (data.length) sink(data);
      return { data: Buffer.alloc(0), offset: consumed, ino: st.ino };
    }
    return { data, offset: consumed, ino: st.ino };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Follows the log from `offset`, calling onData with rendered bytes, until stop() is called.
 * Keeps the file open: after a rotation (rename, a new inode at the path) it drains the
 * old file to its end before switching, so no line is lost.
 */
export function followLog(file: string, offset: number, ino: number, o: LogOptions, onData: (b: Buffer) => void): { stop: () => void; flush: () => void } {
  let pending = Buffer.alloc(0);
  let pos = offset;
  let fd = -1;
  let curIno = ino;
  let stopped = false;
  const open = (): void => {
    try {
      fd = fs.openSync(file, 'r');
      const st = fs.fstatSync(fd);
      if (st.ino !== curIno) { curIno = st.ino; pos = 0; }
    } catch {
      fd = -1;
    }
  };
  const drain = (): void => {
    if (fd < 0) return;
    const chunk = Buffer.allocUnsafe(256 * 1024);
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, pos);
      if (n <= 0) break;
      pos += n;
      const all = pending.length ? Buffer.concat([pending, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      const { recs, rest } = scanRecords(all);
      pending = Buffer.from(all.subarray(rest));
      if (recs.length) {
        const out = render(all, recs, o);
        if (out.length) onData(out);
      }
    }
  };
  const pump = (): void => {
    if (stopped) return;
    if (fd < 0) open();
    drain();
    let st: fs.Stats | undefined;
    try { st = fs.statSync(file); } catch { st = undefined; }
    if (st && st.ino !== curIno) {
      // rotated: the old file is complete now; continue with the new one from its start
      if (fd >= 0) fs.closeSync(fd);
      fd = -1;
      pending = Buffer.alloc(0);
      open();
      drain();
    } else if (st && fd >= 0 && st.size < pos) {
      // truncated in place
      pos = 0;
      pending = Buffer.alloc(0);
      drain();
    }
  };
  let watcher: fs.FSWatcher | undefined;
  try {
    watcher = fs.watch(file, () => pump());
  } catch {
    watcher = undefined;
  }
  // inotify on the file misses a replacement by rename; a slow poll covers it.
  const timer = setInterval(pump, 250);
  pump();
  return {
    stop: () => {
      stopped = true;
      watcher?.close();
      clearInterval(timer);
      if (fd >= 0) fs.closeSync(fd);
      fd = -1;
    },
    flush: () => pump(),
  };
}

/** Reads a log and its rotated predecessors (file.N … file.1, file). */
export function readLogs(file: string, rotated: number, o: LogOptions, sink?: (b: Buffer) => void): { data: Buffer; offset: number; ino: number } {
  const older: Buffer[] = [];
  for (let i = rotated; i >= 1; i--) {
    try { older.push(fs.readFileSync(`${file}.${i}`)); } catch { /* not there */ }
  }
  if (!older.length) return readLog(file, o, sink);
  let cur = Buffer.alloc(0), ino = 0;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      ino = fs.fstatSync(fd).ino;
      cur = fs.readFileSync(fd);
    } finally { fs.closeSync(fd); }
  } catch { /* no current file */ }
  const all = Buffer.concat([...older, cur]);
  const { recs } = scanRecords(all);
  const curStart = all.length - cur.length;
  const { rest } = scanRecords(cur);
  const pick = o.tail >= 0 ? recs.slice(Math.max(0, recs.length - o.tail)) : recs;
  void curStart;
  return { data: render(all, pick, o), offset: rest, ino };
}

/** Docker's size units for log options: 10k, 10m, 1g (powers of 1024). */
export function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new Error(`invalid size: '${v}'`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  return Math.floor(Number(m[1]) * (mult[(m[2] ?? '').toLowerCase()] ?? 1));
}
