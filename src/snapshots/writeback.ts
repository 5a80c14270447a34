// Deferred durability for committed layers.
//
// Flushing the filesystem (syncfs) once per layer made a pull or a build wait
// for the disk after every layer. Instead a layer is committed with a marker,
// snapshots/unsynced/<chainhex>.<boot id>, created before the rename that
// commits it, and one background syncfs later flushes every layer committed
// so far and removes their markers.
//
// A marker that survives says the layer's files may not have reached the disk.
// That matters only if the kernel lost its page cache, that is, after a power
// loss or a kernel crash, and those change the boot id. So at start:
//  - marker of this boot (berthd was killed, the machine kept running): the
//    data is intact in the page cache; flush it again and go on;
//  - marker of another boot: the layer may be torn. It is dropped, and so are
//    the images that use it (the image store drops records whose layers are
//    missing). A later pull or build makes it again.
// Docker does not flush layers at all; this keeps the speed and still never
// serves a torn layer.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { log } from '../common/log';
import { native } from '../common/native';

/** Quiet time after the last commit before the flush starts: the layers of one pull or build go in one syncfs. */
const QUIET_MS = 400;
/** A flush starts at the latest this long after the first unflushed commit, however busy the daemon is. */
const MAX_DELAY_MS = 5_000;

const HEX_RE = /^[a-f0-9]{64}$/;

/** This boot's id, or null when the kernel does not tell (then layers are flushed at commit, as before). */
export function bootId(): string | null {
  try {
    const id = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return /^[a-f0-9-]{16,64}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}

export class LayerWriteback {
  private readonly dir: string;
  /** Layers committed and not yet flushed (chain hex → commit generation: a layer removed and made again during a flush stays pending). */
  private readonly pending = new Map<string, number>();
  private gen = 0;
  /** Markers of other boots found by recover(), by layer: removed by forget() once the layer is gone. */
  private readonly tornMarkers = new Map<string, string[]>();
  private quietTimer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private running: Promise<void> | undefined;

  constructor(private readonly fsRoot: string, private readonly boot: string) {
    this.dir = path.join(fsRoot, 'unsynced');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /**
   * Reads the markers left by an earlier run. Returns the layers written
   * before a reboot and never flushed (the caller removes them, then calls
   * forget); layers of this boot are queued for a flush.
   */
  recover(): string[] {
    const torn: string[] = [];
    for (const n of fs.readdirSync(this.dir)) {
      const dot = n.indexOf('.');
      const hex = n.slice(0, dot);
      if (dot < 0 || !HEX_RE.test(hex)) {
        fs.rmSync(path.join(this.dir, n), { force: true }); // a stray file: not ours
        continue;
      }
      if (n.slice(dot + 1) === this.boot) {
        if (fs.existsSync(path.join(this.fsRoot, hex))) this.queue(hex);
        else fs.rmSync(path.join(this.dir, n), { force: true }); // the commit never happened
      } else {
        torn.push(hex);
        this.tornMarkers.set(hex, [...(this.tornMarkers.get(hex) ?? []), n]);
      }
    }
    return torn;
  }

  /** Before the rename that commits the layer. */
  mark(hex: string): void {
    fs.writeFileSync(path.join(this.dir, `${hex}.${this.boot}`), '');
  }

  /** After the commit (or after finding the layer already committed by another writer). */
  committed(hex: string): void {
    this.queue(hex);
  }

  /** The layer is gone (removed, or its commit failed, or dropped by recover): its markers go too. */
  forget(hex: string): void {
    this.pending.delete(hex);
    for (const n of [`${hex}.${this.boot}`, ...(this.tornMarkers.get(hex) ?? [])]) fs.rmSync(path.join(this.dir, n), { force: true });
    this.tornMarkers.delete(hex);
  }

  /** Flushes now every layer committed so far (shutdown, tests). */
  async flush(): Promise<void> {
    clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    while (this.running) await this.running;
    if (this.pending.size) await this.run();
  }

  private queue(hex: string): void {
    if (this.pending.size === 0) this.firstPendingAt = Date.now();
    this.pending.set(hex, ++this.gen);
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.quietTimer);
    const wait = Math.max(0, Math.min(QUIET_MS, this.firstPendingAt + MAX_DELAY_MS - Date.now()));
    this.quietTimer = setTimeout(() => {
      this.quietTimer = undefined;
      if (this.running) {
        // One flush at a time; the layers committed meanwhile go in the next.
        void this.running.then(() => this.pending.size && this.schedule());
        return;
      }
      void this.run();
    }, wait);
    this.quietTimer.unref();
  }

  private run(): Promise<void> {
    const batch = [...this.pending];
    const started = Date.now();
    const p = (async () => {
      try {
        await native().syncfsAsync(this.fsRoot);
      } catch (e) {
        log.warn('flushing layers failed; will retry', { err: e });
        return;
      }
      for (const [hex, gen] of batch) {
        if (this.pending.get(hex) !== gen) continue;
        this.pending.delete(hex);
        fs.rmSync(path.join(this.dir, `${hex}.${this.boot}`), { force: true });
      }
      log.debug('layers flushed', { layers: batch.length, ms: Date.now() - started });
    })().finally(() => {
      this.running = undefined;
      if (this.pending.size) {
        this.firstPendingAt = Date.now();
        this.schedule();
      }
    });
    this.running = p;
    return p;
  }
}
