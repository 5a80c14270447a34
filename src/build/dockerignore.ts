// .dockerignore with Docker's rules (moby/patternmatcher and
// moby/buildkit's ignorefile): one pattern per line, `#` comment lines, `!`
// exceptions, a leading `/` ignored, paths cleaned; `*` and `?` never match
// `/`, `**` matches any number of directories, `[...]` classes and `\`
// escapes as in Go's filepath.Match. A path is excluded when the last pattern
// matching it or one of its parent directories is not an exception.
import * as path from 'node:path';

export interface Pattern {
  /** The cleaned pattern text (without `!`). */
  text: string;
  exclusion: boolean;
  re: RegExp;
}

/** Reads .dockerignore text into patterns (empty lines and comments dropped). */
export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let p = raw;
    if (p.trimStart().startsWith('#')) continue;
    p = p.trim();
    if (!p) continue;
    let invert = false;
    if (p.startsWith('!')) {
      invert = true;
      p = p.slice(1).trim();
    }
    if (p.length > 0) {
      p = path.posix.normalize(p);
      if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
      if (p.length > 1 && p.startsWith('/')) p = p.replace(/^\/+/, '') || '/';
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

const REGEX_SPECIAL = '.+()|{}$^';

/** Compiles one pattern (as patternmatcher's compile) into an anchored regexp; also used for COPY wildcards. */
export function globToRegExp(p: string): RegExp {
  let re = '^';
  const chars = [...p];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++; // treat `**/` as `**`
        if (i + 1 >= chars.length) re += '.*';
        else re += '(.*/)?';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (REGEX_SPECIAL.includes(ch)) re += `\\${ch}`;
    else if (ch === '\\') {
      if (i + 1 < chars.length) {
        const n = chars[++i] as string;
        re += /[A-Za-z0-9]/.test(n) ? n : `\\${n}`;
      } else re += '\\\\';
    } else if (ch === '[') {
      // A character class: Go's `[^...]` negation is written `[^` or `[!`.
      let j = i + 1;
      let cls = '[';
      if (chars[j] === '^' || chars[j] === '!') {
        cls += '^';
        j++;
      }
      let closed = false;
      for (; j < chars.length; j++) {
        const c = chars[j] as string;
        if (c === ']' && j > i + 1) {
          closed = true;
          break;
        }
        if (c === '\\' && j + 1 < chars.length) {
          cls += `\\${chars[++j] as string}`;
          continue;
        }
        cls += c === '[' || c === '\\' ? `\\${c}` : c;
      }
      if (!closed) throw new Error(`syntax error in pattern: ${p}`);
      re += `${cls}]`;
      i = j;
    } else if (ch === ']') re += '\\]';
    else re += ch;
  }
  return new RegExp(`${re}$`, 's');
}

export class PatternMatcher {
  readonly patterns: Pattern[];
  readonly hasExclusions: boolean;

  constructor(lines: readonly string[]) {
    this.patterns = [];
    for (const l of lines) {
      let text = l;
      let exclusion = false;
      if (text.startsWith('!')) {
        if (text.length === 1) throw new Error('illegal exclusion pattern: "!"');
        exclusion = true;
        text = text.slice(1);
      }
      this.patterns.push({ text, exclusion, re: globToRegExp(text) });
    }
    this.hasExclusions = this.patterns.some((p) => p.exclusion);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** MatchesOrParentMatches: true when file (slash-separated, relative to the context) is excluded. */
  matches(file: string): boolean {
    let matched = false;
    const parent = path.posix.dirname(file);
    const parentDirs = parent === '.' ? [] : parent.split('/');
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let m = p.re.test(file);
      if (!m && parentDirs.length) {
        for (let i = 1; i <= parentDirs.length; i++) {
          if (p.re.test(parentDirs.slice(0, i).join('/'))) {
            m = true;
            break;
          }
        }
      }
      if (m) matched = !p.exclusion;
    }
    return matched;
  }
}
