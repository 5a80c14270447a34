// Dockerfile → AST, after BuildKit's frontend/dockerfile/parser: parser
// directives at the top (`# syntax=`, `# escape=`, `# check=`), comments,
// line continuations with the escape character (comment and empty lines inside
// a continuation are skipped), here-documents for RUN/COPY/ADD, and builder
// flags (`--from=x`) split off the arguments. Instruction-specific argument
// parsing happens in instructions.ts; this layer only knows lines.

export interface Heredoc {
  /** The delimiter word (also the file name for COPY/ADD). */
  name: string;
  /** The body, every line with its newline (leading tabs removed with `<<-`). */
  content: string;
  /** Unquoted delimiter: variables in the body are expanded (COPY/ADD). */
  expand: boolean;
  chomp: boolean;
  fd: number;
}

export interface Node {
  /** The instruction keyword as written (`COPY`, `copy`). */
  keyword: string;
  /** Lower-cased keyword. */
  cmd: string;
  /** The logical line: continuation lines joined, escape + newline removed. */
  original: string;
  /** Builder flags as words: `--from=builder`, `--chown=1:1`. */
  flags: string[];
  /** Everything after the keyword and flags, trimmed. */
  args: string;
  heredocs: Heredoc[];
  /** 1-based lines. */
  startLine: number;
  endLine: number;
}

export interface ParseResult {
  nodes: Node[];
  escape: string;
  /** Parser directives found at the top (lower-cased names). */
  directives: Record<string, string>;
  warnings: string[];
}

/**
 * Where an error was found, which decides its wording (Docker's legacy builder):
 * `instruction` — an instruction's arguments or flags (`dockerfile parse error on line 7: ...`);
 * `file` — the file's structure: directives, heredocs (`failed to parse Dockerfile: ...`);
 * `plain` — the detail as is.
 */
export type DockerfileErrorKind = 'instruction' | 'file' | 'plain';

/**
 * An error tied to a Dockerfile line. The first line of the message is what
 * Docker's legacy builder says; a second, compiler-style `Dockerfile:7: ...`
 * line names the file and line (as BuildKit's output does) so that the
 * place is plain even when the file is not called Dockerfile.
 */
export class DockerfileError extends Error {
  constructor(readonly file: string, readonly line: number, readonly detail: string, readonly kind: DockerfileErrorKind = 'instruction') {
    const head = kind === 'instruction' && line > 0 ? `dockerfile parse error on line ${line}: ${detail}`
      : kind === 'file' ? `failed to parse ${file}: ${detail}` : detail;
    super(line > 0 ? `${head}\n${file}:${line}: ${detail}` : head);
    this.name = 'DockerfileError';
  }
}

const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add']);

class Directives {
  escape = '\\';
  done = false;
  seen: Record<string, string> = {};

