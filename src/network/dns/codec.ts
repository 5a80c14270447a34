// DNS wire format (RFC 1035), the small part an embedded resolver needs:
// decode a query's header and questions, encode an answer. Pure.

export const TYPE_A = 1;
export const TYPE_PTR = 12;
export const TYPE_AAAA = 28;
export const TYPE_ANY = 255;
export const CLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;

export interface Question { name: string; type: number; cls: number }

export interface Query {
  id: number;
  /** header flags as sent */
  flags: number;
  opcode: number;
  rd: boolean;
  qr: boolean;
  questions: Question[];
  /** byte offset just past the question section */
  questionEnd: number;
}

export interface Answer { name: string; type: number; ttl: number; data: Buffer }

export class DnsFormatError extends Error {}

/** Reads a (possibly compressed) name at off; returns it and the offset after it in the original position. */
export function readName(buf: Buffer, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  let p = off;
  for (let hops = 0; hops < 64; hops++) {
    if (p >= buf.length) throw new DnsFormatError('name runs past the message');
    const len = buf[p]!;
    if (len === 0) {
      if (next < 0) next = p + 1;
      return { name: labels.join('.'), next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (p + 1 >= buf.length) throw new DnsFormatError('truncated pointer');
      if (next < 0) next = p + 2;
      p = ((len & 0x3f) << 8) | buf[p + 1]!;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsFormatError('bad label type');
    if (p + 1 + len > buf.length) throw new DnsFormatError('label runs past the message');
    labels.push(buf.toString('latin1', p + 1, p + 1 + len));
    p += 1 + len;
  }
  throw new DnsFormatError('too many compression pointers');
}

export function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
  const bufs: Buffer[] = [];
  for (const l of parts) {
    const b = Buffer.from(l, 'latin1');
    if (b.length > 63) throw new DnsFormatError('label too long');
    bufs.push(Buffer.from([b.length]), b);
  }
  bufs.push(Buffer.from([0]));
  return Buffer.concat(bufs);
}

export function decodeQuery(buf: Buffer): Query {
  if (buf.length < 12) throw new DnsFormatError('short header');
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const qd = buf.readUInt16BE(4);
  let off = 12;
  const questions: Question[] = [];
  for (let i = 0; i < qd; i++) {
    const n = readName(buf, off);
    off = n.next;
    if (off + 4 > buf.length) throw new DnsFormatError('short question');
    questions.push({ name: n.name, type: buf.readUInt16BE(off), cls: buf.readUInt16BE(off + 2) });
    off += 4;
  }
  return { id, flags, opcode: (flags >> 11) & 0xf, rd: (flags & 0x0100) !== 0, qr: (flags & 0x8000) !== 0, questions, questionEnd: off };
}

/**
 * An answer to `q` (raw query bytes `raw`), with the question section copied.
 * Answers whose name is the first question's name point at it (compression).
 * Past maxSize the answers are dropped and TC is set, so the client retries over TCP.
 */
export function encodeResponse(raw: Buffer, q: Query, rcode: number, answers: Answer[], maxSize = 512): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  let flags = 0x8000 | (q.opcode << 11) | (q.rd ? 0x0100 : 0) | 0x0080 | (rcode & 0xf);
  const question = raw.subarray(12, q.questionEnd);
  const first = q.questions[0]?.name.toLowerCase();
  const parts: Buffer[] = [];
  for (const a of answers) {
    const name = a.name.toLowerCase() === first ? Buffer.from([0xc0, 0x0c]) : encodeName(a.name);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(a.type, 0);
    fixed.writeUInt16BE(CLASS_IN, 2);
    fixed.writeUInt32BE(a.ttl >>> 0, 4);
    fixed.writeUInt16BE(a.data.length, 8);
    parts.push(Buffer.concat([name, fixed, a.data]));
  }
  let body = Buffer.concat(parts);
  let count = answers.length;
  if (12 + question.length + body.length > maxSize) {
    flags |= 0x0200; // TC
    body = Buffer.alloc(0);
    count = 0;
  }
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(q.questions.length, 4);
  header.writeUInt16BE(count, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(0, 10);
  return Buffer.concat([header, question, body]);
}

/** A bare error answer for a message that could not even be decoded (FORMERR) or a query we refuse. */
export function encodeError(raw: Buffer, rcode: number): Buffer {
  const h = Buffer.alloc(12);
  if (raw.length >= 2) h.writeUInt16BE(raw.readUInt16BE(0), 0);
  const rd = raw.length >= 3 ? raw[2]! & 0x01 : 0;
  h.writeUInt16BE(0x8000 | (rd << 8) | 0x0080 | (rcode & 0xf), 2);
  return h;
}

export function aRecord(name: string, ip: number, ttl = 600): Answer {
  const data = Buffer.alloc(4);
  data.writeUInt32BE(ip >>> 0, 0);
  return { name, type: TYPE_A, ttl, data };
}

export function aaaaRecord(name: string, ip: bigint, ttl = 600): Answer {
  const data = Buffer.alloc(16);
  data.writeBigUInt64BE((ip >> 64n) & 0xffffffffffffffffn, 0);
  data.writeBigUInt64BE(ip & 0xffffffffffffffffn, 8);
  return { name, type: TYPE_AAAA, ttl, data };
}

export function ptrRecord(name: string, target: string, ttl = 600): Answer {
  return { name, type: TYPE_PTR, ttl, data: encodeName(target) };
}

/** Builds a query (tests, health checks). */
export function encodeQuery(id: number, name: string, type: number, rd = true): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(rd ? 0x0100 : 0, 2);
  h.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([h, encodeName(name), tail]);
}

/** Decodes the answers of a response (tests, benchmarks). */
export function decodeAnswers(buf: Buffer): { id: number; rcode: number; tc: boolean; answers: Array<{ name: string; type: number; data: Buffer }> } {
  const q = decodeQuery(buf);
  const an = buf.readUInt16BE(6);
  let off = q.questionEnd;
  const answers: Array<{ name: string; type: number; data: Buffer }> = [];
  for (let i = 0; i < an; i++) {
    const n = readName(buf, off);
    off = n.next;
    const type = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 8);
    answers.push({ name: n.name, type, data: buf.subarray(off + 10, off + 10 + len) });
    off += 10 + len;
  }
  return { id: q.id, rcode: q.flags & 0xf, tc: (q.flags & 0x0200) !== 0, answers };
}
