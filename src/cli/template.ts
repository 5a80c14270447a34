// A Go text/template engine, sized for the docker CLI's --format flags.
//
// Supported: text and actions with trim markers ({{- -}}), comments, pipelines
// (|), parenthesised pipelines, fields and chains (.A.B, $x.A, (pipe).A),
// variables ($, $x :=, $x =), literals (strings, raw strings, chars, numbers,
// true/false/nil), if/else if/else, with/else with, range (arrays, maps in
// sorted key order, integers) with break/continue and `$k, $v :=`,
// define/template/block, and the builtin functions (and or not len index slice
// eq ne lt le gt ge print printf println html js urlquery) plus the docker CLI's
// (json split join title lower upper pad truncate).
//
// Data model: JSON values. Plain objects behave like Go maps (a missing key
// yields "<no value>"); objects tagged with STRUCT behave like Go structs (a
// missing field is an error; function-valued fields are methods and may take
// arguments). Objects may also carry METHODS (e.g. the table header map with
// its Label method).

export const STRUCT = Symbol.for('berth.template.struct');
export const METHODS = Symbol.for('berth.template.methods');

/** A Go struct-like value: `[STRUCT]` holds the Go type name used in errors. */
export interface StructValue {
  [STRUCT]: string;
  [k: string]: unknown;
}

/** The invalid reflect.Value Go yields for a missing map key; prints "<no value>". */
export class Missing {
  constructor(readonly key: string) {}
}

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export type TemplateFunc = (...args: unknown[]) => unknown;

// ---------------------------------------------------------------------------
// Lexer

type TokType =
  | 'text' | 'left' | 'right' | 'field' | 'dot' | 'var' | 'ident' | 'string' | 'char' | 'number'
  | 'bool' | 'nil' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'eof';

interface Token {
  type: TokType;
  val: string;
  pos: number;
  /** Whitespace precedes this token inside an action. */
  space: boolean;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

function isAlnum(c: string | undefined): boolean {
  if (c === undefined) return false;
  const x = c.charCodeAt(0);
  if (x < 128) return (x >= 48 && x <= 57) || (x >= 65 && x <= 90) || (x >= 97 && x <= 122) || x === 95;
  return /[\p{L}\p{Nd}_]/u.test(c);
}

class Lexer {
  tokens: Token[] = [];
  private pos = 0;
  constructor(private readonly src: string, private readonly name: string) {}

  private err(msg: string, pos: number): never {
    throw new TemplateError(`template: ${this.name}:${lineOf(this.src, pos)}: ${msg}`);
  }

  run(): Token[] {
    const s = this.src;
    let trimNext = false;
    while (this.pos <= s.length) {
      const start = this.pos;
      const i = s.indexOf('{{', start);
      let text = i < 0 ? s.slice(start) : s.slice(start, i);
      if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
      trimNext = false;
      if (i < 0) {
        if (text) this.tokens.push({ type: 'text', val: text, pos: start, space: false });
        break;
      }
      let p = i + 2;
      const trimLeft = s[p] === '-' && isSpace(s[p + 1]);
      if (trimLeft) {
        text = text.replace(/[ \t\r\n]+$/, '');
        p += 1;
        while (isSpace(s[p])) p++;
      }
      if (text) this.tokens.push({ type: 'text', val: text, pos: start, space: false });
      // comment
      if (s.startsWith('/*', p)) {
        const end = s.indexOf('*/', p + 2);
        if (end < 0) this.err('unclosed comment', i);
        let q = end + 2;
        let trimR = false;
        if (isSpace(s[q])) {
          let r = q;
          while (isSpace(s[r])) r++;
          if (s[r] === '-' && s.startsWith('}}', r + 1)) {
            trimR = true;
            q = r + 1;
          }
        }
        if (!s.startsWith('}}', q)) this.err('comment ends before closing delimiter', i);
        this.pos = q + 2;
        trimNext = trimR;
        continue;
      }
      this.tokens.push({ type: 'left', val: '{{', pos: i, space: false });
      this.pos = p;
      trimNext = this.lexAction(i);
    }
    this.tokens.push({ type: 'eof', val: '', pos: s.length, space: false });
    return this.tokens;
  }

  /** Lexes inside {{ }}; returns whether the action ended with a right trim marker. */
  private lexAction(actionStart: number): boolean {
    const s = this.src;
    let depth = 0;
    let space = false;
    for (;;) {
      const c = s[this.pos];
      if (c === undefined) this.err('unclosed action', actionStart);
      if (isSpace(c)) {
        let r = this.pos;
        while (isSpace(s[r])) r++;
        if (s[r] === '-' && s.startsWith('}}', r + 1)) {
          if (depth > 0) this.err('unclosed left paren', actionStart);
          this.tokens.push({ type: 'right', val: '}}', pos: r, space: true });
          this.pos = r + 3;
          return true;
        }
        this.pos = r;
        space = true;
        continue;
      }
      if (s.startsWith('}}', this.pos)) {
        if (depth > 0) this.err('unclosed left paren', actionStart);
        this.tokens.push({ type: 'right', val: '}}', pos: this.pos, space });
        this.pos += 2;
        return false;
      }
      const start = this.pos;
      const push = (type: TokType, val: string): void => {
        this.tokens.push({ type, val, pos: start, space });
        space = false;
      };
      if (c === '|') {
        this.pos++;
        push('pipe', '|');
      } else if (c === '(') {
        this.pos++;
        depth++;
        push('lparen', '(');
      } else if (c === ')') {
        this.pos++;
        depth--;
        if (depth < 0) this.err(`unexpected right paren`, start);
        push('rparen', ')');
      } else if (c === ':') {
        if (s[this.pos + 1] !== '=') this.err('expected :=', start);
        this.pos += 2;
        push('declare', ':=');
      } else if (c === '=') {
        this.pos++;
        push('assign', '=');
      } else if (c === ',') {
        this.pos++;
        push('comma', ',');
      } else if (c === '"') {
        let q = this.pos + 1;
        while (q < s.length && s[q] !== '"') {
          if (s[q] === '\\') q++;
          if (s[q] === '\n') this.err('unterminated quoted string', start);
          q++;
        }
        if (q >= s.length) this.err('unterminated quoted string', start);
        this.pos = q + 1;
        push('string', unquote(s.slice(start + 1, q), (m) => this.err(m, start)));
      } else if (c === '`') {
        const q = s.indexOf('`', this.pos + 1);
        if (q < 0) this.err('unterminated raw quoted string', start);
        this.pos = q + 1;
        push('string', s.slice(start + 1, q));
      } else if (c === "'") {
        let q = this.pos + 1;
        while (q < s.length && s[q] !== "'") {
          if (s[q] === '\\') q++;
          q++;
        }
        if (q >= s.length) this.err('unterminated character constant', start);
        this.pos = q + 1;
        const v = unquote(s.slice(start + 1, q), (m) => this.err(m, start));
        const cp = v.codePointAt(0);
        if (cp === undefined || [...v].length !== 1) this.err(`malformed character constant: ${s.slice(start, q + 1)}`, start);
        push('char', String(cp));
      } else if (c === '$') {
        let q = this.pos + 1;
        while (isAlnum(s[q])) q++;
        this.pos = q;
        push('var', s.slice(start, q));
        this.checkTerminator();
      } else if (c === '.') {
        const n = s[this.pos + 1];
        if (n !== undefined && /[0-9]/.test(n)) {
          this.lexNumber(push);
        } else if (isAlnum(n)) {
          let q = this.pos + 1;
          while (isAlnum(s[q])) q++;
          this.pos = q;
          push('field', s.slice(start + 1, q));
          this.checkTerminator();
        } else {
          this.pos++;
          push('dot', '.');
        }
      } else if (/[0-9+\-]/.test(c)) {
        this.lexNumber(push);
      } else if (isAlnum(c)) {
        let q = this.pos;
        while (isAlnum(s[q])) q++;
        this.pos = q;
        const w = s.slice(start, q);
        if (w === 'true' || w === 'false') push('bool', w);
        else if (w === 'nil') push('nil', w);
        else push('ident', w);
        this.checkTerminator();
      } else {
        this.err(`unrecognized character in action: ${JSON.stringify(c)}`, start);
      }
    }
  }

