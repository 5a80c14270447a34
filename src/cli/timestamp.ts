// api/types/time.GetTimestamp: turns --since/--until values (Go durations,
// RFC3339-ish dates, unix timestamps) into the "seconds[.nanos]" the API takes.
import { parseGoDurationNs } from './run-opts';

function pad9(n: number): string {
  return String(n).padStart(9, '0');
}

export function getTimestamp(value: string, now = Date.now()): string {
  if (value !== '0') {
    try {
      const ns = parseGoDurationNs(value);
      return String(Math.floor((now - ns / 1e6) / 1000));
    } catch {
      // not a duration
    }
  }
  const parseInLocation = !/[zZ+]/.test(value) && (value.match(/-/g) ?? []).length !== 3;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/.exec(value);
  if (m && (parseInLocation ? m[8] === undefined : m[8] !== undefined)) {
    const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
    const frac = m[7] ? Number(m[7].padEnd(9, '0')) : 0;
    let ms: number;
    if (parseInLocation) ms = new Date(y, mo - 1, d, h, mi, s).getTime();
    else {
      ms = Date.UTC(y, mo - 1, d, h, mi, s);
      const z = m[8]!;
      if (z !== 'Z' && z !== 'z') {
        const sign = z[0] === '-' ? -1 : 1;
        const [oh, om] = z.slice(1).split(':').map(Number) as [number, number];
        ms -= sign * (oh * 60 + om) * 60000;
      }
    }
    return `${Math.floor(ms / 1000)}.${pad9(frac)}`;
  }
  if (value.includes('-')) throw new Error(`parsing time "${value}": cannot parse "${value}" as a timestamp`);
  if (!/^\d+(\.\d+)?$/.test(value)) throw new Error(`failed to parse value as time or duration: "${value}"`);
  return value;
}

/** RFC3339Nano with fixed 9-digit fraction in UTC ("2006-01-02T15:04:05.000000000Z"). */
export function rfc3339NanoFixed(timeNano: bigint | number, local = true): string {
  const ns = BigInt(timeNano);
  const ms = Number(ns / 1000000n);
  const frac = pad9(Number(ns % 1000000000n));
  const d = new Date(ms);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  if (!local || d.getTimezoneOffset() === 0) {
    return `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${frac}Z`;
  }
  const off = -d.getTimezoneOffset();
  const z = `${off < 0 ? '-' : '+'}${p2(Math.floor(Math.abs(off) / 60))}:${p2(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${frac}${z}`;
}
