// In-process event bus with a bounded history ring, so `events --since`
// can replay what happened before the client connected.
import type { EngineEvent } from '../common/events';
import type { Filters } from '../common/filters';

export interface StoredEvent extends EngineEvent {
  time: number;
  /** nanoseconds since the epoch; a bigint so the last digits survive (JSON via eventJson) */
  timeNano: bigint;
  scope: 'local';
  status?: string;
  id?: string;
  from?: string;
}

type Listener = (ev: StoredEvent) => void;

export class EventBus {
  private ring: StoredEvent[] = [];
  private listeners = new Set<Listener>();
  private lastNano = 0n;
  constructor(private readonly capacity = 1024) {}

  publish = (ev: EngineEvent): void => {
    // Strictly increasing timestamps keep since/until replay ordered.
    let nano = BigInt(Date.now()) * 1000000n + process.hrtime.bigint() % 1000000n;
    if (nano <= this.lastNano) nano = this.lastNano + 1n;
    this.lastNano = nano;
    const stored: StoredEvent = { ...ev, scope: 'local', time: Number(nano / 1000000000n), timeNano: nano };
    if (ev.Type === 'container') {
      // Legacy fields that compose v1 and older clients still read.
      stored.status = ev.Action;
      stored.id = ev.Actor.ID;
      stored.from = ev.Actor.Attributes['image'] ?? '';
    }
    this.ring.push(stored);
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
    for (const l of this.listeners) l(stored);
  };

  history(sinceNano: bigint, untilNano: bigint): StoredEvent[] {
    return this.ring.filter((e) => e.timeNano >= sinceNano && e.timeNano <= untilNano);
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}

/** Docker's event filters: type, container, image, event, label, network, volume, daemon. */
export function matchEvent(f: Filters, e: StoredEvent): boolean {
  const has = (k: string): string[] | undefined => f.get(k);
  const types = has('type');
  if (types && types.length && !types.includes(e.Type)) return false;
  const actions = has('event');
  if (actions && actions.length && !actions.some((a) => e.Action === a || e.Action.startsWith(a + ':'))) return false;
  const attrs = e.Actor.Attributes;
  const idOrName = (vals: string[] | undefined, type: string): boolean => {
    if (!vals || !vals.length) return true;
    if (e.Type !== type) return false;
    return vals.some((v) => e.Actor.ID === v || e.Actor.ID.startsWith(v) || attrs['name'] === v);
  };
  if (!idOrName(has('container'), 'container')) return false;
  if (!idOrName(has('network'), 'network')) return false;
  if (!idOrName(has('volume'), 'volume')) return false;
  const images = has('image');
  if (images && images.length) {
    const img = e.Type === 'image' ? [e.Actor.ID, attrs['name'] ?? ''] : [attrs['image'] ?? ''];
    if (!images.some((v) => img.some((x) => x === v || x === v + ':latest' || x.split(':')[0] === v))) return false;
  }
  for (const want of has('label') ?? []) {
    const i = want.indexOf('=');
    if (i < 0 ? !(want in attrs) : attrs[want.slice(0, i)] !== want.slice(i + 1)) return false;
  }
  return true;
}

/** JSON of an event with timeNano written as an exact integer. */
export function eventJson(e: StoredEvent): string {
  return JSON.stringify({ ...e, timeNano: '@@' + e.timeNano.toString() }).replace(/"@@(\d+)"/, '$1');
}