  /** Go's atTerminator: what may follow a field, variable or identifier. */
  private checkTerminator(): void {
    const c = this.src[this.pos];
    if (c === undefined || isSpace(c) || '.,|:()='.includes(c) || this.src.startsWith('}}', this.pos)) return;
    const cp = c.codePointAt(0)!;
    this.err(`bad character U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`, this.pos);
  }

  private lexNumber(push: (t: TokType, v: string) => void): void {
    const s = this.src;
    const m = /^[+-]?(0[xX][0-9a-fA-F_]+(\.[0-9a-fA-F_]*)?([pP][+-]?\d+)?|0[oO][0-7_]+|0[bB][01_]+|(\d[\d_]*)?\.?[\d_]*([eE][+-]?\d+)?)i?/.exec(s.slice(this.pos));
    const text = m?.[0] ?? '';
    if (!text || text === '+' || text === '-' || isAlnum(s[this.pos + text.length])) {
      this.err(`bad number syntax: "${s.slice(this.pos, this.pos + Math.max(text.length, 1) + (isAlnum(s[this.pos + text.length]) ? 1 : 0))}"`, this.pos);
    }
    this.pos += text.length;
    push('number', text);
  }
}

function lineOf(src: string, pos: number): number {
  let n = 1;
  for (let i = 0; i < pos && i < src.length; i++) if (src[i] === '\n') n++;
  return n;
}

function colOf(src: string, pos: number): number {
  const nl = src.lastIndexOf('\n', pos - 1);
  return nl < 0 ? pos : pos - nl - 1;
}

function unquote(body: string, fail: (m: string) => never): string {
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    switch (e) {
      case 'a': out += '\x07'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case "'": out += "'"; break;
      case 'x': {
        const h = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) fail('invalid syntax');
        out += String.fromCharCode(parseInt(h, 16));
        i += 2;
        break;
      }
      case 'u':
      case 'U': {
        const n = e === 'u' ? 4 : 8;
        const h = body.slice(i + 1, i + 1 + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) fail('invalid syntax');
        out += String.fromCodePoint(parseInt(h, 16));
        i += n;
        break;
      }
      default: {
        if (e !== undefined && /[0-7]/.test(e)) {
          const o = body.slice(i, i + 3);
          if (!/^[0-7]{3}$/.test(o)) fail('invalid syntax');
          out += String.fromCharCode(parseInt(o, 8));
          i += 2;
          break;
        }
        fail('invalid syntax');
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// AST

type Arg =
  | { t: 'field'; names: string[]; pos: number }
  | { t: 'dot'; pos: number }
  | { t: 'var'; name: string; names: string[]; pos: number }
  | { t: 'ident'; name: string; pos: number }
  | { t: 'chain'; node: Arg; names: string[]; pos: number }
  | { t: 'pipe'; pipe: Pipe; pos: number }
  | { t: 'string'; v: string; pos: number; quoted: string }
  | { t: 'number'; v: number; text: string; isInt: boolean; pos: number }
  | { t: 'bool'; v: boolean; pos: number }
  | { t: 'nil'; pos: number };

interface Cmd {
  args: Arg[];
  pos: number;
}

interface Pipe {
  decl: string[];
  isAssign: boolean;
  cmds: Cmd[];
  pos: number;
}

interface ControlNode {
  t: 'if' | 'with' | 'range';
  pipe: Pipe;
  list: Node[];
  else: Node[] | null;
  pos: number;
}

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipe; pos: number }
  | ControlNode
  | { t: 'break'; pos: number }
  | { t: 'continue'; pos: number }
  | { t: 'template'; name: string; pipe: Pipe | null; pos: number };

function argString(a: Arg): string {
  switch (a.t) {
    case 'field': return a.names.map((n) => '.' + n).join('');
    case 'dot': return '.';
    case 'var': return a.name + a.names.map((n) => '.' + n).join('');
    case 'ident': return a.name;
    case 'chain': return (a.node.t === 'pipe' ? `(${pipeString(a.node.pipe)})` : argString(a.node)) + a.names.map((n) => '.' + n).join('');
    case 'pipe': return `(${pipeString(a.pipe)})`;
    case 'string': return a.quoted;
    case 'number': return a.text;
    case 'bool': return String(a.v);
    case 'nil': return 'nil';
  }
}

function cmdString(c: Cmd): string {
  return c.args.map(argString).join(' ');
}

function pipeString(p: Pipe): string {
  const d = p.decl.length ? `${p.decl.join(', ')} ${p.isAssign ? '=' : ':='} ` : '';
  return d + p.cmds.map(cmdString).join(' | ');
}

// ---------------------------------------------------------------------------
// Parser

const BUILTIN_NAMES = [
  'and', 'or', 'not', 'len', 'index', 'slice', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'print', 'printf', 'println',
  'html', 'js', 'urlquery', 'call',
];
const DOCKER_NAMES = ['json', 'split', 'join', 'title', 'lower', 'upper', 'pad', 'truncate'];

interface ListEnd {
  kind: 'end' | 'else' | 'eof';
  /** For `else if` / `else with`: the keyword and position where the chained control starts. */
  chain?: 'if' | 'with';
  pos: number;
}

class Parser {
  private i = 0;
  private vars: string[][] = [['$']];
  readonly defines = new Map<string, Node[]>();
  constructor(
    private readonly toks: Token[],
    private readonly src: string,
    private readonly name: string,
    private readonly funcs: Set<string>,
  ) {}

  private err(msg: string, pos: number): never {
    throw new TemplateError(`template: ${this.name}:${lineOf(this.src, pos)}: ${msg}`);
  }

  private peek(): Token {
    return this.toks[this.i]!;
  }

  private next(): Token {
    return this.toks[this.i++]!;
  }

  private expect(type: TokType, ctx: string): Token {
    const t = this.next();
    if (t.type !== type) this.unexpected(t, ctx);
    return t;
  }

  private unexpected(t: Token, ctx: string): never {
    if (t.type === 'eof') this.err('unexpected EOF', t.pos);
    const desc = t.type === 'right' ? '"}}"' : t.type === 'string' ? `"${t.val}"` : `<${t.val}>`;
    this.err(`unexpected ${desc} in ${ctx}`, t.pos);
  }

  parseTop(): Node[] {
    const { list, end } = this.parseList();
    if (end.kind === 'end') this.err('unexpected {{end}}', end.pos);
    if (end.kind === 'else') this.err('unexpected {{else}}', end.pos);
    return list;
  }

  /** Parses nodes until {{end}}, {{else ...}} or EOF. */
  private parseList(): { list: Node[]; end: ListEnd } {
    const list: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.type === 'eof') return { list, end: { kind: 'eof', pos: t.pos } };
      if (t.type === 'text') {
        list.push({ t: 'text', text: t.val });
        continue;
      }
      // t is 'left'
      const first = this.peek();
      if (first.type === 'ident' && KEYWORDS.has(first.val)) {
        this.next();
        switch (first.val) {
          case 'end':
            this.expect('right', 'end');
            return { list, end: { kind: 'end', pos: first.pos } };
          case 'else': {
            const n = this.peek();
            if (n.type === 'ident' && (n.val === 'if' || n.val === 'with')) {
              this.next();
              return { list, end: { kind: 'else', chain: n.val, pos: n.pos } };
            }
            this.expect('right', 'else');
            return { list, end: { kind: 'else', pos: first.pos } };
          }
          case 'if':
          case 'with':
          case 'range':
            list.push(this.parseControl(first.val, first.pos));
            continue;
          case 'break':
          case 'continue':
            this.expect('right', first.val);
            list.push({ t: first.val, pos: first.pos });
            continue;
          case 'define': {
            const nameTok = this.expect('string', 'define clause');
            this.expect('right', 'define clause');
            const { list: body, end } = this.parseList();
            if (end.kind !== 'end') this.err('unexpected EOF', end.pos);
            this.defines.set(nameTok.val, body);
            continue;
          }
          case 'template':
          case 'block': {
            const nameTok = this.expect('string', `${first.val} clause`);
            let pipe: Pipe | null = null;
            if (this.peek().type !== 'right') pipe = this.parsePipe(first.val, false);
            else this.next();
            if (first.val === 'block') {
              const { list: body, end } = this.parseList();
              if (end.kind !== 'end') this.err('unexpected EOF', end.pos);
              this.defines.set(nameTok.val, body);
            }
            list.push({ t: 'template', name: nameTok.val, pipe, pos: first.pos });
            continue;
          }
        }
      }
      const pipe = this.parsePipe('command', true);
      list.push({ t: 'action', pipe, pos: pipe.pos });
    }
  }

