// AST nodes → typed instructions grouped into stages, with the argument and
// flag validation Docker does before anything runs (BuildKit's
// frontend/dockerfile/instructions/parse.go). Variables are not expanded here:
// that needs the build's state and happens when a step is dispatched.
import { DockerfileError, parseDockerfile, type Heredoc, type Node, type ParseResult } from './parser';

export type Command = { json: true; args: string[] } | { json: false; line: string };

export interface KeyValue {
  /** Raw (unexpanded) key and value words. */
  key: string;
  value: string;
}

export type Source = { kind: 'path'; raw: string } | { kind: 'heredoc'; heredoc: Heredoc };

export interface HealthSpec {
  /** ['NONE'] or ['CMD', ...] / ['CMD-SHELL', line]. */
  test: string[];
  /** Nanoseconds; 0 = inherit. */
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}

interface Base<K extends string> {
  kind: K;
  node: Node;
}

export interface FromInstr extends Base<'from'> { image: string; name?: string; platform?: string }
export interface RunInstr extends Base<'run'> {
  command: Command;
  heredocs: Heredoc[];
  /** BuildKit-only flags given (--mount, --network, --security, --device): the legacy builder refuses them when the step runs. */
  flagsUsed: string[];
}
export interface CmdInstr extends Base<'cmd'> { command: Command }
export interface EntrypointInstr extends Base<'entrypoint'> { command: Command }
export interface ShellInstr extends Base<'shell'> { shell: string[] }
export interface EnvInstr extends Base<'env'> { pairs: KeyValue[] }
export interface LabelInstr extends Base<'label'> { pairs: KeyValue[] }
export interface MaintainerInstr extends Base<'maintainer'> { name: string }
export interface ExposeInstr extends Base<'expose'> { ports: string[] }
export interface CopyInstr extends Base<'copy' | 'add'> {
  sources: Source[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
  checksum?: string;
  /** ADD --unpack: undefined = the default (local archives are extracted, URLs are not). */
  unpack?: boolean;
  /** --exclude patterns (raw). */
  exclude?: string[];
  /** COPY --parents. */
  parents?: boolean;
}
export interface VolumeInstr extends Base<'volume'> { paths: string[]; json: boolean }
export interface UserInstr extends Base<'user'> { user: string }
export interface WorkdirInstr extends Base<'workdir'> { path: string }
export interface ArgInstr extends Base<'arg'> { args: Array<{ key: string; value?: string }> }
export interface OnbuildInstr extends Base<'onbuild'> { expression: string }
export interface StopsignalInstr extends Base<'stopsignal'> { signal: string }
export interface HealthcheckInstr extends Base<'healthcheck'> { health: HealthSpec }

export type Instruction =
  | FromInstr | RunInstr | CmdInstr | EntrypointInstr | ShellInstr | EnvInstr | LabelInstr | MaintainerInstr
  | ExposeInstr | CopyInstr | VolumeInstr | UserInstr | WorkdirInstr | ArgInstr | OnbuildInstr | StopsignalInstr
  | HealthcheckInstr;

export interface Stage {
  index: number;
  /** Lower-cased `AS` name. */
  name?: string;
  from: FromInstr;
  instructions: Instruction[];
}

export interface Dockerfile {
  stages: Stage[];
  /** ARGs before the first FROM. */
  metaArgs: ArgInstr[];
  escape: string;
  directives: Record<string, string>;
  warnings: string[];
}

export const INSTRUCTIONS = [
  'add', 'arg', 'cmd', 'copy', 'entrypoint', 'env', 'expose', 'from', 'healthcheck', 'label', 'maintainer',
  'onbuild', 'run', 'shell', 'stopsignal', 'user', 'volume', 'workdir',
] as const;

// ---------------------------------------------------------------------------
// Flags (BuildKit's BFlags)

type FlagKind = 'string' | 'bool' | 'list';

class Flags {
  private readonly values = new Map<string, string[]>();
  /** Flag names in the order they were first given. */
  readonly order: string[] = [];
  constructor(private readonly node: Node, private readonly file: string, spec: Record<string, FlagKind>) {
    for (const w of node.flags) {
      if (!w.startsWith('--')) throw this.err(`arg should start with -- : ${w}`);
      const body = w.slice(2);
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      const kind = spec[name];
      if (kind === undefined) throw this.err(suggest(`unknown flag: --${name}`, name, Object.keys(spec), true));
      let value: string;
      if (eq < 0) {
        if (kind !== 'bool') throw this.err(`missing a value on flag: --${name}`);
        value = 'true';
      } else {
        value = body.slice(eq + 1);
        if (kind === 'bool') {
          if (value === '') throw this.err(`missing a value on flag: --${name}`);
          if (!['true', 'false'].includes(value.toLowerCase())) throw this.err(`expecting boolean value for flag --${name}, not: ${value}`);
        }
      }
      const prev = this.values.get(name);
      if (prev && kind !== 'list') throw this.err(`duplicate flag specified: --${name}`);
      this.values.set(name, [...(prev ?? []), value]);
      if (!this.order.includes(name)) this.order.push(name);
    }
  }
  private err(msg: string): DockerfileError {
    return new DockerfileError(this.file, this.node.startLine, msg);
  }
  list(name: string): string[] {
    return this.values.get(name) ?? [];
  }
  str(name: string): string | undefined {
    return this.values.get(name)?.[0];
  }
  bool(name: string): boolean {
    const v = this.values.get(name)?.[0];
    return v !== undefined && v.toLowerCase() !== 'false';
  }
  has(name: string): boolean {
    return this.values.has(name);
  }
}

/** Levenshtein distance (small strings: instruction and flag names). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** BuildKit's suggest.WrapError: ` (did you mean x?)` for the closest option within distance 2, in the case the user wrote. */
export function suggest(msg: string, value: string, options: readonly string[], caseSensitive: boolean): string {
  const v = caseSensitive ? value : value.toLowerCase();
  let match = '';
  let min = 3;
  for (const o of options) {
    const opt = caseSensitive ? o : o.toLowerCase();
    if (opt === v) return msg; // an exact match: the error is about something else
    const d = distance(v, opt);
    if (d < min) {
      min = d;
      match = opt;
      if (!caseSensitive) {
        if (value === value.toLowerCase()) match = opt.toLowerCase();
        else if (value === value.toUpperCase()) match = opt.toUpperCase();
      }
    }
  }
  return match ? `${msg} (did you mean ${match}?)` : msg;
}

// ---------------------------------------------------------------------------
// Argument helpers (parser.go's parse* functions)

/** BuildKit's parseWords: whitespace-separated words, quotes and escapes kept for later expansion. */
export function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  const chars = [...rest];
  for (let pos = 0; pos <= chars.length; pos++) {
    const ch = pos < chars.length ? (chars[pos] as string) : '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (/\s/.test(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (/\s/.test(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        pos++;
        word += chars[pos] as string;
        continue;
      }
      word += ch;
      continue;
    }
    // quote
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      pos++;
      word += chars[pos] as string;
      continue;
    }
    word += ch;
  }
  return words;
}

