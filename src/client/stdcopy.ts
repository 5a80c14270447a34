// The 8-byte multiplexed stream framing used by attach, exec and logs when the
// container has no TTY:
//   byte 0: stream (0 stdin, 1 stdout, 2 stderr, 3 system error), bytes 1..3: 0,
//   bytes 4..7: payload length (uint32 BE), then the payload.

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const SYSERR = 3;

export type FrameHandler = (stream: number, payload: Buffer) => void;

/** Incremental demultiplexer: feed arbitrary chunks, get whole frames. */
export class FrameDemuxer {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  constructor(private readonly onFrame: FrameHandler) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    let buf: Buffer;
    if (this.pendingLen === 0) buf = chunk;
    else {
      this.pending.push(chunk);
      buf = Buffer.concat(this.pending, this.pendingLen + chunk.length);
      this.pending = [];
      this.pendingLen = 0;
    }
    let off = 0;
    while (buf.length - off >= 8) {
      const stream = buf[off]!;
      const size = buf.readUInt32BE(off + 4);
      if (buf.length - off - 8 < size) break;
      const payload = buf.subarray(off + 8, off + 8 + size);
      off += 8 + size;
      if (stream > SYSERR) throw new Error(`Unrecognized input header: ${stream}`);
      this.onFrame(stream, payload);
    }
    if (off < buf.length) {
      const rest = buf.subarray(off);
      // copy so the caller's buffer can be reused
      this.pending.push(Buffer.from(rest));
      this.pendingLen = rest.length;
    }
  }

  /** Bytes of an incomplete frame still buffered. */
  get buffered(): number {
    return this.pendingLen;
  }
}

export function encodeFrame(stream: number, payload: Buffer | string): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(data.length, 4);
  return Buffer.concat([head, data]);
}
