// A pflag/cobra-compatible command-line parser: --long, --long=value,
// --long value, -s, -svalue, -s value, -s=value, grouped booleans (-it),
// `--` terminator, repeatable list flags, optional non-interspersed mode (stop
// at the first positional argument, like `docker run IMAGE CMD...`).

export type FlagType = 'bool' | 'string' | 'int' | 'list' | 'float';

export interface FlagDef {
  name: string;
  short?: string;
  type: FlagType;
  default?: string | number | boolean;
  help?: string;
  /** Type name shown in help ("string", "list", "filter", "bytes", ...). */
  valueName?: string;
  hidden?: boolean;
  /** Prints "Flag --x has been deprecated, <msg>" when used. */
  deprecated?: string;
}

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

export class Flags {
  private readonly values = new Map<string, unknown>();
  readonly changed = new Set<string>();
  readonly warnings: string[] = [];
  help = false;

  constructor(private readonly defs: Map<string, FlagDef>) {
    for (const d of defs.values()) {
      if (d.type === 'list') this.values.set(d.name, []);
      else if (d.default !== undefined) this.values.set(d.name, d.default);
      else this.values.set(d.name, d.type === 'bool' ? false : d.type === 'int' || d.type === 'float' ? 0 : '');
    }
  }

  bool(name: string): boolean {
    return this.values.get(name) === true;
  }

  string(name: string): string {
    const v = this.values.get(name);
    return typeof v === 'string' ? v : v === undefined ? '' : String(v);
  }

  int(name: string): number {
    const v = this.values.get(name);
    return typeof v === 'number' ? v : 0;
  }

  list(name: string): string[] {
    const v = this.values.get(name);
    return Array.isArray(v) ? (v as string[]) : [];
  }

  isSet(name: string): boolean {
    return this.changed.has(name);
  }

  set(def: FlagDef, raw: string): void {
    const label = def.short ? `-${def.short}, --${def.name}` : `--${def.name}`;
    switch (def.type) {
      case 'bool': {
        const b = parseGoBool(raw);
        if (b === undefined) throw new FlagError(`invalid argument "${raw}" for "${label}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`);
        this.values.set(def.name, b);
        break;
      }
      case 'int': {
        const t = raw.trim();
        if (!/^[+-]?(0[xX][0-9a-fA-F]+|0[oObB]?[0-7]*|[1-9][0-9]*|0)$/.test(t)) {
          throw new FlagError(`invalid argument "${raw}" for "${label}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`);
        }
        this.values.set(def.name, parseInt(t.replace(/^([+-]?)0[oO]/, '$10'), /^[+-]?0[xX]/.test(t) ? 16 : /^[+-]?0[0-7]/.test(t) ? 8 : 10));
        break;
      }
      case 'float': {
        const n = Number(raw);
        if (raw.trim() === '' || Number.isNaN(n)) throw new FlagError(`invalid argument "${raw}" for "${label}" flag: strconv.ParseFloat: parsing "${raw}": invalid syntax`);
        this.values.set(def.name, n);
        break;
      }
      case 'list':
        (this.values.get(def.name) as string[]).push(raw);
        break;
      default:
        this.values.set(def.name, raw);
    }
    this.changed.add(def.name);
    if (def.deprecated) this.warnings.push(`Flag --${def.name} has been deprecated, ${def.deprecated}`);
  }
}

export function parseGoBool(s: string): boolean | undefined {
  switch (s) {
    case '1': case 't': case 'T': case 'true': case 'TRUE': case 'True': return true;
    case '0': case 'f': case 'F': case 'false': case 'FALSE': case 'False': return false;
    default: return undefined;
  }
}

export interface ParseResult {
  flags: Flags;
  args: string[];
}

export function defsMap(defs: FlagDef[]): Map<string, FlagDef> {
  const m = new Map<string, FlagDef>();
  for (const d of defs) m.set(d.name, d);
  return m;
}

/**
 * Parses argv against flag definitions. `--help` (and `-h` unless a flag owns
 * it) sets flags.help. With interspersed=false, parsing stops at the first
 * positional argument.
 */
export function parseArgs(argv: string[], defs: FlagDef[], opts: { interspersed?: boolean } = {}): ParseResult {
  const byName = defsMap(defs);
  const byShort = new Map<string, FlagDef>();
  for (const d of defs) if (d.short) byShort.set(d.short, d);
  const flags = new Flags(byName);
  const args: string[] = [];
  const interspersed = opts.interspersed ?? true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const body = a.slice(2);
      const eq = body.indexOf('=');
      const name = eq >= 0 ? body.slice(0, eq) : body;
      const def = byName.get(name);
      if (!def) {
        if (name === 'help') {
          flags.help = true;
          continue;
        }
        throw new FlagError(`unknown flag: --${name}`);
      }
      if (eq >= 0) flags.set(def, body.slice(eq + 1));
      else if (def.type === 'bool') flags.set(def, 'true');
      else {
        if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: --${name}`);
        flags.set(def, argv[++i]!);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      let j = 1;
      while (j < a.length) {
        const c = a[j]!;
        const def = byShort.get(c);
        if (!def) {
          if (c === 'h') {
            flags.help = true;
            j++;
            continue;
          }
          throw new FlagError(`unknown shorthand flag: '${c}' in ${a}`);
        }
        if (a[j + 1] === '=') {
          flags.set(def, a.slice(j + 2));
          break;
        }
        if (def.type === 'bool') {
          flags.set(def, 'true');
          j++;
          continue;
        }
        if (j + 1 < a.length) {
          flags.set(def, a.slice(j + 1));
          break;
        }
        if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
        flags.set(def, argv[++i]!);
        break;
      }
      continue;
    }
    args.push(a);
    if (!interspersed) {
      args.push(...argv.slice(i + 1));
      break;
    }
  }
  return { flags, args };
}

/** cobra-style flag usage lines. */
export function flagUsages(defs: FlagDef[]): string {
  const rows: [string, string][] = [];
  for (const d of defs) {
    if (d.hidden) continue;
    let left = d.short ? `  -${d.short}, --${d.name}` : `      --${d.name}`;
    const vn = d.valueName ?? (d.type === 'bool' ? '' : d.type);
    if (vn) left += ` ${vn}`;
    let help = d.help ?? '';
    if (d.default !== undefined && d.default !== '' && d.default !== false && !(d.type === 'int' && d.default === 0)) {
      help += d.type === 'string' ? ` (default "${d.default}")` : ` (default ${d.default})`;
    }
    rows.push([left, help]);
  }
  const w = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `${l.padEnd(w)}   ${h.replace(/\n/g, '\n' + ' '.repeat(w + 3))}`).join('\n');
}