  /** Called for every physical line until the first non-directive. */
  possible(line: string, file: string, lineNo: number): void {
    if (this.done) return;
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(line);
    if (!m) {
      this.done = true;
      return;
    }
    const key = (m[1] ?? '').toLowerCase();
    const value = m[2] ?? '';
    if (!KNOWN_DIRECTIVES.has(key)) {
      this.done = true;
      return;
    }
    if (key in this.seen) throw new DockerfileError(file, lineNo, `only one ${key} parser directive can be used`, 'file');
    this.seen[key] = value;
    if (key === 'escape') {
      if (value !== '`' && value !== '\\') throw new DockerfileError(file, lineNo, `invalid escape token '${value}' does not match ${'`'} or \\`, 'file');
      this.escape = value;
    }
  }
}

function isComment(line: string): boolean {
  return /^[ \t]*#/.test(line);
}

function trimLeft(s: string): string {
  return s.replace(/^[ \t\r\f\v]+/, '');
}

/** Removes a trailing escape (+ spaces); returns the rest and whether the logical line ends here. */
function trimContinuation(line: string, escape: string): { text: string; end: boolean } {
  const re = escape === '`' ? /`[ \t]*$/ : /\\[ \t]*$/;
  const m = re.exec(line);
  if (m) return { text: line.slice(0, m.index), end: false };
  return { text: line, end: true };
}

/** Splits builder flags (`--x=y` words) off the arguments, as BuildKit's extractBuilderFlags. */
export function extractBuilderFlags(line: string): { args: string; flags: string[] } {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const ch = pos < line.length ? (line[pos] as string) : '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (/\s/.test(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { args: line.slice(pos), flags: words };
      phase = 'word';
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (/\s/.test(ch)) {
        phase = 'spaces';
        if (word === '--') return { args: line.slice(pos), flags: words };
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      let c = ch;
      if (c === '\\') {
        if (pos + 1 === line.length) continue;
        pos++;
        c = line[pos] as string;
      }
      word += c;
      continue;
    }
    // in quote
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    let c = ch;
    if (c === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      c = line[pos] as string;
    }
    word += c;
  }
  return { args: '', flags: words };
}

/** Splits a line into words on unquoted whitespace, keeping quotes (for heredoc detection). */
function rawWords(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (q) {
      cur += c;
      if (c === '\\' && q === '"' && i + 1 < line.length) cur += line[++i];
      else if (c === q) q = '';
      continue;
    }
    if (c === '\\' && i + 1 < line.length) {
      cur += c + line[++i];
      inWord = true;
    } else if (c === '"' || c === "'") {
      q = c;
      cur += c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

const HEREDOC_RE = /^(\d*)<<(-?)([^<].*)$/s;

/** A heredoc marker word (`<<EOF`, `<<-"EOF"`, `2<<'x'`), or undefined. */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const m = HEREDOC_RE.exec(word);
  if (!m) return undefined;
  const rest = m[3] ?? '';
  let name = '';
  let quoted = false;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i] as string;
    if (c === '"' || c === "'") {
      quoted = true;
      const end = rest.indexOf(c, i + 1);
      if (end < 0) return undefined;
      name += rest.slice(i + 1, end);
      i = end;
    } else if (c === '\\' && i + 1 < rest.length) {
      quoted = true;
      name += rest[++i];
    } else name += c;
  }
  if (!name) return undefined;
  return { name, expand: !quoted, chomp: m[2] === '-', fd: m[1] ? Number(m[1]) : 0 };
}

/** Removes leading tabs from every line (`<<-`). */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}

function isJsonForm(args: string): boolean {
  const t = args.trimStart();
  if (!t.startsWith('[')) return false;
  try {
    const v: unknown = JSON.parse(t);
    return Array.isArray(v);
  } catch {
    return false;
  }
}

/**
 * Parses a Dockerfile. Throws DockerfileError (with the line) for malformed
 * directives, flags and unterminated heredocs; unknown instructions are
 * reported by instructions.ts, which knows the instruction set.
 */
export function parseDockerfile(text: string, file = 'Dockerfile'): ParseResult {
  let src = text;
  if (src.charCodeAt(0) === 0xfeff) src = src.slice(1);
  // Lines keep their newline (heredoc bodies need it); \r\n is treated as \n.
  const lines = src.split(/(?<=\n)/);
  const d = new Directives();
  const nodes: Node[] = [];
  const warnings: string[] = [];
  let i = 0;
  const stripNl = (s: string): string => s.replace(/\r?\n$/, '');
  while (i < lines.length) {
    const raw = stripNl(lines[i] as string);
    d.possible(trimLeft(raw), file, i + 1);
    i++;
    const startLine = i;
    const first = isComment(raw) ? '' : trimLeft(raw);
    let { text: buf, end } = trimContinuation(first, d.escape);
    if (end && buf.trim() === '') continue;
    let emptyContinuation = false;
    while (!end && i < lines.length) {
      const l = stripNl(lines[i] as string);
      d.possible(trimLeft(l), file, i + 1);
      i++;
      if (isComment(l)) continue;
      if (trimLeft(l) === '') {
        emptyContinuation = true;
        continue;
      }
      const t = trimContinuation(l, d.escape);
      buf += t.text;
      end = t.end;
    }
    const endLine = i;
    const line = buf;
    if (emptyContinuation) warnings.push(`Empty continuation line found in: ${line.trim()}`);
    const trimmed = line.trim();
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(trimmed);
    if (!m) continue;
    const keyword = m[1] as string;
    const cmd = keyword.toLowerCase();
    let flags: string[] = [];
    let args = '';
    if (m[2] !== undefined) {
      const r = extractBuilderFlags(m[2]);
      flags = r.flags;
      args = r.args.trim();
    }
    const node: Node = { keyword, cmd, original: trimmed, flags, args, heredocs: [], startLine, endLine };
    if (HEREDOC_INSTRUCTIONS.has(cmd) && line.includes('<<') && !isJsonForm(args)) {
      for (const w of rawWords(args)) {
        const h = parseHeredocWord(w);
        if (!h) continue;
        let content = '';
        let terminated = false;
        while (i < lines.length) {
          const l = lines[i] as string;
          i++;
          let candidate = stripNl(l);
          if (h.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === h.name) {
            terminated = true;
            break;
          }
          content += l.endsWith('\n') ? l.replace(/\r\n$/, '\n') : l;
        }
        if (!terminated) throw new DockerfileError(file, startLine, 'unterminated heredoc', 'file');
        node.heredocs.push({ ...h, content: h.chomp ? chompHeredoc(content) : content });
      }
      node.endLine = i;
    }
    nodes.push(node);
  }
  return { nodes, escape: d.escape, directives: d.seen, warnings };
}
