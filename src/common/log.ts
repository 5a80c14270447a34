// Minimal leveled logger to stderr; berthd's --log-level sets the threshold.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, fatal: 50 };
let threshold = order.info;

export function setLogLevel(level: string): void {
  if (level in order) threshold = order[level as LogLevel];
  else throw new Error(`invalid log level: ${level}`);
}

function emit(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  if (order[level] < threshold) return;
  let line = `time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}`;
  if (fields) for (const [k, v] of Object.entries(fields)) line += ` ${k}=${JSON.stringify(v instanceof Error ? v.message : v)}`;
  process.stderr.write(line + '\n');
}

export const log = {
  debug: (m: string, f?: Record<string, unknown>) => emit('debug', m, f),
  info: (m: string, f?: Record<string, unknown>) => emit('info', m, f),
  warn: (m: string, f?: Record<string, unknown>) => emit('warn', m, f),
  error: (m: string, f?: Record<string, unknown>) => emit('error', m, f),
};

/** Phase timings of one operation, logged at debug level: where the milliseconds of a start or an exit go. */
export function phases(op: string, id: string): { mark(label: string): void; done(): void } {
  if (threshold > order.debug) return { mark: () => undefined, done: () => undefined };
  const t0 = performance.now();
  let last = t0;
  const parts: string[] = [];
  return {
    mark(label) { const t = performance.now(); parts.push(`${label}=${(t - last).toFixed(1)}`); last = t; },
    done() { emit('debug', `${op} phases`, { id: id.slice(0, 12), ms: (performance.now() - t0).toFixed(1), parts: parts.join(' ') }); },
  };
}
