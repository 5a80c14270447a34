// docker/go-units: human-readable durations and sizes, and size parsing.
import { gFormat } from './template';

/** units.HumanDuration: "Less than a second", "About a minute", "2 hours", ... (ms input). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3600000) / 24 / 365)} years`;
}

/** "<duration> ago" for a unix-seconds timestamp, relative to now (ms). */
export function timeAgo(unixSeconds: number, now = Date.now()): string {
  return humanDuration(now - unixSeconds * 1000) + ' ago';
}

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

function sizeAndUnit(size: number, base: number, units: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return [size, units[i]!];
}

/** units.HumanSizeWithPrecision: "%.*g%s" with decimal units ("1.98MB"). */
export function humanSizeWithPrecision(size: number, precision: number): string {
  const [n, u] = sizeAndUnit(size, 1000, DECIMAL);
  return gFormat(n, precision) + u;
}

/** units.HumanSize: 4 significant digits. */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

/** units.BytesSize: binary units, "%.4g%s" ("1.5GiB"). */
export function bytesSize(size: number): string {
  const [n, u] = sizeAndUnit(size, 1024, BINARY);
  return gFormat(n, 4) + u;
}

/** units.RAMInBytes / FromHumanSize: "512m", "1g", "10kb", "1.5GiB". */
export function parseSize(input: string, binary = true): number {
  const s = input;
  let sep = -1;
  for (let i = s.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(s[i]!)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new Error(`invalid size: '${s}'`);
  let num: string;
  let sfx: string;
  if (s[sep] !== ' ') {
    num = s.slice(0, sep + 1);
    sfx = s.slice(sep + 1);
  } else {
    num = s.slice(0, sep);
    sfx = s.slice(sep + 1);
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) throw new Error(`strconv.ParseFloat: parsing "${num}": invalid syntax`);
  let size = Number(num);
  if (size < 0) throw new Error(`invalid size: '${s}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const bad = (): never => {
    throw new Error(`invalid suffix: '${sfx}'`);
  };
  if (sfx.length > 3) bad();
  const l = sfx.toLowerCase();
  if (l[0] === 'b') {
    if (l.length > 1) bad();
    return Math.trunc(size);
  }
  const k = binary ? 1024 : 1000;
  const mult: Record<string, number> = { k, m: k ** 2, g: k ** 3, t: k ** 4, p: k ** 5 };
  const m = mult[l[0]!];
  if (m === undefined) bad();
  size *= m!;
  if (l.length === 2 && l[1] !== 'b') bad();
  if (l.length === 3 && l.slice(1) !== 'ib') bad();
  return Math.trunc(size);
}