/** JSON array of strings, or undefined for anything that is not a JSON array; throws for arrays of non-strings. */
function parseJsonArray(rest: string): string[] | undefined {
  const t = rest.trimStart();
  if (!t.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  if (!v.every((x): x is string => typeof x === 'string')) throw new Error('when using JSON array syntax, arrays must be comprised of strings only');
  return v;
}

function splitWhitespace(rest: string): string[] {
  return rest.split(/[\t\v\f\r\n ]+/).filter((s) => s !== '');
}

// ---------------------------------------------------------------------------

const STAGE_NAME_RE = /^[a-z][a-z0-9-_.]*$/;

function nanos(file: string, node: Node, flag: string, v: string | undefined): number {
  if (v === undefined || v === '') return 0;
  const m = /^((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/.exec(v);
  if (!m) throw new DockerfileError(file, node.startLine, `time: invalid duration "${v}"`);
  const unit: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  for (const part of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * (unit[part[2] as string] ?? 0);
  const n = Math.round(total);
  if (n !== 0 && n < 1e6) throw new DockerfileError(file, node.startLine, `Interval "${flag}" cannot be less than 1ms`);
  return n;
}

/** Parses one AST node into an instruction (ONBUILD triggers reuse this). */
export function parseInstruction(node: Node, file: string, escape: string): Instruction {
  const err = (msg: string): DockerfileError => new DockerfileError(file, node.startLine, msg);
  const upper = node.cmd.toUpperCase();
  const args = node.args;
  const noFlags = (): void => void new Flags(node, file, {});
  const command = (allowEmpty: boolean): Command => {
    let json: string[] | undefined;
    try {
      json = parseJsonArray(args);
    } catch (e) {
      throw err((e as Error).message);
    }
    if (json) return { json: true, args: json };
    if (!args && !allowEmpty) throw err(`${upper} requires at least one argument`);
    return { json: false, line: args };
  };
  const exactlyOne = (): string => {
    if (!args) throw err(`${upper} requires exactly one argument`);
    return args;
  };
  const nameValues = (): KeyValue[] => {
    const words = parseWords(args, escape);
    if (words.length === 0) throw err(`${upper} requires at least one argument`);
    if (!(words[0] as string).includes('=')) {
      const parts = args.split(/[\t\v\f\r\n ]+/);
      if (parts.length < 2 || (parts.length === 2 && parts[1] === '')) throw err(`${upper} must have two arguments`);
      const key = parts[0] as string;
      return [{ key, value: args.slice(key.length).trimStart() }];
    }
    return words.map((w) => {
      const i = w.indexOf('=');
      if (i < 0) throw err(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
      return { key: w.slice(0, i), value: w.slice(i + 1) };
    });
  };
  switch (node.cmd) {
    case 'from': {
      const f = new Flags(node, file, { platform: 'string' });
      const words = splitWhitespace(args);
      if (!(words.length === 1 || (words.length === 3 && (words[1] as string).toLowerCase() === 'as'))) {
        throw err('FROM requires either one or three arguments');
      }
      let name: string | undefined;
      if (words.length === 3) {
        name = (words[2] as string).toLowerCase();
        if (!STAGE_NAME_RE.test(name)) throw err(`invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
      }
      const platform = f.str('platform');
      return { kind: 'from', node, image: words[0] as string, ...(name !== undefined ? { name } : {}), ...(platform ? { platform } : {}) };
    }
    case 'run': {
      // BuildKit's RUN flags parse (so a Dockerfile written for BuildKit reads fine) but, as in Docker's
      // legacy builder, using one fails when the step is reached: see Executor.runStep.
      const f = new Flags(node, file, { mount: 'list', network: 'string', security: 'string', device: 'list' });
      const network = f.str('network');
      if (network !== undefined && !['default', 'none', 'host'].includes(network)) throw err(`invalid network mode "${network}"`);
      return { kind: 'run', node, command: command(false), heredocs: node.heredocs, flagsUsed: [...f.order] };
    }
    case 'cmd':
      noFlags();
      return { kind: 'cmd', node, command: command(false) };
    case 'entrypoint':
      noFlags();
      return { kind: 'entrypoint', node, command: command(false) };
    case 'shell': {
      noFlags();
      let json: string[] | undefined;
      try {
        json = parseJsonArray(args);
      } catch (e) {
        throw err((e as Error).message);
      }
      if (!json) throw err('SHELL requires the arguments to be in JSON form');
      if (json.length === 0) throw err('SHELL requires at least one argument');
      return { kind: 'shell', node, shell: json };
    }
    case 'env':
      noFlags();
      return { kind: 'env', node, pairs: nameValues() };
    case 'label':
      noFlags();
      return { kind: 'label', node, pairs: nameValues() };
    case 'maintainer':
      noFlags();
      return { kind: 'maintainer', node, name: exactlyOne() };
    case 'expose': {
      noFlags();
      const ports = splitWhitespace(args);
      if (!ports.length) throw err('EXPOSE requires at least one argument');
      return { kind: 'expose', node, ports };
    }
    case 'copy':
    case 'add': {
      const spec: Record<string, FlagKind> = node.cmd === 'copy'
        ? { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'list' }
        : { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', unpack: 'bool', exclude: 'list' };
      const f = new Flags(node, file, spec);
      let words: string[];
      let json = false;
      try {
        const j = parseJsonArray(args);
        json = j !== undefined;
        words = j ?? splitWhitespace(args);
      } catch (e) {
        throw err((e as Error).message);
      }
      if (words.length < 2) {
        throw err(`${upper} requires at least two arguments, but only ${words.length === 0 ? 'none were' : 'one was'} provided. Destination could not be determined`);
      }
      const heredocs = new Map(node.heredocs.map((h) => [h.name, h]));
      const sources: Source[] = words.slice(0, -1).map((w) => {
        if (!json && node.heredocs.length) {
          const m = /^\d*<<-?(.+)$/s.exec(w);
          if (m) {
            const name = (m[1] as string).replace(/^["']|["']$/g, '');
            const h = heredocs.get(name);
            if (h) return { kind: 'heredoc', heredoc: h };
          }
        }
        return { kind: 'path', raw: w };
      });
      const chown = f.str('chown');
      const chmod = f.str('chmod');
      const from = f.str('from');
      const checksum = f.str('checksum');
      // --chmod may hold variables ($MODE): it is checked once expanded, when the step runs.
      const unpack = f.has('unpack') ? f.bool('unpack') : undefined;
      const dest = words[words.length - 1] as string;
      if (!json && node.heredocs.length && /^\d*<<-?\S/.test(dest)) throw err(`${upper} cannot accept a heredoc as a destination`);
      return {
        kind: node.cmd, node, sources, dest,
        ...(from !== undefined ? { from } : {}), ...(chown ? { chown } : {}), ...(chmod ? { chmod } : {}), ...(checksum ? { checksum } : {}),
        ...(unpack !== undefined ? { unpack } : {}), ...(f.list('exclude').length ? { exclude: f.list('exclude') } : {}),
        ...(f.bool('parents') ? { parents: true } : {}),
      };
    }
    case 'volume': {
      noFlags();
      let json: string[] | undefined;
      try {
        json = parseJsonArray(args);
      } catch (e) {
        throw err((e as Error).message);
      }
      const paths = json ?? splitWhitespace(args);
      if (!paths.length) throw err('VOLUME requires at least one argument');
      return { kind: 'volume', node, paths, json: json !== undefined };
    }
    case 'user':
      noFlags();
      return { kind: 'user', node, user: exactlyOne() };
    case 'workdir':
      noFlags();
      return { kind: 'workdir', node, path: exactlyOne() };
    case 'arg': {
      noFlags();
      const words = parseWords(args, escape);
      if (!words.length) throw err('ARG requires at least one argument');
      return {
        kind: 'arg', node,
        args: words.map((w) => {
          const i = w.indexOf('=');
          const key = i < 0 ? w : w.slice(0, i);
          if (!key) throw err(`ARG names can not be blank`);
          return i < 0 ? { key } : { key, value: w.slice(i + 1) };
        }),
      };
    }
    case 'onbuild': {
      noFlags();
      if (!args) throw err('ONBUILD requires at least one argument');
      const trigger = (/^\S+/.exec(args)?.[0] ?? '').toUpperCase();
      if (trigger === 'ONBUILD') throw err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'FROM' || trigger === 'MAINTAINER') throw err(`${trigger} isn't allowed as an ONBUILD trigger`);
      // The trigger must itself be a valid instruction.
      const sub = parseDockerfile(args, file).nodes[0];
      if (sub) parseInstruction({ ...sub, startLine: node.startLine, endLine: node.endLine }, file, escape);
      return { kind: 'onbuild', node, expression: args };
    }
    case 'stopsignal':
      noFlags();
      return { kind: 'stopsignal', node, signal: exactlyOne() };
    case 'healthcheck': {
      const m = /^(\S+)\s*([\s\S]*)$/.exec(args);
      if (!m) throw err('HEALTHCHECK requires at least one argument');
      const typ = (m[1] as string).toUpperCase();
      const rest = m[2] ?? '';
      if (typ === 'NONE') {
        // As BuildKit: flags are not looked at for NONE.
        if (rest.trim()) throw err('HEALTHCHECK NONE takes no arguments');
        return { kind: 'healthcheck', node, health: { test: ['NONE'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 } };
      }
      const f = new Flags(node, file, { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' });
      if (typ !== 'CMD') throw err(`Unknown type ${JSON.stringify(typ)} in HEALTHCHECK (try CMD)`);
      let json: string[] | undefined;
      try {
        json = parseJsonArray(rest);
      } catch (e) {
        throw err((e as Error).message);
      }
      if (!json && !rest.trim()) throw err('Missing command after HEALTHCHECK CMD');
      const test = json ? ['CMD', ...json] : ['CMD-SHELL', rest];
      const retriesRaw = f.str('retries');
      let retries = 0;
      if (retriesRaw !== undefined && retriesRaw !== '') {
        if (!/^-?\d+$/.test(retriesRaw)) throw err(`strconv.ParseInt: parsing "${retriesRaw}": invalid syntax`);
        retries = Number(retriesRaw);
        if (retries < 0) throw err(`--retries cannot be negative (${retries})`);
      }
      return {
        kind: 'healthcheck', node,
        health: {
          test,
          interval: nanos(file, node, 'interval', f.str('interval')),
          timeout: nanos(file, node, 'timeout', f.str('timeout')),
          startPeriod: nanos(file, node, 'start-period', f.str('start-period')),
          startInterval: nanos(file, node, 'start-interval', f.str('start-interval')),
          retries,
        },
      };
    }
    default:
      throw err(suggest(`unknown instruction: ${node.keyword}`, node.keyword, INSTRUCTIONS, false));
  }
}

/** Parses a Dockerfile's text into stages (throws DockerfileError with the line). */
export function parseStages(text: string, file = 'Dockerfile'): Dockerfile {
  const res: ParseResult = parseDockerfile(text, file);
  return toStages(res, file);
}

export function toStages(res: ParseResult, file = 'Dockerfile'): Dockerfile {
  if (res.nodes.length === 0) throw new DockerfileError(file, 0, 'file with no instructions', 'file');
  const stages: Stage[] = [];
  const metaArgs: ArgInstr[] = [];
  const names = new Set<string>();
  for (const node of res.nodes) {
    const ins = parseInstruction(node, file, res.escape);
    if (ins.kind === 'from') {
      if (ins.name !== undefined) {
        if (names.has(ins.name)) throw new DockerfileError(file, node.startLine, `${ins.name} stage name already used`, 'plain');
        names.add(ins.name);
      }
      stages.push({ index: stages.length, ...(ins.name !== undefined ? { name: ins.name } : {}), from: ins, instructions: [] });
      continue;
    }
    const cur = stages[stages.length - 1];
    if (!cur) {
      if (ins.kind === 'arg') {
        metaArgs.push(ins);
        continue;
      }
      throw new DockerfileError(file, node.startLine, 'no build stage in current context', 'plain');
    }
    cur.instructions.push(ins);
  }
  if (stages.length === 0) throw new DockerfileError(file, 0, 'no build stage in current context', 'plain');
  return { stages, metaArgs, escape: res.escape, directives: res.directives, warnings: res.warnings };
}
