// Gives memory back after bursts. V8 keeps the heap it grew to and glibc keeps
// the pages freed Buffers came from, so an idle berthd that just served a
// large log or image would sit tens of MB above its working set. Once the API
// has been quiet for a moment and RSS is well above where the last reclaim
// left it, run a full GC and malloc_trim(0).
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { log } from '../common/log';
import { onMemoryReleased } from '../common/memory-hint';
import { native } from '../common/native';

const QUIET_MS = 500;
const GROWTH_BYTES = 8 << 20;

export class MemoryReclaimer {
  private timer: NodeJS.Timeout | undefined;
  private floor = process.memoryUsage.rss();
  private readonly gc: (() => void) | undefined;
  private readonly unhint: () => void;

  constructor() {
    // A pool or worker let go on a timer: reclaim whatever RSS says (the floor was set while it was held).
    this.unhint = onMemoryReleased(() => setTimeout(() => this.reclaim(true), 50).unref());
    // --expose-gc at run time, then fetch gc from a fresh context (the flag
    // only affects contexts created after it is set).
    try {
      v8.setFlagsFromString('--expose-gc');
      this.gc = vm.runInNewContext('gc') as () => void;
    } catch { /* no gc: malloc_trim alone still helps */ }
  }

  /** Called when a request ends: (re)arms the quiet-period check. */
  poke(): void {
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => { this.timer = undefined; this.reclaim(); }, QUIET_MS);
      this.timer.unref();
    }
  }

  reclaim(force = false): void {
    const before = process.memoryUsage.rss();
    if (!force && before < this.floor + GROWTH_BYTES) return;
    const t0 = performance.now();
    this.gc?.();
    try { native().mallocTrim(); } catch { /* addon without it */ }
    this.floor = process.memoryUsage.rss();
    log.debug('memory reclaimed', { beforeMB: (before / 1048576).toFixed(1), afterMB: (this.floor / 1048576).toFixed(1), ms: (performance.now() - t0).toFixed(1) });
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.unhint();
  }
}
