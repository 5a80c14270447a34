// Docker's `filters` query parameter, accepted in both wire shapes:
// the CLI's map of sets {"label":{"a=b":true}} and docker-py's map of lists {"label":["a=b"]}.
import { invalid } from './errors';

export type Filters = Map<string, string[]>;

export function parseFilters(raw: string | undefined | null): Filters {
  const out: Filters = new Map();
  if (!raw) return out;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalid(`invalid filter: ${raw}`);
  }
  if (v === null) return out;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`invalid filter: ${raw}`);
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (Array.isArray(val)) out.set(k, val.map(String));
    else if (val && typeof val === 'object') out.set(k, Object.entries(val as Record<string, unknown>).filter(([, b]) => b !== false).map(([s]) => s));
    else throw invalid(`invalid filter: ${raw}`);
  }
  return out;
}

/** Throws Docker's error for a filter key the endpoint does not know. */
export function checkFilterKeys(f: Filters, allowed: readonly string[]): void {
  for (const k of f.keys()) if (!allowed.includes(k)) throw invalid(`invalid filter '${k}'`);
}

/** label filter: every value `k` or `k=v` must match. `label!` negates. */
export function matchLabels(f: Filters, labels: Record<string, string> | null | undefined): boolean {
  const l = labels ?? {};
  for (const want of f.get('label') ?? []) {
    const i = want.indexOf('=');
    if (i < 0) {
      if (!(want in l)) return false;
    } else if (l[want.slice(0, i)] !== want.slice(i + 1)) return false;
  }
  for (const want of f.get('label!') ?? []) {
    const i = want.indexOf('=');
    if (i < 0) {
      if (want in l) return false;
    } else if (l[want.slice(0, i)] === want.slice(i + 1)) return false;
  }
  return true;
}

/** Parses Docker's boolean query values: "", 0, no, false, none are false. */
export function parseBool(v: string | null | undefined, dflt = false): boolean {
  if (v === null || v === undefined) return dflt;
  const s = v.trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** `until`/`since` style timestamps: unix seconds (with fraction), RFC3339, or a Go duration relative to now. */
export function parseTimestamp(v: string, now = Date.now()): number {
  const s = v.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const dur = parseGoDuration(s);
  if (dur !== undefined) return now - dur;
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw invalid(`invalid timestamp: ${v}`);
  return t;
}

/** Go's time.ParseDuration subset ("1h30m", "10s", "500ms"), in milliseconds. */
export function parseGoDuration(s: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  if (!/^(\d+(?:\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) return undefined;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  let total = 0;
  for (const m of s.matchAll(re)) total += Number(m[1]) * (unit[m[2] ?? 's'] ?? 0);
  return total;
}