  private parseControl(kind: 'if' | 'with' | 'range', pos: number): Node {
    this.vars.push([]);
    const pipe = this.parsePipe(kind, kind === 'range' ? 'range' : true);
    const { list, end } = this.parseList();
    this.vars.pop();
    let elseList: Node[] | null = null;
    if (end.kind === 'eof') this.err('unexpected EOF', end.pos);
    if (end.kind === 'else') {
      if (end.chain) {
        if (kind === 'range') this.err(`unexpected <${end.chain}> in else`, end.pos);
        // {{else if X}} ... == {{else}}{{if X}} ... {{end}}{{end}}
        elseList = [this.parseControl(end.chain, end.pos)];
      } else {
        this.vars.push([]);
        const r = this.parseList();
        this.vars.pop();
        if (r.end.kind === 'eof') this.err('unexpected EOF', r.end.pos);
        if (r.end.kind === 'else') this.err('expected end; found {{else}}', r.end.pos);
        elseList = r.list;
      }
    }
    return { t: kind, pipe, list, else: elseList, pos };
  }

  private lookupVar(name: string, pos: number): void {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.includes(name)) return;
    this.err(`undefined variable "${name}"`, pos);
  }

  /** decl: true allows `$x :=`/`$x =`, 'range' also allows `$i, $e :=`. Consumes the closing }} (or not, in parens). */
  private parsePipe(ctx: string, decl: boolean | 'range', inParens = false): Pipe {
    const start = this.peek().pos;
    const pipe: Pipe = { decl: [], isAssign: false, cmds: [], pos: start };
    if (decl && this.peek().type === 'var') {
      const save = this.i;
      const v = this.next();
      const n = this.peek();
      if (n.type === 'declare' || n.type === 'assign') {
        this.next();
        pipe.decl.push(v.val);
        pipe.isAssign = n.type === 'assign';
      } else if (n.type === 'comma' && decl === 'range') {
        this.next();
        const v2 = this.expect('var', 'range');
        const op = this.next();
        if (op.type !== 'declare' && op.type !== 'assign') this.unexpected(op, 'range');
        pipe.decl.push(v.val, v2.val);
        pipe.isAssign = op.type === 'assign';
      } else if (n.type === 'comma') {
        this.err(`too many declarations in ${ctx}`, n.pos);
      } else {
        this.i = save;
      }
      for (const d of pipe.decl) {
        if (pipe.isAssign) this.lookupVar(d, start);
        else this.vars[this.vars.length - 1]!.push(d);
      }
    }
    for (;;) {
      const t = this.peek();
      if (t.type === 'right' && !inParens) {
        this.next();
        break;
      }
      if (t.type === 'rparen' && inParens) {
        this.next();
        break;
      }
      if (t.type === 'eof' || (t.type === 'right' && inParens)) {
        if (inParens) this.err('unclosed left paren', t.pos);
        this.err('unclosed action', t.pos);
      }
      pipe.cmds.push(this.parseCmd(ctx, inParens));
      const after = this.peek();
      if (after.type === 'pipe') {
        this.next();
        if (this.peek().type === 'right' || this.peek().type === 'rparen') this.err('missing command', after.pos);
      }
    }
    if (pipe.cmds.length === 0) this.err(`missing value for ${ctx}`, start);
    for (let k = 1; k < pipe.cmds.length; k++) {
      const a0 = pipe.cmds[k]!.args[0]!;
      if (a0.t === 'bool' || a0.t === 'dot' || a0.t === 'nil' || a0.t === 'number' || a0.t === 'string') {
        this.err(`non executable command in pipeline stage ${k + 1}`, a0.pos);
      }
    }
    return pipe;
  }

  private parseCmd(ctx: string, inParens: boolean): Cmd {
    const args: Arg[] = [];
    const pos = this.peek().pos;
    for (;;) {
      const t = this.peek();
      if (t.type === 'pipe' || t.type === 'right' || t.type === 'rparen' || t.type === 'eof') break;
      if (args.length > 0 && !t.space && t.type !== 'lparen') {
        this.err(`missing space?`, t.pos);
      }
      args.push(this.parseOperand(ctx, inParens));
    }
    if (args.length === 0) this.err(`missing value for ${ctx}`, pos);
    return { args, pos };
  }

  private parseOperand(ctx: string, _inParens: boolean): Arg {
    const t = this.next();
    let node: Arg;
    switch (t.type) {
      case 'field': {
        const names = [t.val];
        let pos = t.pos;
        while (this.peek().type === 'field' && !this.peek().space) {
          if (names.length === 1) pos = this.peek().pos;
          names.push(this.next().val);
        }
        return { t: 'field', names, pos };
      }
      case 'var': {
        this.lookupVar(t.val, t.pos);
        const names: string[] = [];
        while (this.peek().type === 'field' && !this.peek().space) names.push(this.next().val);
        return { t: 'var', name: t.val, names, pos: t.pos };
      }
      case 'dot':
        node = { t: 'dot', pos: t.pos };
        break;
      case 'ident':
        if (KEYWORDS.has(t.val)) this.unexpected(t, ctx);
        if (!this.funcs.has(t.val)) this.err(`function "${t.val}" not defined`, t.pos);
        node = { t: 'ident', name: t.val, pos: t.pos };
        break;
      case 'string':
        node = { t: 'string', v: t.val, pos: t.pos, quoted: JSON.stringify(t.val) };
        break;
      case 'char':
        node = { t: 'number', v: Number(t.val), text: t.val, isInt: true, pos: t.pos };
        break;
      case 'number': {
        const { v, isInt } = parseNumber(t.val, (m) => this.err(m, t.pos));
        node = { t: 'number', v, text: t.val, isInt, pos: t.pos };
        break;
      }
      case 'bool':
        node = { t: 'bool', v: t.val === 'true', pos: t.pos };
        break;
      case 'nil':
        node = { t: 'nil', pos: t.pos };
        break;
      case 'lparen': {
        const pipe = this.parsePipe('parenthesized pipeline', false, true);
        node = { t: 'pipe', pipe, pos: t.pos };
        break;
      }
      default:
        this.unexpected(t, ctx);
    }
    if (this.peek().type === 'dot' && !this.peek().space) this.err('unexpected <.> in operand', this.peek().pos);
    if (this.peek().type === 'field' && !this.peek().space) {
      const names: string[] = [];
      const pos = this.peek().pos;
      while (this.peek().type === 'field' && !this.peek().space) names.push(this.next().val);
      if (node.t === 'bool' || node.t === 'string' || node.t === 'number' || node.t === 'nil') {
        this.err(`unexpected . after term "${argString(node)}"`, pos);
      }
      if (node.t === 'dot') this.err(`unexpected . after term "."`, pos);
      return { t: 'chain', node, names, pos };
    }
    return node;
  }
}

