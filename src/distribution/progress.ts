// Docker's JSON progress stream (pkg/jsonmessage + pkg/streamformatter): one
// JSON object per line with status, id and progressDetail, so the docker CLI
// redraws one line per layer on a terminal. The `progress` text is rendered
// the way a daemon renders it (no terminal: width 200, no start time).

export interface JSONMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  errorDetail?: { message: string; code?: number };
  error?: string;
  aux?: unknown;
  stream?: string;
}

export type ProgressSink = (m: JSONMessage) => void;

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSize: decimal units, 4 significant digits ("1.984MB", "116B"). */
export function humanSize(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${formatG4(v)}${UNITS[i]}`;
}

/** Go's %.4g for 0 <= v < 1000 (trailing zeros dropped). */
function formatG4(v: number): string {
  if (v === 0) return '0';
  let s = v.toPrecision(4);
  if (s.includes('e')) return String(Number(s));
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

/** JSONProgress.String() as a daemon computes it (terminal width 200, Start unset). */
export function progressString(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current).padStart(8);
  let pct = Math.floor(Math.floor((current / total) * 100) / 2);
  if (pct > 50) pct = 50;
  const bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] `;
  const numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

/** progress.Update: a layer's status line (Docker writes progressDetail:{} on these). */
export function statusMessage(status: string, id?: string): JSONMessage {
  return id !== undefined ? { status, progressDetail: {}, id } : { status };
}

/** progress.Message: a plain line, optionally with an id ("Pulling from ..." under the tag). */
export function plainMessage(status: string, id?: string): JSONMessage {
  return id !== undefined && id !== '' ? { status, id } : { status };
}

export function progressMessage(id: string, action: string, current: number, total: number): JSONMessage {
  return { status: action, progressDetail: { current, total }, progress: progressString(current, total), id };
}

/**
 * Wraps a sink with per-id throttling of progress lines (at most one every
 * intervalMs per id; the final 100% line always goes out). Status lines pass
 * straight through.
 */
export class ProgressOutput {
  private readonly last = new Map<string, number>();
  constructor(private readonly sink: ProgressSink, private readonly intervalMs = 100) {}

  /** A layer status update ("Pulling fs layer", "Pushed", ...). */
  status(status: string, id?: string): void {
    this.sink(statusMessage(status, id));
  }

  /** A message line ("Pulling from ...", "Digest: ...", "Status: ..."). */
  message(status: string, id?: string): void {
    this.sink(plainMessage(status, id));
  }

  progress(id: string, action: string, current: number, total: number): void {
    const now = Date.now();
    const key = `${id}\0${action}`;
    const prev = this.last.get(key) ?? 0;
    if (current < total && now - prev < this.intervalMs) return;
    this.last.set(key, now);
    this.sink(progressMessage(id, action, current, total));
  }

  aux(aux: unknown): void {
    this.sink({ progressDetail: {}, aux });
  }

  raw(m: JSONMessage): void {
    this.sink(m);
  }
}

/** The error line a stream ends with once streaming has begun. */
export function errorMessage(message: string): JSONMessage {
  return { errorDetail: { message }, error: message };
}
