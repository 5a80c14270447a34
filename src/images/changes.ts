// Docker's BuildFromConfig: applies Dockerfile instructions given as `changes`
// (import -c, commit -c) to a container config. Only the instructions Docker
// accepts there are allowed; word expansion ($VAR, quotes) follows Docker's
// shell lexer for the instructions that support it.
import * as path from 'node:path';
import { invalid } from '../common/errors';
import { parseGoDuration } from '../common/filters';
import type { ContainerConfig, HealthConfig } from './config';

// Docker 20.10's validCommitCommands, plus STOPSIGNAL (accepted by later Docker versions).
const ALLOWED = new Set(['cmd', 'entrypoint', 'healthcheck', 'env', 'expose', 'label', 'onbuild', 'user', 'volume', 'workdir', 'stopsignal']);

function cloneConfig(c: ContainerConfig): ContainerConfig {
  return JSON.parse(JSON.stringify(c)) as ContainerConfig;
}

/** Splits change strings into instruction lines (backslash continuations joined, comments dropped). */
function lines(changes: string[]): Array<{ instr: string; rest: string; original: string }> {
  const out: Array<{ instr: string; rest: string; original: string }> = [];
  let acc = '';
  for (const raw of changes.join('\n').split('\n')) {
    const l = raw.replace(/\r$/, '');
    if (!acc && /^\s*(#|$)/.test(l)) continue;
    if (/\\\s*$/.test(l)) {
      acc += l.replace(/\\\s*$/, '');
      continue;
    }
    const full = acc + l;
    acc = '';
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(full);
    if (m) out.push({ instr: (m[1] ?? '').toLowerCase(), rest: (m[2] ?? '').trim(), original: full.trim() });
  }
  if (acc.trim()) {
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(acc);
    if (m) out.push({ instr: (m[1] ?? '').toLowerCase(), rest: (m[2] ?? '').trim(), original: acc.trim() });
  }
  return out;
}

function envMap(env: string[] | null | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
    else m.set(e, '');
  }
  return m;
}

/** Docker's shell lexer for one word: quotes removed, escapes and $VAR / ${VAR[:-+]word} expanded. */
export function processWord(word: string, env: Map<string, string>): string {
  let out = '';
  let i = 0;
  const expand = (): string => {
    // at '$'
    i++;
    const c = word[i];
    if (c === '{') {
      const end = word.indexOf('}', i);
      if (end < 0) throw invalid(`missing '}' in ${word}`);
      const body = word.slice(i + 1, end);
      i = end + 1;
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])(.*))?$/s.exec(body);
      if (!m) throw invalid(`bad substitution: \${${body}}`);
      const [, name = '', op, arg = ''] = m;
      const val = env.get(name);
      if (op === ':-') return val ? val : processWord(arg, env);
      if (op === '-') return val !== undefined ? val : processWord(arg, env);
      if (op === ':+') return val ? processWord(arg, env) : '';
      if (op === '+') return val !== undefined ? processWord(arg, env) : '';
      return val ?? '';
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word.slice(i));
    if (!m) return '$';
    i += m[0].length;
    return env.get(m[0]) ?? '';
  };
  while (i < word.length) {
    const c = word[i] as string;
    if (c === '\\') {
      out += word[i + 1] ?? '';
      i += 2;
    } else if (c === "'") {
      const end = word.indexOf("'", i + 1);
      if (end < 0) throw invalid(`unexpected end of statement while looking for matching single-quote`);
      out += word.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= word.length) throw invalid(`unexpected end of statement while looking for matching double-quote`);
        const d = word[i] as string;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && ['"', '$', '\\'].includes(word[i + 1] ?? '')) {
          out += word[i + 1];
          i += 2;
        } else if (d === '$') out += expand();
        else {
          out += d;
          i++;
        }
      }
    } else if (c === '$') out += expand();
    else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Splits on unquoted whitespace, keeping quotes and escapes for processWord. */
function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (q) {
      cur += c;
      if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
      else if (c === q) q = null;
    } else if (c === '\\' && i + 1 < s.length) cur += c + s[++i];
    else if (c === '"' || c === "'") {
      q = c;
      cur += c;
    } else if (/\s/.test(c)) {
      if (cur) words.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur) words.push(cur);
  return words;
}

/** ENV / LABEL arguments: `k=v k2="v 2"` or the legacy `k some value`. */
function nameValues(instr: string, rest: string, env: Map<string, string>): Array<[string, string]> {
  const words = splitWords(rest);
  if (!words.length) throw invalid(`${instr.toUpperCase()} requires at least one argument`);
  if (!(words[0] ?? '').includes('=')) {
    if (words.length < 2) throw invalid(`${instr.toUpperCase()} must have two arguments`);
    const key = words[0] ?? '';
    const value = rest.slice(rest.indexOf(key) + key.length).trim();
    return [[processWord(key, env), processWord(value, env)]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i < 0) throw invalid(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    const k = processWord(w.slice(0, i), env);
    if (!k) throw invalid(`${instr.toUpperCase()} names can not be blank`);
    return [k, processWord(w.slice(i + 1), env)];
  });
}

/** JSON-array form when the text parses as a list of strings, else undefined (shell form). */
function jsonForm(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(rest);
    if (Array.isArray(v) && v.every((x): x is string => typeof x === 'string')) return v;
  } catch {
    /* shell form */
  }
  return undefined;
}

function commandLine(rest: string, c: ContainerConfig): string[] {
  return jsonForm(rest) ?? [...(c.Shell?.length ? c.Shell : ['/bin/sh', '-c']), rest];
}