function parseNumber(text: string, fail: (m: string) => never): { v: number; isInt: boolean } {
  if (text.endsWith('i')) fail(`complex numbers are not supported: ${text}`);
  const clean = text.replace(/_/g, '');
  let sign = 1;
  let body = clean;
  if (body[0] === '+' || body[0] === '-') {
    if (body[0] === '-') sign = -1;
    body = body.slice(1);
  }
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) return { v: sign * parseInt(body.slice(2), 16), isInt: true };
  if (/^0[oO][0-7]+$/.test(body)) return { v: sign * parseInt(body.slice(2), 8), isInt: true };
  if (/^0[bB][01]+$/.test(body)) return { v: sign * parseInt(body.slice(2), 2), isInt: true };
  if (/^0[0-7]+$/.test(body)) return { v: sign * parseInt(body, 8), isInt: true };
  if (/^\d+$/.test(body)) return { v: sign * Number(body), isInt: true };
  const v = Number(body);
  if (body === '' || Number.isNaN(v)) fail(`bad number syntax: "${text}"`);
  return { v: sign * v, isInt: false };
}

// ---------------------------------------------------------------------------
// Values

/** Go type name of a value, for error messages. */
export function goType(v: unknown): string {
  if (v instanceof Missing || v === undefined) return '<nil>';
  if (v === null) return 'interface {}';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int64';
  if (typeof v === 'function') return 'func';
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') && v.length > 0 ? '[]string' : '[]interface {}';
  if (isStruct(v)) return v[STRUCT];
  return 'map[string]interface {}';
}

function isStruct(v: unknown): v is StructValue {
  return typeof v === 'object' && v !== null && STRUCT in v;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isStruct(v) && !(v instanceof Missing);
}

function isNil(v: unknown): boolean {
  return v === null || v === undefined || v instanceof Missing;
}

/** Go's template truth: false, 0, nil, empty string/slice/map are false; structs are true. */
export function isTrue(v: unknown): boolean {
  if (isNil(v)) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isStruct(v)) return true;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** Go's %g-style shortest float formatting as used by %v. */
export function formatFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) {
    const [m, e] = n.toExponential().split('e');
    const exp = Number(e);
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(n);
}

/** fmt.Sprint("%v") of a value. */
export function formatValue(v: unknown): string {
  if (v instanceof Missing) return '<no value>';
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'string': return v;
    case 'number': return formatFloat(v);
    case 'bigint': return v.toString();
    case 'boolean': return v ? 'true' : 'false';
    case 'function': return '<func>';
  }
  if (Array.isArray(v)) return '[' + v.map(formatValue).join(' ') + ']';
  if (isStruct(v)) {
    const ts = (v as { toString?: unknown }).toString;
    if (typeof ts === 'function' && ts !== Object.prototype.toString) return String(ts.call(v));
    const vals = Object.keys(v).filter((k) => typeof v[k] !== 'function').map((k) => formatValue(v[k]));
    return '{' + vals.join(' ') + '}';
  }
  const o = v as Record<string, unknown>;
  return 'map[' + Object.keys(o).sort(cmpStr).map((k) => `${k}:${formatValue(o[k])}`).join(' ') + ']';
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Go's encoding/json output. `escapeHTML` mirrors json.Marshal (true) vs an
 * Encoder with SetEscapeHTML(false). Struct-like values marshal through their
 * toJSON (docker's formatter contexts are always HTML-escaped, as their
 * MarshalJSON calls json.Marshal).
 */
export function goJSON(v: unknown, escapeHTML = false): string {
  if (v instanceof Missing || v === undefined) return 'null';
  if (isStruct(v) && typeof (v as { toJSON?: unknown }).toJSON === 'function') escapeHTML = true;
  if (isMap(v) && MAP_FIELDS.has(FIELD_NAMES.get(v) ?? '')) v = sortKeys(v);
  const s = JSON.stringify(v, function (this: unknown, k: string, val: unknown) {
    if (val instanceof Missing) return null;
    if (typeof val === 'bigint') return Number(val);
    // Go marshals map[string]T with sorted keys; these Docker API fields are maps
    if (isMap(val) && (MAP_FIELDS.has(k) || (k === 'Config' && isMap(this) && 'Type' in this))) return sortKeys(val);
    return val;
  });
  if (s === undefined) return 'null';
  return goEscape(s, escapeHTML);
}

/** Docker API fields whose Go type is a slice: a JSON null there is a nil slice, printed "[]". */
const SLICE_FIELDS = new Set([
  'Entrypoint', 'Cmd', 'Env', 'Args', 'Binds', 'Links', 'Mounts', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'CapAdd', 'CapDrop',
  'SecurityOpt', 'VolumesFrom', 'Devices', 'Ulimits', 'ExecIDs', 'RepoTags', 'RepoDigests', 'Layers', 'OnBuild', 'Shell', 'Aliases',
  'GroupAdd', 'DeviceCgroupRules', 'DeviceRequests', 'MaskedPaths', 'ReadonlyPaths', 'Warnings', 'Names', 'Ports', 'Processes', 'Titles',
]);

/**
 * The typed docker CLI prints a nil slice as "[]" and a nil map as "map[]"
 * (still "null" in JSON); a JSON null under a known slice/map field gets the
 * same treatment. Anything else stays a nil interface ("<nil>").
 */
function typedNil(field: string): unknown {
  if (SLICE_FIELDS.has(field) && field !== 'Ports') {
    const a: unknown[] = [];
    Object.defineProperty(a, 'toJSON', { value: () => null, enumerable: false });
    return a;
  }
  if (MAP_FIELDS.has(field)) {
    const m: Record<string, unknown> = {};
    Object.defineProperty(m, 'toJSON', { value: () => null, enumerable: false });
    return m;
  }
  return null;
}

