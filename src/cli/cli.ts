// Shared command plumbing: the command spec shape, the per-invocation context
// (client, streams, program name) and the StatusError used for exit codes.
import { Client } from '../client/client';
import type { TlsConfig } from '../client/transport';
import { flagUsages, type FlagDef, type Flags } from './flags';

export const PROG = 'berth';
export const VERSION = '0.1.0';

/** An error with an exit status; an empty message prints nothing. */
export class StatusError extends Error {
  constructor(readonly status: number, message = '') {
    super(message);
    this.name = 'StatusError';
  }
}

export interface ArgsRule {
  exact?: number;
  min?: number;
  max?: number;
}

export interface CommandSpec {
  /** "ps [OPTIONS]" */
  use: string;
  short: string;
  /** "docker container ls, docker container list, docker ps" style alias line (with PROG). */
  aliases?: string[];
  flags: FlagDef[];
  /** false: stop parsing flags at the first positional argument. */
  interspersed?: boolean;
  args?: ArgsRule;
  run(cli: Cli, flags: Flags, args: string[]): Promise<number | void>;
}

export interface Streams {
  out: NodeJS.WriteStream | NodeJS.WritableStream;
  err: NodeJS.WriteStream | NodeJS.WritableStream;
  in: NodeJS.ReadStream | NodeJS.ReadableStream;
}

export class Cli {
  private client_: Client | undefined;
  /** e.g. "berth ps" or "berth container ls" (for messages). */
  commandPath = PROG;
  debug = false;
  /** TLS settings for a tcp:// daemon (--tls, --tlsverify, DOCKER_TLS_VERIFY). */
  tls: TlsConfig | undefined;

  constructor(
    readonly host: string,
    readonly streams: Streams = { out: process.stdout, err: process.stderr, get in() { return process.stdin; } },
    readonly apiVersion?: string,
  ) {}

  get client(): Client {
    this.client_ ??= new Client({ host: this.host, version: this.apiVersion, userAgent: `berth-cli/${VERSION}`, ...(this.tls ? { tls: this.tls } : {}) });
    return this.client_;
  }

  out(s: string): void {
    if (s) this.streams.out.write(s);
  }

  err(s: string): void {
    if (s) this.streams.err.write(s);
  }

  get outIsTTY(): boolean {
    return (this.streams.out as NodeJS.WriteStream).isTTY === true;
  }

  get errIsTTY(): boolean {
    return (this.streams.err as NodeJS.WriteStream).isTTY === true;
  }

  get inIsTTY(): boolean {
    return (this.streams.in as NodeJS.ReadStream).isTTY === true;
  }

  /** Terminal size of stdout as [height, width]; [0, 0] when not a terminal. */
  ttySize(): [number, number] {
    const o = this.streams.out as NodeJS.WriteStream;
    if (!o.isTTY) return [0, 0];
    return [o.rows ?? 0, o.columns ?? 0];
  }
}

export function usageLine(spec: CommandSpec, path: string): string {
  const parts = spec.use.split(' ');
  parts[0] = path;
  return parts.join(' ');
}

export function helpText(spec: CommandSpec, path: string): string {
  let s = `\nUsage:  ${usageLine(spec, path)}\n\n${spec.short}\n`;
  if (spec.aliases && spec.aliases.length) s += `\nAliases:\n  ${spec.aliases.join(', ')}\n`;
  const fl = flagUsages(spec.flags);
  if (fl) s += `\nOptions:\n${fl}\n`;
  return s;
}

/** A bad flag value found after parsing: exit 125 with the usage lines, as pflag's own errors. */
export function flagValueError(spec: CommandSpec, path: string, message: string): StatusError {
  return new StatusError(125, `${message}\n\nUsage:  ${path} ${spec.use.split(' ').slice(1).join(' ')}\n\nRun '${path} --help' for more information`);
}

/** cobra-style argument count validation with docker's messages. */
export function checkArgs(spec: CommandSpec, path: string, args: string[]): void {
  const r = spec.args;
  if (!r) return;
  const usage = usageLine(spec, path);
  const plural = (n: number): string => (n === 1 ? 'argument' : 'arguments');
  if (r.exact !== undefined && args.length !== r.exact) {
    if (r.exact === 0) {
      throw new StatusError(1, `${PROG}: '${path}' accepts no arguments\n\nUsage:  ${usage}\n\nRun '${path} --help' for more information`);
    }
    throw new StatusError(1, `${PROG}: '${path}' requires ${r.exact} ${plural(r.exact)}\n\nUsage:  ${usage}\n\nRun '${path} --help' for more information`);
  }
  if (r.min !== undefined && r.max !== undefined && (args.length < r.min || args.length > r.max)) {
    throw new StatusError(1, `${PROG}: '${path}' requires at least ${r.min} and at most ${r.max} ${plural(r.max)}\n\nUsage:  ${usage}\n\nRun '${path} --help' for more information`);
  }
  if (r.min !== undefined && args.length < r.min) {
    throw new StatusError(1, `${PROG}: '${path}' requires at least ${r.min} ${plural(r.min)}\n\nUsage:  ${usage}\n\nSee '${path} --help' for more information`);
  }
  if (r.max !== undefined && args.length > r.max) {
    throw new StatusError(1, `${PROG}: '${path}' requires at most ${r.max} ${plural(r.max)}\n\nUsage:  ${usage}\n\nRun '${path} --help' for more information`);
  }
}

/** Shared flag definitions. */
export const FORMAT_FLAG: FlagDef = {
  name: 'format', type: 'string', valueName: 'string',
  help: "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
};

export const INSPECT_FORMAT_FLAG: FlagDef = {
  name: 'format', short: 'f', type: 'string', valueName: 'string',
  help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
};

export const FILTER_FLAG: FlagDef = { name: 'filter', short: 'f', type: 'list', valueName: 'filter', help: "Filter output based on conditions provided" };

/** opts.FilterOpt: "key=value" pairs into the map-of-lists shape. */
export function parseFilterFlags(values: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i < 0) throw new StatusError(125, `invalid argument "${v}" for "-f, --filter" flag: bad format of filter (expected name=value)`);
    const k = v.slice(0, i).trim().toLowerCase();
    const val = v.slice(i + 1).trim();
    (out[k] ??= []).push(val);
  }
  return out;
}
