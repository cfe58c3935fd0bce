/**
 * Everything the CLI prints goes through one Output: aligned tables and
 * colour when stdout is a terminal, plain tab-separated rows when it is
 * piped, and one JSON document with `--json`. Notes and errors go to stderr,
 * so stdout stays the command's result.
 */
import { toJsonText } from './json.js';

export interface OutStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface OutputOptions {
  json: boolean;
  /** false: never colour (--no-color); undefined: colour on a TTY unless NO_COLOR is set. */
  color?: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * ANSI SGR codes (open, close). Plain ANSI rather than util.styleText, which
 * on Node 20 decides by looking at process.stdout itself, while this module
 * decides per stream.
 */
const STYLES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  magenta: [35, 39],
  cyan: [36, 39],
} as const;

export type Style = keyof typeof STYLES;

function styled(style: Style, text: string): string {
  const [open, close] = STYLES[style];
  return `\x1b[${open}m${text}\x1b[${close}m`;
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

function wantsColor(stream: OutStream, opts: OutputOptions): boolean {
  const env = opts.env ?? process.env;
  if (opts.color === false) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

export class Output {
  readonly json: boolean;
  /** stdout is a terminal: tables with headers, pretty JSON. */
  readonly tty: boolean;
  private readonly color: boolean;
  private readonly errColor: boolean;

  constructor(
    readonly stdout: OutStream,
    readonly stderr: OutStream,
    opts: OutputOptions,
  ) {
    this.json = opts.json;
    this.tty = stdout.isTTY === true;
    this.color = wantsColor(stdout, opts);
    this.errColor = wantsColor(stderr, opts);
  }

  /** Styles text for stdout (no-op when not colouring). */
  paint(style: Style, text: string): string {
    return this.color && text !== '' ? styled(style, text) : text;
  }

  private paintErr(style: Style, text: string): string {
    return this.errColor && text !== '' ? styled(style, text) : text;
  }

  /** One line of human output on stdout. */
  line(text = ''): void {
    this.stdout.write(text + '\n');
  }

  /** A success line: a check mark on a terminal. */
  done(text: string): void {
    this.line(this.tty ? `${this.paint('green', '✔')} ${text}` : text);
  }

  /** A note for the human at the terminal (stderr); never part of the result. */
  note(text: string): void {
    this.stderr.write(this.paintErr('dim', text) + '\n');
  }

  warn(text: string): void {
    this.stderr.write(this.paintErr('yellow', text) + '\n');
  }

  /** The error line of a failed command: stderr, JSON with --json. */
  error(code: string, message: string): void {
    if (this.json) this.stderr.write(toJsonText({ error: { code, message } }) + '\n');
    else this.stderr.write(`${this.paintErr('red', 'error:')} ${code === 'USAGE' ? '' : `${code}: `}${message}\n`);
  }

  /** The command's whole result as one JSON document (pretty on a terminal). */
  jsonResult(value: unknown): void {
    this.stdout.write(toJsonText(value, this.tty ? 2 : 0) + '\n');
  }

  /** One JSON document on one line (streams: JSON Lines). */
  jsonLine(value: unknown): void {
    this.stdout.write(toJsonText(value) + '\n');
  }

  /**
   * A JSON array written element by element as a stream produces them, one
   * element a line, so that stdout is one valid JSON document once the
   * stream is closed (by the end, Ctrl-C or an error alike).
   */
  jsonArrayStream(): { readonly started: boolean; push(value: unknown): void; close(): void } {
    let count = 0;
    let closed = false;
    return {
      get started() {
        return count > 0;
      },
      push: (value) => {
        this.stdout.write((count++ === 0 ? '[\n' : ',\n') + toJsonText(value));
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.stdout.write(count === 0 ? '[]\n' : '\n]\n');
      },
    };
  }

  /**
   * Rows under a header, columns aligned, the last column cut to the
   * terminal width; piped: tab-separated rows, no header, nothing cut.
   */
  table(columns: readonly Column[], rows: readonly (readonly string[])[], opts: { alwaysHeader?: boolean } = {}): void {
    if (!this.tty) {
      if (opts.alwaysHeader) this.line(columns.map((c) => c.header).join('\t'));
      for (const r of rows) this.line(r.join('\t'));
      return;
    }
    const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
    const fmt = (cells: readonly string[]): string => {
      const parts = cells.map((cell, i) => {
        if (i === cells.length - 1 && columns[i]?.align !== 'right') return cell;
        return columns[i]?.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      });
      return this.fit(parts.join('  '));
    };
    this.line(this.paint('bold', fmt(columns.map((c) => c.header))));
    for (const r of rows) this.line(fmt(r));
  }

  /** Cuts a line to the terminal width. */
  fit(text: string): string {
    const width = this.stdout.columns;
    if (!this.tty || width === undefined || width <= 0 || text.length <= width) return text;
    return text.slice(0, Math.max(0, width - 1)) + '…';
  }
}