/** The field name through which a template reached an object (to know that `.Config.Labels` is a Go map). */
const FIELD_NAMES = new WeakMap<object, string>();

/** Docker API fields whose Go type is a map (JSON keys sorted when marshalled). */
const MAP_FIELDS = new Set([
  'Labels', 'Attributes', 'Networks', 'Ports', 'ExposedPorts', 'Volumes', 'Options', 'DriverOpts', 'Details', 'Data',
  'Sysctls', 'Tmpfs', 'StorageOpt', 'Annotations', 'PortBindings', 'EndpointsConfig', 'Containers', 'Runtimes',
]);

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort(cmpStr)) out[k] = o[k];
  return out;
}

function goEscape(s: string, escapeHTML: boolean): string {
  let out = s.replace(/\\(\\|b|f)|[\u2028\u2029]/g, (m, e: string | undefined) => {
    if (e === '\\') return '\\\\';
    if (e === 'b') return '\\u0008';
    if (e === 'f') return '\\u000c';
    return m === '\u2028' ? '\\u2028' : '\\u2029';
  });
  if (escapeHTML) out = out.replace(/[<>&]/g, (c) => (c === '<' ? '\\u003c' : c === '>' ? '\\u003e' : '\\u0026'));
  return out;
}

// ---------------------------------------------------------------------------
// fmt.Sprintf subset

function quoteGo(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c === 0xfffd) out += '\\ufffd';
    else out += ch;
  }
  return out + '"';
}

export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    i++;
    if (format[i] === '%') {
      out += '%';
      continue;
    }
    let flags = '';
    while (i < format.length && '+-# 0'.includes(format[i]!)) flags += format[i++];
    let width: number | undefined;
    let prec: number | undefined;
    let w = '';
    if (format[i] === '*') {
      const a = args[argi++];
      width = typeof a === 'number' ? a : undefined;
      i++;
    } else {
      while (i < format.length && /[0-9]/.test(format[i]!)) w += format[i++];
      if (w) width = Number(w);
    }
    if (format[i] === '.') {
      i++;
      let p = '';
      if (format[i] === '*') {
        const a = args[argi++];
        prec = typeof a === 'number' ? a : 0;
        i++;
      } else {
        while (i < format.length && /[0-9]/.test(format[i]!)) p += format[i++];
        prec = p ? Number(p) : 0;
      }
    }
    const verb = format[i];
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[argi++];
    out += pad(formatVerb(verb, a, flags, prec), width, flags);
  }
  if (argi < args.length) {
    out += '%!(EXTRA ' + args.slice(argi).map((a) => `${goType(a)}=${formatValue(a)}`).join(', ') + ')';
  }
  return out;
}

function pad(s: string, width: number | undefined, flags: string): string {
  if (width === undefined) return s;
  const len = [...s].length;
  if (len >= width) return s;
  if (flags.includes('-')) return s + ' '.repeat(width - len);
  if (flags.includes('0') && /^[+-]?[0-9.]/.test(s)) {
    const sign = /^[+-]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(width - len) + s.slice(sign.length);
  }
  return ' '.repeat(width - len) + s;
}

function formatVerb(verb: string, a: unknown, flags: string, prec: number | undefined): string {
  const bad = (): string => `%!${verb}(${goType(a)}=${formatValue(a)})`;
  const plus = (s: string, n: number): string => (n >= 0 && flags.includes('+') ? '+' + s : n >= 0 && flags.includes(' ') ? ' ' + s : s);
  switch (verb) {
    case 'v':
      if (flags.includes('#') && typeof a === 'string') return quoteGo(a);
      return formatValue(a);
    case 's':
      if (typeof a === 'string') return prec !== undefined ? [...a].slice(0, prec).join('') : a;
      if (typeof a === 'number' || typeof a === 'boolean') return bad();
      return formatValue(a);
    case 'q':
      if (typeof a === 'string') return quoteGo(a);
      if (typeof a === 'number' && Number.isInteger(a)) return `'${String.fromCodePoint(a)}'`;
      return bad();
    case 'd':
      if (typeof a === 'number' && Number.isInteger(a)) return plus(String(a), a);
      if (typeof a === 'bigint') return a.toString();
      return bad();
    case 'x':
    case 'X': {
      let s: string;
      if (typeof a === 'number' && Number.isInteger(a)) s = (a < 0 ? '-' : '') + Math.abs(a).toString(16);
      else if (typeof a === 'string') s = Buffer.from(a).toString('hex');
      else return bad();
      if (flags.includes('#')) s = '0x' + s;
      return verb === 'X' ? s.toUpperCase() : s;
    }
    case 'o':
      if (typeof a === 'number' && Number.isInteger(a)) return a.toString(8);
      return bad();
    case 'b':
      if (typeof a === 'number' && Number.isInteger(a)) return a.toString(2);
      return bad();
    case 'c':
      if (typeof a === 'number' && Number.isInteger(a)) return String.fromCodePoint(a);
      return bad();
    case 'f':
    case 'F':
      if (typeof a === 'number') return plus(a.toFixed(prec ?? 6), a);
      return bad();
    case 'e':
    case 'E': {
      if (typeof a !== 'number') return bad();
      const [m, e] = a.toExponential(prec ?? 6).split('e');
      const exp = Number(e);
      const s = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
      return plus(verb === 'E' ? s.toUpperCase() : s, a);
    }
    case 'g':
    case 'G':
      if (typeof a !== 'number') return bad();
      if (prec === undefined) return plus(formatFloat(a), a);
      return plus(gFormat(a, prec), a);
    case 't':
      if (typeof a === 'boolean') return a ? 'true' : 'false';
      return bad();
    case 'T':
      return goType(a);
    default:
      return `%!${verb}(${goType(a)}=${formatValue(a)})`;
  }
}

/** %.Ng: N significant digits, trailing zeros removed, exponent when exp < -4 || exp >= N. */
export function gFormat(n: number, precision: number): string {
  if (n === 0) return '0';
  const p = precision === 0 ? 1 : precision;
  const exp = Math.floor(Math.log10(Math.abs(Number(n.toPrecision(p)))));
  if (exp < -4 || exp >= p) {
    const [m, e] = n.toExponential(p - 1).split('e');
    const mm = m!.includes('.') ? m!.replace(/0+$/, '').replace(/\.$/, '') : m!;
    const ee = Number(e);
    return `${mm}e${ee < 0 ? '-' : '+'}${String(Math.abs(ee)).padStart(2, '0')}`;
  }
  const s = n.toFixed(Math.max(0, p - 1 - exp));
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

// ---------------------------------------------------------------------------
// Builtin functions

class ExecError extends Error {}

function fnErr(msg: string): never {
  throw new ExecError(msg);
}

function asString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined || v instanceof Missing) fnErr('invalid value; expected string');
  fnErr(`wrong type for value; expected string; got ${goType(v)}`);
}

function asInt(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (v === null || v === undefined || v instanceof Missing) fnErr('invalid value; expected int');
  fnErr(`wrong type for value; expected int; got ${goType(v)}`);
}

function basicKind(v: unknown): string {
  if (isNil(v)) return 'nil';
  if (typeof v === 'number' || typeof v === 'bigint') return 'number';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  return 'complex';
}

