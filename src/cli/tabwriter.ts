// A port of Go's text/tabwriter (the docker CLI's fork, which measures cells
// in terminal columns), enough for table output: tab-terminated cells,
// left-aligned, padded with a pad character. Flags other than the default are
// not supported.

interface Cell {
  size: number; // length in UTF-16 units of the text
  width: number; // display width
  htab: boolean;
}

/** Display width of a string: East Asian wide/fullwidth characters count 2, combining marks 0. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || (c >= 0x7f && c < 0xa0)) continue;
    if (c < 0x300) {
      w += 1;
      continue;
    }
    if (/\p{Mn}|\p{Me}|\u200b/u.test(ch)) continue;
    w += isWide(c) ? 2 : 1;
  }
  return w;
}

function isWide(c: number): boolean {
  return (
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0x303e) ||
    (c >= 0x3041 && c <= 0x33ff) ||
    (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0xa000 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1f64f) ||
    (c >= 0x1f900 && c <= 0x1f9ff) ||
    (c >= 0x20000 && c <= 0x3fffd)
  );
}

export class TabWriter {
  private out: string[] = [];
  private buf = '';
  private cell: Cell = { size: 0, width: 0, htab: false };
  private lines: Cell[][] = [[]];
  private widths: number[] = [];
  private readonly padchar: string;

  constructor(
    private readonly minwidth: number,
    private readonly tabwidth: number,
    private readonly padding: number,
    padchar = ' ',
  ) {
    this.padchar = padchar;
    void this.tabwidth;
  }

  private reset(): void {
    this.buf = '';
    this.cell = { size: 0, width: 0, htab: false };
    this.lines = [[]];
    this.widths = [];
  }

  private terminateCell(htab: boolean): number {
    this.cell.htab = htab;
    const line = this.lines[this.lines.length - 1]!;
    line.push(this.cell);
    this.cell = { size: 0, width: 0, htab: false };
    return line.length;
  }

  write(text: string): void {
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch === '\t' || ch === '\v' || ch === '\n' || ch === '\f') {
        const seg = text.slice(n, i);
        this.buf += seg;
        this.cell.size += seg.length;
        this.cell.width += displayWidth(seg);
        n = i + 1;
        const ncells = this.terminateCell(ch === '\t');
        if (ch === '\n' || ch === '\f') {
          this.lines.push([]);
          if (ch === '\f' || ncells === 1) {
            // a line with a single cell does not affect column layout: flush what we have
            this.flushInternal();
          }
        }
      }
    }
    const seg = text.slice(n);
    this.buf += seg;
    this.cell.size += seg.length;
    this.cell.width += displayWidth(seg);
  }

  /** Flushes and returns everything formatted so far. */
  flush(): string {
    this.flushInternal();
    const s = this.out.join('');
    this.out = [];
    return s;
  }

  private flushInternal(): void {
    if (this.cell.size > 0) this.terminateCell(false);
    this.format(0, 0, this.lines.length);
    this.reset();
  }

  private writePadding(textw: number, cellw: number): void {
    if (cellw > textw) this.out.push(this.padchar.repeat(cellw - textw));
  }

  private writeLines(pos0: number, line0: number, line1: number): number {
    let pos = pos0;
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i]!;
      for (let j = 0; j < line.length; j++) {
        const c = line[j]!;
        if (c.size === 0) {
          if (j < this.widths.length) this.writePadding(c.width, this.widths[j]!);
        } else {
          this.out.push(this.buf.slice(pos, pos + c.size));
          pos += c.size;
          if (j < this.widths.length) this.writePadding(c.width, this.widths[j]!);
        }
      }
      if (i + 1 === this.lines.length) {
        // last buffered line: no newline, and the incomplete cell is empty here
        this.out.push(this.buf.slice(pos, pos + this.cell.size));
        pos += this.cell.size;
      } else {
        this.out.push('\n');
      }
    }
    return pos;
  }

  private format(pos0: number, line0: number, line1: number): number {
    let pos = pos0;
    const column = this.widths.length;
    for (let thisLine = line0; thisLine < line1; thisLine++) {
      let line = this.lines[thisLine]!;
      if (column >= line.length - 1) continue;
      // cell exists in this column => this line has more cells than the previous line
      pos = this.writeLines(pos, line0, thisLine);
      line0 = thisLine;
      let width = this.minwidth;
      for (; thisLine < line1; thisLine++) {
        line = this.lines[thisLine]!;
        if (column >= line.length - 1) break;
        const c = line[column]!;
        const w = c.width + this.padding;
        if (w > width) width = w;
      }
      this.widths.push(width);
      pos = this.format(pos, line0, thisLine);
      this.widths.pop();
      line0 = thisLine;
    }
    return this.writeLines(pos, line0, line1);
  }
}

/** Renders text through a tabwriter with docker's table settings (minwidth 10, padding 3). */
export function tabulate(text: string, minwidth = 10, padding = 3): string {
  const tw = new TabWriter(minwidth, 1, padding, ' ');
  tw.write(text);
  return tw.flush();
}
