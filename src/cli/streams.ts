// Hijacked-connection I/O as the docker CLI's hijackedIOStreamer does it:
// raw terminal for TTY sessions, client-side detach-key detection,
// stdin -> connection with a half-close at EOF, output demultiplexed (or raw
// for TTY), terminal resize on start and on SIGWINCH, and signal forwarding.
import type { Hijacked } from '../client/transport';
import { FrameDemuxer, STDERR, STDOUT, SYSERR } from '../client/stdcopy';
import type { Cli } from './cli';

export const DEFAULT_ESCAPE_KEYS = [16, 17]; // ctrl-p, ctrl-q

/** term.ToBytes: "ctrl-p,ctrl-q" -> [16, 17]; single characters map to themselves. */
export function detachKeysToBytes(keys: string): number[] {
  const out: number[] = [];
  for (const raw of keys.split(',')) {
    const key = raw.trim();
    if (key.length > 1 && key.startsWith('ctrl-')) {
      const k = key.slice(5).toLowerCase();
      if (k.length !== 1) throw new Error(`Unknown character: '${key}'`);
      const c = k.charCodeAt(0);
      if (k >= 'a' && k <= 'z') out.push(c - 96);
      else if (k === '@') out.push(0);
      else if (k === '[') out.push(27);
      else if (k === '\\') out.push(28);
      else if (k === ']') out.push(29);
      else if (k === '^') out.push(30);
      else if (k === '_') out.push(31);
      else throw new Error(`Unknown character: '${key}'`);
    } else if (key.length === 1) {
      out.push(key.charCodeAt(0));
    } else {
      throw new Error(`Unknown character: '${key}'`);
    }
  }
  return out;
}

/**
 * moby/term's EscapeProxy: keystrokes (single-byte reads) matching the escape
 * sequence are held back; a complete sequence detaches, a broken one is
 * forwarded as typed.
 */
export class EscapeProxy {
  private pos = 0;
  constructor(private readonly keys: number[]) {}

  /** Returns the bytes to forward, or 'detach' when the sequence completed. */
  feed(chunk: Buffer): Buffer | 'detach' {
    if (this.keys.length === 0) return chunk;
    if (chunk.length !== 1) {
      if (this.pos > 0) {
        const held = Buffer.from(this.keys.slice(0, this.pos));
        this.pos = 0;
        return Buffer.concat([held, chunk]);
      }
      return chunk;
    }
    if (chunk[0] !== this.keys[this.pos]) {
      if (this.pos > 0) {
        const held = Buffer.from(this.keys.slice(0, this.pos));
        this.pos = 0;
        return Buffer.concat([held, chunk]);
      }
      return chunk;
    }
    if (this.pos === this.keys.length - 1) {
      this.pos = 0;
      return 'detach';
    }
    this.pos++;
    return Buffer.alloc(0);
  }
}

export interface HijackStreamOptions {
  conn: Hijacked;
  tty: boolean;
  /** Attach local stdin. */
  stdin: boolean;
  stdout: NodeJS.WritableStream | null;
  stderr: NodeJS.WritableStream | null;
  detachKeys?: string;
}

export type StreamEnd = 'eof' | 'detached';

export interface HijackSession {
  /** Resolves when output is finished (or input finished when there is no output), or on detach. */
  done: Promise<StreamEnd>;
  /** Stop streaming: restore the terminal and close the connection. */
  cancel(): void;
  restore(): void;
}

function writeAll(w: NodeJS.WritableStream, data: Buffer): void {
  if (data.length) w.write(data);
}