function eq(a: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) fnErr('missing argument for comparison');
  const ka = basicKind(a);
  for (const b of rest) {
    const kb = basicKind(b);
    if (ka !== kb) {
      if (ka !== 'nil' && kb !== 'nil') fnErr('incompatible types for comparison');
      continue;
    }
    if (ka === 'nil') return true;
    if (ka === 'complex') fnErr(`non-comparable types ${formatValue(a)}: ${goType(a)}, ${goType(b)}: ${formatValue(b)}`);
    if (a === b || (typeof a === 'bigint' || typeof b === 'bigint' ? BigInt(a as number) === BigInt(b as number) : false)) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka === 'nil' || kb === 'nil' || ka === 'complex' || kb === 'complex' || ka === 'bool') fnErr('invalid type for comparison');
  if (ka !== kb) fnErr('incompatible types for comparison');
  return (a as number | string) < (b as number | string);
}

function lenOf(v: unknown): number {
  if (isNil(v)) fnErr('len of nil pointer');
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (isMap(v)) return Object.keys(v).length;
  fnErr(`len of type ${goType(v)}`);
}

function indexOf(item: unknown, ...idx: unknown[]): unknown {
  let cur = item;
  for (const ix of idx) {
    if (isNil(cur)) fnErr('index of untyped nil');
    if (Array.isArray(cur) || typeof cur === 'string') {
      const n = asIndex(ix);
      const len = typeof cur === 'string' ? Buffer.byteLength(cur) : cur.length;
      if (n < 0 || n >= len) fnErr(`index out of range: ${n}`);
      cur = typeof cur === 'string' ? Buffer.from(cur)[n]! : cur[n];
    } else if (isMap(cur)) {
      if (typeof ix !== 'string') {
        if (isNil(ix)) fnErr('value is nil; should be of type string');
        fnErr(`value has type ${goType(ix)}; should be string`);
      }
      if (Object.prototype.hasOwnProperty.call(cur, ix)) cur = cur[ix];
      else {
        // zero value of the element type: "" for string maps (labels, options), nil otherwise
        const vals = Object.values(cur);
        cur = vals.length > 0 && vals.every((x) => typeof x === 'string') ? '' : vals.length === 0 ? '' : null;
      }
    } else {
      fnErr(`can't index item of type ${goType(cur)}`);
    }
  }
  return cur;
}

function asIndex(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (isNil(v)) fnErr('cannot index slice/array with nil');
  fnErr(`cannot index slice/array with type ${goType(v)}`);
}

function sliceOf(item: unknown, ...idx: unknown[]): unknown {
  if (isNil(item)) fnErr('slice of untyped nil');
  if (idx.length > 3) fnErr(`too many slice indexes: ${idx.length}`);
  if (typeof item === 'string') {
    if (idx.length === 3) fnErr('cannot 3-index slice a string');
    const b = Buffer.from(item);
    const i = idx.length > 0 ? asIndex(idx[0]) : 0;
    const j = idx.length > 1 ? asIndex(idx[1]) : b.length;
    if (i < 0 || j < i || j > b.length) fnErr(`index out of range: ${j > b.length ? j : i}`);
    return b.subarray(i, j).toString();
  }
  if (Array.isArray(item)) {
    const i = idx.length > 0 ? asIndex(idx[0]) : 0;
    const j = idx.length > 1 ? asIndex(idx[1]) : item.length;
    if (i < 0 || j < i || j > item.length) fnErr(`index out of range: ${j > item.length ? j : i}`);
    return item.slice(i, j);
  }
  fnErr(`can't slice item of type ${goType(item)}`);
}

function sprint(args: unknown[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  }
  return out;
}

function htmlEscape(s: string): string {
  return s.replace(/[<>&'"\0]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\uFFFD' })[c]!);
}

function jsEscape(s: string): string {
  return s.replace(/[\\'"<>&=\n\r\t\0-\x1f]/g, (c) => {
    switch (c) {
      case '\\': return '\\\\';
      case "'": return "\\'";
      case '"': return '\\"';
      case '\n': return '\\n';
      case '\r': return '\\r';
      case '\t': return '\\t';
      default: return '\\u' + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    }
  });
}

function goTitle(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    const sep = !/[\p{L}\p{Nd}_]/u.test(prev);
    out += sep ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

function goSplit(s: string, sep: string): string[] {
  if (sep === '') return [...s];
  return s.split(sep);
}

function joinElements(elems: unknown, sep: unknown): string {
  const sp = asString(sep);
  if (isNil(elems)) return '';
  if (Array.isArray(elems)) return elems.map(formatValue).join(sp);
  if (isMap(elems)) return Object.values(elems).map(formatValue).sort(cmpStr).join(sp);
  fnErr(`expected slice, got ${goType(elems)}`);
}

interface FuncSpec {
  fn: TemplateFunc;
  min: number;
  max: number;
}

const spec = (fn: TemplateFunc, min: number, max = min): FuncSpec => ({ fn, min, max });

const BUILTINS: Record<string, FuncSpec> = {
  not: spec((a) => !isTrue(a), 1),
  len: spec((a) => lenOf(a), 1),
  index: spec((a, ...i) => indexOf(a, ...i), 1, Infinity),
  slice: spec((a, ...i) => sliceOf(a, ...i), 1, Infinity),
  eq: spec((a, ...b) => eq(a, ...b), 1, Infinity),
  ne: spec((a, b) => !eq(a, b), 2),
  lt: spec((a, b) => lt(a, b), 2),
  le: spec((a, b) => lt(a, b) || eq(a, b), 2),
  gt: spec((a, b) => !lt(a, b) && !eq(a, b), 2),
  ge: spec((a, b) => !lt(a, b), 2),
  print: spec((...a) => sprint(a), 0, Infinity),
  printf: spec((f, ...a) => sprintf(asString(f), a), 1, Infinity),
  println: spec((...a) => a.map(formatValue).join(' ') + '\n', 0, Infinity),
  html: spec((...a) => htmlEscape(sprint(a)), 0, Infinity),
  js: spec((...a) => jsEscape(sprint(a)), 0, Infinity),
  urlquery: spec((...a) => encodeURIComponent(sprint(a)).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()), 0, Infinity),
  call: spec((f, ...a) => {
    if (typeof f !== 'function') fnErr(`non-function of type ${goType(f)}`);
    return (f as TemplateFunc)(...a);
  }, 1, Infinity),
  // docker/cli templates.basicFunctions
  json: spec((v) => goJSON(v), 1),
  split: spec((s, sep) => goSplit(asString(s), asString(sep)), 2),
  join: spec((e, sep) => joinElements(e, sep), 2),
  title: spec((s) => goTitle(asString(s)), 1),
  lower: spec((s) => asString(s).toLowerCase(), 1),
  upper: spec((s) => asString(s).toUpperCase(), 1),
  pad: spec((s, p, x) => {
    const src = asString(s);
    return src === '' ? src : ' '.repeat(Math.max(0, asInt(p))) + src + ' '.repeat(Math.max(0, asInt(x)));
  }, 3),
  truncate: spec((s, n) => {
    const src = asString(s);
    const l = asInt(n);
    const b = Buffer.from(src);
    return b.length < l ? src : b.subarray(0, l).toString();
  }, 2),
};

