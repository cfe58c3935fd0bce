/** A one-line progress bar on stderr, drawn only when stderr is a terminal, at most 10 times a second. */
import type { OutStream } from './output.js';

export interface ProgressPart {
  label: string;
  done: number;
  total: number;
}

const WIDTH = 24;

export class Progress {
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly stream: OutStream,
    private readonly enabled: boolean,
  ) {}

  update(parts: readonly ProgressPart[], force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const text = parts
      .map((p) => {
        const ratio = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
        const full = Math.round(ratio * WIDTH);
        return `${p.label} [${'#'.repeat(full)}${'.'.repeat(WIDTH - full)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${p.done}/${p.total}`;
      })
      .join('  ');
    this.stream.write(`\r${text}\x1b[K`);
    this.drawn = true;
  }

  /** Clears the line, so what follows starts clean. */
  end(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