/** Streams between the local terminal and a hijacked connection. */
export function streamHijacked(cli: Cli, opts: HijackStreamOptions): HijackSession {
  const { conn } = opts;
  const input = opts.stdin ? (cli.streams.in as NodeJS.ReadStream) : null;
  let rawSet = false;
  let restored = false;
  let finished = false;
  let resolveDone!: (v: StreamEnd) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<StreamEnd>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });

  const restore = (): void => {
    if (restored) return;
    restored = true;
    if (rawSet && input && typeof input.setRawMode === 'function') {
      try {
        input.setRawMode(false);
      } catch {
        // terminal may be gone
      }
    }
    if (input) {
      input.removeListener('data', onInput);
      input.removeListener('end', onInputEnd);
      input.pause();
      if (typeof (input as { unref?: () => void }).unref === 'function') (input as unknown as { unref: () => void }).unref();
    }
  };

  const finish = (v: StreamEnd): void => {
    if (finished) return;
    finished = true;
    restore();
    resolveDone(v);
  };

  // --- input -------------------------------------------------------------
  let escape: EscapeProxy | null = null;
  if (input && opts.tty) {
    if (input.isTTY && typeof input.setRawMode === 'function') {
      input.setRawMode(true);
      rawSet = true;
    }
    let keys = DEFAULT_ESCAPE_KEYS;
    if (opts.detachKeys) {
      try {
        keys = detachKeysToBytes(opts.detachKeys);
      } catch (e) {
        cli.err(`time="${new Date().toISOString()}" level=warning msg="invalid detach escape keys, using default: ${(e as Error).message}"\n`);
      }
    }
    escape = new EscapeProxy(keys);
  }
  const hasOutput = opts.stdout !== null || opts.stderr !== null;
  let inputDone = false;

  function onInput(chunk: Buffer | string): void {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (escape) {
      const r = escape.feed(data);
      if (r === 'detach') {
        conn.close();
        finish('detached');
        return;
      }
      data = r;
    }
    if (data.length && !conn.socket.destroyed) conn.socket.write(data);
  }

  function onInputEnd(): void {
    inputDone = true;
    restore();
    conn.closeWrite();
    if (!hasOutput) finish('eof');
  }

  if (input) {
    input.on('data', onInput);
    input.once('end', onInputEnd);
    input.resume();
  } else {
    inputDone = true;
    conn.closeWrite();
  }

  // --- output ------------------------------------------------------------
  const out = opts.stdout;
  const errOut = opts.stderr;
  let demux: FrameDemuxer | null = null;
  if (!opts.tty) {
    demux = new FrameDemuxer((stream, payload) => {
      if (stream === STDOUT) {
        if (out) writeAll(out, payload);
      } else if (stream === STDERR) {
        if (errOut) writeAll(errOut, payload);
      } else if (stream === SYSERR) {
        throw new Error(payload.toString('utf8'));
      }
    });
  }
  const onData = (chunk: Buffer): void => {
    try {
      if (demux) demux.push(chunk);
      else if (out) writeAll(out, chunk);
    } catch (e) {
      conn.close();
      restore();
      if (!finished) {
        finished = true;
        rejectDone(e as Error);
      }
    }
  };
  if (conn.head.length) onData(conn.head);
  conn.socket.on('data', onData);
  const onOutputEnd = (): void => {
    if (opts.tty) restore();
    if (hasOutput) finish('eof');
    else if (inputDone) finish('eof');
  };
  conn.socket.once('end', onOutputEnd);
  conn.socket.once('close', onOutputEnd);
  conn.socket.on('error', () => {
    // ECONNRESET after the daemon closed: treat as end of output
    onOutputEnd();
  });
  // the transport hands the socket over paused so no output is lost before we listen
  conn.socket.resume();

  return {
    done,
    cancel: () => {
      conn.close();
      finish('eof');
    },
    restore,
  };
}

/** Resize once now (retrying briefly like the docker CLI) and on every SIGWINCH. */
export function monitorTtySize(cli: Cli, resize: (h: number, w: number) => Promise<unknown>): () => void {
  const doResize = async (): Promise<boolean> => {
    const [h, w] = cli.ttySize();
    if (h === 0 && w === 0) return true;
    try {
      await resize(h, w);
      return true;
    } catch {
      return false;
    }
  };
  void (async () => {
    if (await doResize()) return;
    for (let retry = 0; retry < 10; retry++) {
      await new Promise((r) => setTimeout(r, (retry + 1) * 10));
      if (await doResize()) return;
    }
    cli.err('failed to resize tty, using default size\n');
  })();
  const onWinch = (): void => {
    void doResize();
  };
  process.on('SIGWINCH', onWinch);
  return () => process.removeListener('SIGWINCH', onWinch);
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** ForwardAllSignals: deliver signals received by the CLI to the container. */
export function forwardSignals(kill: (signal: string) => Promise<unknown>): () => void {
  const handlers = FORWARDED_SIGNALS.map((sig) => {
    const h = (): void => {
      void kill(sig.slice(3)).catch(() => undefined);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
  };
}

/** CheckTty: "the input device is not a TTY" when -t and -i are used without a terminal on stdin. */
export function checkTty(cli: Cli, attachStdin: boolean, ttyMode: boolean): void {
  if (ttyMode && attachStdin && !cli.inIsTTY) {
    throw new Error('the input device is not a TTY');
  }
}