/** docker/cli templates.HeaderFunctions: keep table headers intact. */
export const HEADER_FUNCS: Record<string, TemplateFunc> = {
  json: (v) => v,
  split: (v) => v,
  join: (v) => v,
  title: (v) => v,
  lower: (v) => v,
  upper: (v) => v,
  truncate: (v) => v,
};

// ---------------------------------------------------------------------------
// Execution

class BreakSignal {}
class ContinueSignal {}

interface Frame {
  name: string;
  value: unknown;
}

export interface ExecuteOptions {
  /** Replace or add functions for this execution (e.g. HEADER_FUNCS). */
  funcs?: Record<string, TemplateFunc>;
  /** Go's missingkey=error. */
  missingKeyError?: boolean;
}

export interface ParseOptions {
  name?: string;
  /** Extra function names (implementations given at execute time or here). */
  funcs?: Record<string, TemplateFunc>;
}

export class Template {
  private constructor(
    readonly source: string,
    readonly name: string,
    private readonly root: Node[],
    private readonly defines: Map<string, Node[]>,
    private readonly extra: Record<string, TemplateFunc>,
  ) {}

  static parse(source: string, opts: ParseOptions = {}): Template {
    const name = opts.name ?? '';
    const extra = opts.funcs ?? {};
    const toks = new Lexer(source, name).run();
    const names = new Set([...BUILTIN_NAMES, ...DOCKER_NAMES, ...Object.keys(extra)]);
    const p = new Parser(toks, source, name, names);
    const root = p.parseTop();
    return new Template(source, name, root, p.defines, extra);
  }

  execute(data: unknown, opts: ExecuteOptions = {}): string {
    const ex = new Executor(this.source, this.name, this.defines, { ...this.extra, ...(opts.funcs ?? {}) }, opts.missingKeyError ?? false);
    const out: string[] = [];
    ex.vars.push({ name: '$', value: data });
    try {
      ex.walkList(this.root, data, out);
    } catch (e) {
      if (e instanceof BreakSignal || e instanceof ContinueSignal) throw new TemplateError('template: unexpected break/continue');
      throw e;
    }
    return out.join('');
  }

  /** Executes, returning the partial output and the error instead of throwing (Go writes progressively). */
  executePartial(data: unknown, opts: ExecuteOptions = {}): { out: string; err?: TemplateError } {
    const ex = new Executor(this.source, this.name, this.defines, { ...this.extra, ...(opts.funcs ?? {}) }, opts.missingKeyError ?? false);
    const out: string[] = [];
    ex.vars.push({ name: '$', value: data });
    try {
      ex.walkList(this.root, data, out);
      return { out: out.join('') };
    } catch (e) {
      if (e instanceof TemplateError) return { out: out.join(''), err: e };
      throw e;
    }
  }
}

class Executor {
  vars: Frame[] = [];
  private depth = 0;
  constructor(
    private readonly src: string,
    private readonly name: string,
    private readonly defines: Map<string, Node[]>,
    private readonly overrides: Record<string, TemplateFunc>,
    private readonly missingKeyError: boolean,
  ) {}

  private fail(pos: number, at: string, msg: string): never {
    throw new TemplateError(`template: ${this.name}:${lineOf(this.src, pos)}:${colOf(this.src, pos)}: executing "${this.name}" at <${at}>: ${msg}`);
  }

  walkList(list: Node[], dot: unknown, out: string[]): void {
    for (const n of list) this.walk(n, dot, out);
  }

  private walk(n: Node, dot: unknown, out: string[]): void {
    switch (n.t) {
      case 'text':
        out.push(n.text);
        return;
      case 'action': {
        const v = this.evalPipe(dot, n.pipe);
        if (n.pipe.decl.length === 0) out.push(this.printable(v, n.pipe));
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipe(dot, n.pipe);
        const truth = isTrue(v);
        if (truth) this.walkList(n.list, n.t === 'with' ? v : dot, out);
        else if (n.else) this.walkList(n.else, dot, out);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.walkRange(n, dot, out);
        return;
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
      case 'template': {
        const body = this.defines.get(n.name);
        if (!body) this.fail(n.pos, `template "${n.name}"`, `no such template "${n.name}"`);
        const v = n.pipe ? this.evalPipe(dot, n.pipe) : null;
        if (++this.depth > 10000) this.fail(n.pos, `template "${n.name}"`, 'exceeded maximum template depth (100000)');
        const saved = this.vars;
        this.vars = [{ name: '$', value: v }];
        try {
          this.walkList(body, v, out);
        } finally {
          this.vars = saved;
          this.depth--;
        }
        return;
      }
    }
  }

  private printable(v: unknown, pipe: Pipe): string {
    if (typeof v === 'function') {
      const last = pipe.cmds[pipe.cmds.length - 1]!;
      this.fail(last.pos, cmdString(last), `can't print ${cmdString(last)} of type func`);
    }
    return formatValue(v);
  }

  private walkRange(n: ControlNode, dot: unknown, out: string[]): void {
    const mark = this.vars.length;
    // the range pipeline's declarations are per-iteration; evaluate without them
    const pipe = { ...n.pipe, decl: [] };
    let val = this.evalPipe(dot, pipe);
    const decl = n.pipe.decl;
    const iter = (key: unknown, elem: unknown): boolean => {
      if (decl.length === 1) this.setVar(decl[0]!, elem, n.pipe.isAssign);
      else if (decl.length === 2) {
        this.setVar(decl[0]!, key, n.pipe.isAssign);
        this.setVar(decl[1]!, elem, n.pipe.isAssign);
      }
      const inner = this.vars.length;
      try {
        this.walkList(n.list, elem, out);
      } catch (e) {
        if (e instanceof BreakSignal) return false;
        if (!(e instanceof ContinueSignal)) throw e;
      } finally {
        this.vars.length = inner;
      }
      return true;
    };
    let ran = false;
    if (val instanceof Missing) val = null;
    if (Array.isArray(val)) {
      for (let i = 0; i < val.length; i++) {
        ran = true;
        if (!iter(i, val[i])) break;
      }
    } else if (isMap(val)) {
      for (const k of Object.keys(val).sort(cmpStr)) {
        ran = true;
        if (!iter(k, val[k])) break;
      }
    } else if (typeof val === 'number' && Number.isInteger(val)) {
      if (decl.length > 1) this.fail(n.pos, 'range', "can't use two variables when ranging over an integer");
      for (let i = 0; i < val; i++) {
        ran = true;
        if (!iter(i, i)) break;
      }
    } else if (val !== null && val !== undefined) {
      this.fail(n.pos, pipeString(n.pipe), `range can't iterate over ${formatValue(val)}`);
    }
    if (!ran && n.else) this.walkList(n.else, dot, out);
    this.vars.length = mark;
  }

  private setVar(name: string, value: unknown, assign: boolean): void {
    if (assign) {
      for (let i = this.vars.length - 1; i >= 0; i--) {
        if (this.vars[i]!.name === name) {
          this.vars[i]!.value = value;
          return;
        }
      }
    }
    this.vars.push({ name, value });
  }

  private getVar(name: string, pos: number): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.fail(pos, name, `undefined variable: ${name}`);
  }

  private evalPipe(dot: unknown, pipe: Pipe): unknown {
    let val: unknown = NO_FINAL;
    for (const c of pipe.cmds) val = this.evalCmd(dot, c, val);
    for (const d of pipe.decl) this.setVar(d, val, pipe.isAssign);
    return val;
  }

