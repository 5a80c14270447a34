// A hint from code that just let go of a lot of memory on a timer (pooled
// buffers, idle worker threads), when no API request follows to prompt the
// daemon's reclaimer (daemon/memory.ts): it runs a GC and malloc_trim then.
const listeners = new Set<() => void>();

export function onMemoryReleased(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function memoryReleased(): void {
  for (const fn of listeners) fn();
}