const SIGNALS = new Set(['ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'UNUSED', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ']);

function validSignal(s: string): boolean {
  if (/^\d+$/.test(s)) return Number(s) > 0 && Number(s) <= 64;
  const n = s.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(n) || /^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(n);
}

function exposePorts(specs: string[], c: ContainerConfig): void {
  const ports = c.ExposedPorts ? { ...c.ExposedPorts } : {};
  for (const spec of specs) {
    const [range = '', proto = 'tcp', ...extra] = spec.split('/');
    if (extra.length || !['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) throw invalid(`invalid proto: ${proto}`);
    const m = /^(\d+)(?:-(\d+))?$/.exec(range);
    if (!m) throw invalid(`invalid containerPort: ${range}`);
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (lo < 1 || hi > 65535 || hi < lo) throw invalid(`invalid containerPort: ${range}`);
    for (let p = lo; p <= hi; p++) ports[`${p}/${proto.toLowerCase()}`] = {};
  }
  c.ExposedPorts = ports;
}

function healthcheck(rest: string): HealthConfig {
  let s = rest;
  const h: HealthConfig = {};
  for (;;) {
    const m = /^--([a-z-]+)=(\S*)\s*/.exec(s);
    if (!m) break;
    s = s.slice(m[0].length);
    const [, flag = '', val = ''] = m;
    if (flag === 'retries') {
      if (!/^\d+$/.test(val)) throw invalid(`invalid argument "${val}" for "--retries" flag`);
      h.Retries = Number(val);
      continue;
    }
    const key = ({ interval: 'Interval', timeout: 'Timeout', 'start-period': 'StartPeriod' } as const)[flag as 'interval' | 'timeout' | 'start-period'];
    if (!key) throw invalid(`Unknown flag: ${flag}`);
    const ms = parseGoDuration(val);
    if (ms === undefined) throw invalid(`time: invalid duration "${val}"`);
    h[key] = Math.round(ms * 1e6);
  }
  const m = /^(\S+)\s*([\s\S]*)$/.exec(s);
  const kind = (m?.[1] ?? '').toUpperCase();
  if (kind === 'NONE') {
    if (m?.[2]) throw invalid('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (kind !== 'CMD') throw invalid(`Unknown type "${kind}" in HEALTHCHECK (try CMD)`);
  const args = m?.[2] ?? '';
  const json = jsonForm(args);
  h.Test = json ? ['CMD', ...json] : ['CMD-SHELL', args];
  return h;
}

/**
 * Applies Dockerfile change lines to a copy of config and returns it.
 * Throws invalid with Docker's messages (`run is not a valid change command`).
 */
export function applyChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const parsed = lines([...changes]);
  for (const l of parsed) if (!ALLOWED.has(l.instr)) throw invalid(`${l.instr} is not a valid change command`);
  const c = cloneConfig(config);
  let cmdSet = false;
  for (const { instr, rest, original } of parsed) {
    const env = envMap(c.Env);
    switch (instr) {
      case 'env': {
        const list = [...(c.Env ?? [])];
        for (const [k, v] of nameValues(instr, rest, env)) {
          const i = list.findIndex((e) => e === k || e.startsWith(`${k}=`));
          if (i >= 0) list[i] = `${k}=${v}`;
          else list.push(`${k}=${v}`);
        }
        c.Env = list;
        break;
      }
      case 'label': {
        const labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of nameValues(instr, rest, env)) labels[k] = v;
        c.Labels = labels;
        break;
      }
      case 'expose':
        if (!rest) throw invalid('EXPOSE requires at least one argument');
        exposePorts(splitWords(rest).map((w) => processWord(w, env)), c);
        break;
      case 'user':
        if (!rest) throw invalid('USER requires exactly one argument');
        c.User = processWord(rest, env);
        break;
      case 'volume': {
        const vols = jsonForm(rest) ?? splitWords(rest);
        if (!vols.length) throw invalid('VOLUME requires at least one argument');
        const v = { ...(c.Volumes ?? {}) };
        for (const w of vols) {
          const p = processWord(w, env).trim();
          if (!p) throw invalid('VOLUME specified can not be an empty string');
          v[p] = {};
        }
        c.Volumes = v;
        break;
      }
      case 'workdir': {
        const p = processWord(rest, env);
        if (!p) throw invalid('WORKDIR requires exactly one argument');
        c.WorkingDir = p.startsWith('/') ? p : path.posix.join('/', c.WorkingDir ?? '', p);
        break;
      }
      case 'cmd':
        c.Cmd = commandLine(rest, c);
        cmdSet = true;
        break;
      case 'entrypoint':
        c.Entrypoint = commandLine(rest, c);
        if (!cmdSet) c.Cmd = null;
        break;
      case 'onbuild': {
        const trigger = original.replace(/^\s*onbuild\s*/i, '');
        const word = (/^\S+/.exec(trigger)?.[0] ?? '').toUpperCase();
        if (!word) throw invalid('ONBUILD requires at least one argument');
        if (word === 'ONBUILD') throw invalid('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
        if (word === 'FROM' || word === 'MAINTAINER') throw invalid(`${word} isn't allowed as an ONBUILD trigger`);
        c.OnBuild = [...(c.OnBuild ?? []), trigger];
        break;
      }
      case 'stopsignal': {
        const s = processWord(rest, env);
        if (!validSignal(s)) throw invalid(`Invalid signal: ${s}`);
        c.StopSignal = s;
        break;
      }
      case 'healthcheck':
        c.Healthcheck = healthcheck(rest);
        break;
    }
  }
  return c;
}