  private evalCmd(dot: unknown, cmd: Cmd, final: unknown): unknown {
    const first = cmd.args[0]!;
    const rest = cmd.args.slice(1);
    try {
      switch (first.t) {
        case 'field':
          return this.evalFieldChain(dot, dot, first, first.names, rest, final);
        case 'chain': {
          const base = this.evalArg(dot, first.node);
          return this.evalFieldChain(dot, base, first, first.names, rest, final);
        }
        case 'var': {
          const v = this.getVar(first.name, first.pos);
          if (first.names.length === 0) {
            this.noArgs(first, rest, final);
            return v;
          }
          return this.evalFieldChain(dot, v, first, first.names, rest, final);
        }
        case 'ident':
          return this.evalFunction(dot, first, cmd, rest, final);
        case 'pipe':
          this.noArgs(first, rest, final);
          return this.evalPipe(dot, first.pipe);
        case 'nil':
          this.fail(first.pos, 'nil', 'nil is not a command');
        // eslint-disable-next-line no-fallthrough
        default:
          this.noArgs(first, rest, final);
          return this.evalArg(dot, first);
      }
    } catch (e) {
      if (e instanceof ExecError) this.fail(first.pos, cmdString(cmd), e.message);
      throw e;
    }
  }

  private noArgs(first: Arg, rest: Arg[], final: unknown): void {
    if (rest.length > 0 || final !== NO_FINAL) this.fail(first.pos, argString(first), `can't give argument to non-function ${argString(first)}`);
  }

  private evalFunction(dot: unknown, id: Extract<Arg, { t: 'ident' }>, cmd: Cmd, rest: Arg[], final: unknown): unknown {
    const name = id.name;
    if (name === 'and' || name === 'or') {
      const all: (() => unknown)[] = rest.map((a) => () => this.evalArg(dot, a));
      if (final !== NO_FINAL) all.push(() => final);
      if (all.length < 1) this.fail(id.pos, cmdString(cmd), `wrong number of args for ${name}: want at least 1 got 0`);
      let v: unknown;
      for (const f of all) {
        v = f();
        if (name === 'and' ? !isTrue(v) : isTrue(v)) return v;
      }
      return v;
    }
    const override = this.overrides[name];
    const builtin = BUILTINS[name];
    const args = rest.map((a) => this.evalArg(dot, a));
    if (final !== NO_FINAL) args.push(final);
    if (override) return override(...args);
    if (!builtin) this.fail(id.pos, cmdString(cmd), `"${name}" is not a defined function`);
    if (args.length < builtin.min || args.length > builtin.max) {
      const want = builtin.max === Infinity ? `at least ${builtin.min}` : String(builtin.min);
      this.fail(id.pos, name, `wrong number of args for ${name}: want ${want} got ${args.length}`);
    }
    try {
      return builtin.fn(...args);
    } catch (e) {
      if (e instanceof ExecError) this.fail(id.pos, cmdString(cmd), `error calling ${name}: ${e.message}`);
      throw e;
    }
  }

  private evalArg(dot: unknown, a: Arg): unknown {
    switch (a.t) {
      case 'dot': return dot;
      case 'string': return a.v;
      case 'number': return a.v;
      case 'bool': return a.v;
      case 'nil': return null;
      case 'field': return this.evalFieldChain(dot, dot, a, a.names, [], NO_FINAL);
      case 'var': {
        const v = this.getVar(a.name, a.pos);
        return a.names.length ? this.evalFieldChain(dot, v, a, a.names, [], NO_FINAL) : v;
      }
      case 'chain': return this.evalFieldChain(dot, this.evalArg(dot, a.node), a, a.names, [], NO_FINAL);
      case 'pipe': return this.evalPipe(dot, a.pipe);
      case 'ident': return this.evalFunction(dot, a, { args: [a], pos: a.pos }, [], NO_FINAL);
    }
  }

  private evalFieldChain(dot: unknown, receiver: unknown, node: Arg, names: string[], args: Arg[], final: unknown): unknown {
    let r = receiver;
    for (let i = 0; i < names.length - 1; i++) r = this.evalField(dot, names[i]!, node, [], NO_FINAL, r);
    return this.evalField(dot, names[names.length - 1]!, node, args, final, r);
  }

  private evalField(dot: unknown, name: string, node: Arg, args: Arg[], final: unknown, receiver: unknown): unknown {
    const at = argString(node);
    const hasArgs = args.length > 0 || final !== NO_FINAL;
    if (receiver instanceof Missing) {
      // Go returns the zero value here; docker's raw-JSON fallback (missingkey=error) reports the missing key.
      this.fail(node.pos, at, `map has no entry for key "${receiver.key}"`);
    }
    if (receiver === undefined) {
      if (this.missingKeyError) this.fail(node.pos, at, `nil data; no entry for key "${name}"`);
      return new Missing(name);
    }
    if (receiver === null) this.fail(node.pos, at, `nil pointer evaluating interface {}.${name}`);
    if (typeof receiver === 'object') {
      const methods = (receiver as { [METHODS]?: Record<string, TemplateFunc> })[METHODS];
      const m = methods?.[name];
      if (m) return this.callMethod(dot, name, node, m.bind(receiver), args, final);
      if (isStruct(receiver)) {
        if (!(name in receiver)) this.fail(node.pos, at, `can't evaluate field ${name} in type ${receiver[STRUCT]}`);
        const v = receiver[name];
        if (typeof v === 'function') return this.callMethod(dot, name, node, (v as TemplateFunc).bind(receiver), args, final);
        if (hasArgs) this.fail(node.pos, at, `${name} has arguments but cannot be invoked as function`);
        return v;
      }
      if (!Array.isArray(receiver)) {
        if (hasArgs) this.fail(node.pos, at, `${name} is not a method but has arguments`);
        const o = receiver as Record<string, unknown>;
        if (Object.prototype.hasOwnProperty.call(o, name)) {
          const v = o[name];
          if (typeof v === 'object' && v !== null) FIELD_NAMES.set(v, name);
          else if (v === null) return typedNil(name);
          return v;
        }
        if (this.missingKeyError) this.fail(node.pos, at, `map has no entry for key "${name}"`);
        return new Missing(name);
      }
    }
    this.fail(node.pos, at, `can't evaluate field ${name} in type ${goType(receiver)}`);
  }

  private callMethod(dot: unknown, name: string, node: Arg, fn: TemplateFunc, args: Arg[], final: unknown): unknown {
    const vals = args.map((a) => this.evalArg(dot, a));
    if (final !== NO_FINAL) vals.push(final);
    if (fn.length !== vals.length && !(fn.length === 0 && vals.length === 0)) {
      this.fail(node.pos, argString(node), `wrong number of args for ${name}: want ${fn.length} got ${vals.length}`);
    }
    try {
      return fn(...vals);
    } catch (e) {
      if (e instanceof ExecError) this.fail(node.pos, argString(node), `error calling ${name}: ${e.message}`);
      throw e;
    }
  }
}

const NO_FINAL: unique symbol = Symbol('no final');

/** Convenience: parse and execute in one go. */
export function render(source: string, data: unknown, opts: ParseOptions & ExecuteOptions = {}): string {
  return Template.parse(source, opts).execute(data, opts);
}
