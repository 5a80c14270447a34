// Word processing for Dockerfile instructions: BuildKit's shell lexer
// (frontend/dockerfile/shell/lex.go). Quotes are removed, the escape character
// escapes the next character, and $var / ${var} / ${var:-word} / ${var-word} /
// ${var:+word} / ${var+word} / ${var:?msg} / ${var?msg} are expanded from the
// given environment. Used only by the instructions where Docker expands
// variables (ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME,
// WORKDIR, ARG, ONBUILD's own keyword aside).

export type Env = ReadonlyMap<string, string>;

export class ShellLexError extends Error {}

const SPECIAL = '@*#?-$!0';

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}
  peek(): string | undefined {
    return this.s[this.pos];
  }
  next(): string | undefined {
    return this.s[this.pos++];
  }
  eof(): boolean {
    return this.pos >= this.s.length;
  }
}

/** Accumulates words; text from expansions and unquoted literals splits on whitespace, quoted text does not. */
class Words {
  words: string[] = [];
  cur = '';
  inWord = false;

  addChar(ch: string): void {
    if (/\s/.test(ch) && this.inWord) {
      this.words.push(this.cur);
      this.cur = '';
      this.inWord = false;
    } else if (!/\s/.test(ch)) {
      this.cur += ch;
      this.inWord = true;
    }
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRaw(s: string): void {
    this.cur += s;
    this.inWord = true;
  }
  done(): string[] {
    if (this.inWord) {
      this.words.push(this.cur);
      this.cur = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class Lexer {
  private sc!: Scanner;
  constructor(private readonly env: Env, private readonly escape: string, private readonly matches?: Set<string>) {}

  private getEnv(name: string): string | undefined {
    const v = this.env.get(name);
    if (v !== undefined) this.matches?.add(name);
    return v;
  }

  run(word: string): { result: string; words: string[] } {
    this.sc = new Scanner(word);
    return this.process('');
  }

  /** Processes until one of stops (unescaped, unquoted) or EOF; the stop character is consumed. rawEscapes keeps escape characters (patterns). */
  private process(stops: string, rawEscapes = false): { result: string; words: string[]; stopped?: boolean } {
    let result = '';
    const words = new Words();
    const sc = this.sc;
    while (!sc.eof()) {
      const ch = sc.peek() as string;
      if (stops.includes(ch)) {
        sc.next();
        return { result, words: words.done(), stopped: true };
      }
      if (ch === "'") {
        const s = this.singleQuote();
        result += s;
        words.addRaw(s);
      } else if (ch === '"') {
        const s = this.doubleQuote();
        result += s;
        words.addRaw(s);
      } else if (ch === '$') {
        const s = this.dollar();
        result += s;
        words.addString(s);
      } else {
        sc.next();
        if (ch === this.escape) {
          if (rawEscapes) {
            result += ch;
            words.addRaw(ch);
          }
          if (sc.eof()) break; // an escape at the end of the word is dropped
          const n = sc.next() as string;
          result += n;
          words.addRaw(n);
        } else {
          result += ch;
          words.addChar(ch);
        }
      }
    }
    return { result, words: words.done(), stopped: false };
  }

  private singleQuote(): string {
    const sc = this.sc;
    sc.next();
    let out = '';
    for (;;) {
      if (sc.eof()) throw new ShellLexError('unexpected end of statement while looking for matching single-quote');
      const ch = sc.next() as string;
      if (ch === "'") return out;
      out += ch;
    }
  }

  private doubleQuote(): string {
    const sc = this.sc;
    sc.next();
    let out = '';
    for (;;) {
      if (sc.eof()) throw new ShellLexError('unexpected end of statement while looking for matching double-quote');
      const ch = sc.peek() as string;
      if (ch === '"') {
        sc.next();
        return out;
      }
      if (ch === '$') {
        out += this.dollar();
        continue;
      }
      sc.next();
      if (ch === this.escape) {
        const n = sc.peek();
        if (n === undefined) continue;
        if (n === '"' || n === '$' || n === this.escape) {
          out += sc.next();
          continue;
        }
      }
      out += ch;
    }
  }

  private name(): string {
    const sc = this.sc;
    let name = '';
    while (!sc.eof()) {
      const ch = sc.peek() as string;
      if (name === '' && /[0-9]/.test(ch)) {
        while (!sc.eof() && /[0-9]/.test(sc.peek() as string)) name += sc.next();
        return name;
      }
      if (name === '' && SPECIAL.includes(ch)) return sc.next() as string;
      if (!/[\p{L}\p{N}_]/u.test(ch)) break;
      name += sc.next();
    }
    return name;
  }

  /** The word after a modifier, up to the closing brace (nested expansions allowed). */
  private modifierWord(rawEscapes = false, stop = '}'): string {
    const r = this.process(stop, rawEscapes);
    if (!r.stopped) throw new ShellLexError(stop === '/' ? "syntax error: missing '/' in ${}" : "syntax error: missing '}'");
    return r.result;
  }

  private dollar(): string {
    const sc = this.sc;
    sc.next(); // $
    if (sc.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      return this.getEnv(name) ?? '';
    }
    sc.next(); // {
    const first = sc.peek();
    if (first === undefined) throw new ShellLexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ShellLexError('syntax error: bad substitution');
    const name = this.name();
    const ch = sc.next();
    if (ch === undefined) throw new ShellLexError("syntax error: missing '}'");
    if (ch === '/') {
      // ${var/pattern/replacement} (first match) and ${var//pattern/replacement} (all).
      const all = sc.peek() === '/';
      if (all) sc.next();
      const pattern = this.modifierWord(true, '/');
      const replacement = this.modifierWord(true);
      const value = this.getEnv(name) ?? '';
      const re = shellPattern(pattern, true, false, all);
      return value.replace(re, () => replacement);
    }
    const value = this.getEnv(name);
    const set = value !== undefined;
    switch (ch) {
      case '}':
        return value ?? '';
      case '#':
      case '%': {
        // ${var#pattern} ${var##pattern} trim a prefix, ${var%pattern} ${var%%pattern} a suffix (doubled = longest).
        let word = this.modifierWord(true);
        const greedy = word.startsWith(ch);
        if (greedy) word = word.slice(1);
        const v = value ?? '';
        if (ch === '#') return trimPrefix(word, v, greedy);
        return [...trimPrefix(reversePattern(word), [...v].reverse().join(''), greedy)].reverse().join('');
      }
      case '?': {
        const word = this.modifierWord();
        if (set) return value;
        throw new ShellLexError(`${name}: ${word || 'is not allowed to be unset'}`);
      }
      case '-': {
        const word = this.modifierWord();
        return set ? value : word;
      }
      case '+': {
        const word = this.modifierWord();
        return set ? word : '';
      }
      case ':': {
        const mod = sc.next();
        if (mod === undefined) throw new ShellLexError("syntax error: missing '}'");
        if (mod === '#' || mod === '%') throw new ShellLexError(`unsupported modifier (:${mod}) in substitution`);
        const word = this.modifierWord();
        switch (mod) {
          case '-':
            return value ? value : word;
          case '+':
            return value ? word : '';
          case '?':
            if (!set) throw new ShellLexError(`${name}: ${word || 'is not allowed to be unset'}`);
            if (!value) throw new ShellLexError(`${name}: ${word || 'is not allowed to be empty'}`);
            return value;
          default:
            throw new ShellLexError(`unsupported modifier (${mod}) in substitution`);
        }
      }
      default:
        throw new ShellLexError(`unsupported modifier (${ch}) in substitution`);
    }
  }
}

/**
 * A shell pattern (`*` any string, `?` one character, `\\*` `\\?` `\\\\` literal)
 * as a regular expression; brackets are literal, as in BuildKit.
 */
function shellPattern(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  let out = anchored ? '^' : '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '*') out += greedy ? '[\\s\\S]*' : '[\\s\\S]*?';
    else if (c === '?') out += '[\\s\\S]';
    else if (c === '\\') {
      const n = chars[i + 1];
      // `}` and `/` are escaped only to end the pattern early; the escape is not part of it.
      if (n === '}' || n === '/') continue;
      i++;
      if (n !== '*' && n !== '?' && n !== '\\') throw new ShellLexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ''}'`);
      out += `\\${n}`;
    } else out += c.replace(/[.+^${}()|[\]\/]/g, '\\$&');
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPattern(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** Reverses a pattern keeping escapes before what they escape (`a\\*c` → `c\\*a`). */
function reversePattern(p: string): string {
  const units: string[] = [];
  const chars = [...p];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '\\' && i + 1 < chars.length) {
      units.push(`\\${chars[i + 1] as string}`);
      i++;
    } else units.push(chars[i] as string);
  }
  return units.reverse().join('');
}

/** One word: quotes removed, escapes and variables processed; never split. */
export function processWord(word: string, env: Env, escape = '\\'): string {
  return new Lexer(env, escape).run(word).result;
}

/** Like processWord, also reporting which variables were referenced (and set). */
export function processWordWithMatches(word: string, env: Env, escape = '\\'): { result: string; matched: Set<string> } {
  const matched = new Set<string>();
  const result = new Lexer(env, escape, matched).run(word).result;
  return { result, matched };
}

/** Several words: split on unquoted whitespace (including whitespace coming from expansions). */
export function processWords(text: string, env: Env, escape = '\\'): string[] {
  return new Lexer(env, escape).run(text).words;
}

/** An environment from `K=V` strings (a later entry wins). */
export function envFromList(list: readonly string[] | null | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of list ?? []) {
    const i = e.indexOf('=');
    if (i < 0) m.set(e, '');
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

/**
 * Expands variables in here-document text (COPY/ADD with an unquoted
 * delimiter): quotes are ordinary characters, `\$` is a literal `$` and other
 * escapes are kept as written.
 */
export function expandHeredoc(text: string, env: Env, escape = '\\'): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === escape && text[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    if (c !== '$') {
      out += c;
      continue;
    }
    // Find the extent of the expansion and let the word lexer evaluate it.
    let j = i + 1;
    if (text[j] === '{') {
      let depth = 0;
      for (; j < text.length; j++) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}' && --depth === 0) break;
      }
      if (j >= text.length) throw new ShellLexError("syntax error: missing '}'");
      j++;
    } else {
      const m = /^(?:[0-9]+|[@*#?\-$!0]|[\p{L}\p{N}_]+)/u.exec(text.slice(j));
      j += m ? m[0].length : 0;
    }
    out += j === i + 1 ? '$' : processWord(text.slice(i, j), env, escape);
    i = j - 1;
  }
  return out;
}
