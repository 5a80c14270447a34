// Small statistics and table helpers for the benchmarks.

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export const median = (v: number[]): number => quantile(v, 0.5);
export const p90 = (v: number[]): number => quantile(v, 0.9);

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

export function fmtMB(kb: number): string {
  if (!Number.isFinite(kb)) return '-';
  return `${(kb / 1024).toFixed(1)} MB`;
}

export interface Row {
  name: string;
  figure: string;
  floor: string;
  target: string;
  /** true: within target, false: over, undefined: no verdict. */
  ok?: boolean;
  note?: string;
}

export function printTable(rows: Row[]): void {
  const head = ['benchmark', 'figure', 'floor', 'target', 'verdict'];
  const cells = rows.map((r) => [r.name, r.figure, r.floor, r.target, r.ok === undefined ? (r.note ?? '') : r.ok ? 'ok' : 'OVER']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
  for (const r of rows) if (r.note && r.ok !== undefined) console.log(`  note: ${r.name}: ${r.note}`);
}
