// Attach sessions: bridge a hijacked client connection to conmon's attach
// socket through the small berth-attach helper (conmon speaks SEQPACKET,
// which Node cannot open). Detach keys are recognised here, on the input.
import { spawn, type ChildProcess } from 'node:child_process';
import { Transform, type Duplex, type TransformCallback } from 'node:stream';
import { invalid } from '../common/errors';

export const DEFAULT_DETACH_KEYS = [0x10, 0x11]; // ctrl-p ctrl-q

/** Parses Docker's detach key spec: "ctrl-p,ctrl-q", "a,ctrl-@". */
export function parseDetachKeys(spec: string | undefined | null): number[] {
  if (!spec) return DEFAULT_DETACH_KEYS;
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const p = part.trim();
    if (p.length === 1) out.push(p.charCodeAt(0));
    else if (/^ctrl-[a-z@[\\\]^_]$/i.test(p)) {
      const c = p.slice(5).toLowerCase();
      const code = c.charCodeAt(0);
      out.push(code >= 97 && code <= 122 ? code - 96 : ({ '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, '_': 31 } as Record<string, number>)[c] ?? 0);
    } else throw invalid(`Invalid detach keys (${spec}) provided`);
  }
  return out;
}

/** Scans input for the detach sequence, passing everything else through. */
export class DetachScanner {
  private matched: number[] = [];
  constructor(private readonly keys: number[]) {}
  /** Returns [bytes to forward, detached?]. */
  feed(chunk: Buffer): [Buffer, boolean] {
    if (!this.keys.length) return [chunk, false];
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.matched.length]) {
        this.matched.push(b);
        if (this.matched.length === this.keys.length) return [Buffer.from(out), true];
      } else {
        out.push(...this.matched);
        this.matched = [];
        if (b === this.keys[0]) this.matched.push(b);
        else out.push(b);
      }
    }
    return [Buffer.from(out), false];
  }
}

export interface AttachOptions {
  /** directory holding conmon's `attach` socket */
  dir: string;
  helper: string;
  tty: boolean;
  stdin: boolean;
  detachKeys: number[];
  /** called once when the session ends; detached=true when the client used the detach keys */
  onEnd?: (detached: boolean) => void;
  /** the client's stream is ended only after this settles (exec: its exit code is recorded) */
  holdEndUntil?: Promise<unknown>;
  /** which output streams the client asked for (default both) */
  stdout?: boolean;
  stderr?: boolean;
}

/**
 * Passes only the multiplexed frames (8-byte header: stream id, 3 zero
 * bytes, big-endian length) of the wanted streams. The docker CLI gives a
 * stream it did not attach no writer and crashes on a frame for it.
 */
export class FrameFilter extends Transform {
  private pending = Buffer.alloc(0);
  constructor(private readonly want: (stream: number) => boolean) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      if (this.want(buf[0]!)) this.push(buf.subarray(0, 8 + len));
      buf = buf.subarray(8 + len);
    }
    this.pending = Buffer.from(buf);
    cb();
  }
}

export interface AttachSession {
  /** resolves once connected to conmon */
  ready: Promise<void>;
  close(): void;
}

/** Connects the client socket to conmon. Output bytes the client gets are already framed (non-TTY) or raw (TTY). */
export function attachClient(client: Duplex, o: AttachOptions, initial?: Buffer): AttachSession {
  const helper: ChildProcess = spawn(o.helper, [o.dir, o.tty ? 'raw' : 'frames', o.stdin ? 'stdin' : 'no-stdin'], {
    stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let ended = false;
  const finish = (detached: boolean): void => {
    if (ended) return;
    ended = true;
    o.onEnd?.(detached);
  };
  let stderr = '';
  const ready = new Promise<void>((resolve, reject) => {
    helper.stderr!.setEncoding('utf8');
    helper.stderr!.on('data', (d: string) => {
      stderr += d;
      if (stderr.startsWith('ok\n')) resolve();
    });
    helper.once('exit', () => reject(new Error(stderr.trim() || 'attach failed')));
    helper.once('error', reject);
  });
  ready.catch(() => undefined);
  const wantOut = o.stdout !== false, wantErr = o.stderr !== false;
  let out: NodeJS.ReadableStream = helper.stdout!;
  if (wantOut && (wantErr || o.tty)) out.pipe(client, { end: false });
  else if (o.tty) out.resume(); // a TTY has only stdout: not wanted
  else (out = helper.stdout!.pipe(new FrameFilter((id) => (id === 1 && wantOut) || (id === 2 && wantErr)))).pipe(client, { end: false });
  const endClient = (): void => {
    void (o.holdEndUntil ?? Promise.resolve()).then(() => {
      client.end();
      finish(false);
    });
  };
  // conmon closed the socket: all output delivered.
  out.on('end', endClient);
  client.on('error', () => helper.kill('SIGKILL'));
  client.on('close', () => {
    helper.kill('SIGKILL');
    finish(false);
  });
  if (o.stdin && helper.stdin) {
    const scanner = new DetachScanner(o.detachKeys);
    helper.stdin.on('error', () => undefined);
    const onData = (d: Buffer): void => {
      const [fwd, detached] = scanner.feed(d);
      if (fwd.length) helper.stdin!.write(fwd);
      if (detached) {
        finish(true);
        helper.kill('SIGKILL');
        client.end();
      }
    };
    if (initial && initial.length) onData(initial);
    client.on('data', onData);
    client.on('end', () => helper.stdin!.end()); // half-close: close the container's stdin, keep output
  } else {
    client.on('data', () => undefined); // drain and ignore
  }
  // The request body may have been read off this socket (exec start), which leaves it paused.
  client.resume();
  return {
    ready,
    close: () => {
      helper.kill('SIGKILL');
      client.destroy();
    },
  };
}
