/**
 * The memory high-water mark (limits.memory_high_water, docs/DESIGN.md,
 * "Limits"): publishes are refused once the stored messages (the exact
 * account Topic keeps) or the sampled process memory reach the mark, and
 * accepted again only below MEMORY_RESUME_FRACTION of it, so that acks
 * freeing a few messages do not make publishes flap. Consume, ack, nack
 * and delete are never refused: they free memory.
 *
 * A publish compares the accounted bytes with `ceiling` and nothing else:
 * the ceiling is the mark while publishes are accepted, and -Infinity
 * while they are refused, so that every publish then takes the slow path
 * (`full`) that applies the hysteresis.
 */
import type { Logger } from 'pino';
import { exhausted } from './errors.js';
import type { Totals } from './topic.js';

/** Publishes are accepted again once memory is below this fraction of the high-water mark. */
export const MEMORY_RESUME_FRACTION = 0.9;

/** Memory against the high-water mark (limits.memory_high_water), for /metrics and logs. */
export interface MemoryStatus {
  /** Payload bytes plus a per-message estimate, of every stored message (exact counter). */
  accountedBytes: number;
  messages: number;
  /** The last sample of `sampleMemory` (process RSS in the server); 0 without a sampler. */
  sampledBytes: number;
  highWaterBytes: number;
  /** Publishes are being refused. */
  refusing: boolean;
}

export class MemoryGuard {
  private ceiling = Infinity;
  private refusing = false;
  private sampledBytes = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly totals: Totals,
    private readonly mark: number,
    private readonly log: Logger,
    private readonly sample: (() => number) | undefined,
    sampleMs: number,
  ) {
    if (mark > 0) {
      this.ceiling = mark;
      if (sample) {
        this.timer = setInterval(this.takeSample, sampleMs);
        this.timer.unref();
        this.takeSample();
      }
    }
  }

  /** Throws RESOURCE_EXHAUSTED when a publish must be refused; O(1) while memory is below the mark. */
  admit(): void {
    if (this.totals.bytes >= this.ceiling) this.full();
  }

  status(): MemoryStatus {
    return {
      accountedBytes: this.totals.bytes,
      messages: this.totals.messages,
      sampledBytes: this.sampledBytes,
      highWaterBytes: this.mark,
      refusing: this.refusing,
    };
  }

  /** Re-reads both figures against the mark (after a sample, or after recovery restored messages). */
  update(): void {
    const mark = this.mark;
    if (mark <= 0) return;
    const used = Math.max(this.totals.bytes, this.sampledBytes);
    const was = this.refusing;
    if (was ? used >= mark * MEMORY_RESUME_FRACTION : used >= mark) {
      this.refusing = true;
      this.ceiling = -Infinity;
    } else {
      this.refusing = false;
      this.ceiling = mark;
    }
    if (was !== this.refusing) {
      const fields = { accountedBytes: this.totals.bytes, sampledBytes: this.sampledBytes, highWaterBytes: mark };
      if (this.refusing) this.log.warn(fields, 'memory high-water mark reached: refusing publishes until consumers free memory');
      else this.log.info(fields, 'memory below the high-water mark again: accepting publishes');
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The slow path of `admit`: the accounted bytes reached the ceiling, or publishes are being refused. */
  private full(): void {
    this.update();
    if (!this.refusing) return;
    const mark = this.mark;
    const used = Math.max(this.totals.bytes, this.sampledBytes);
    throw exhausted(
      `memory high-water mark reached (${formatBytes(used)} of ${formatBytes(mark)}; publishing resumes below ${formatBytes(mark * MEMORY_RESUME_FRACTION)}): consume and ack messages, or raise limits.memory_high_water`,
    );
  }

  private readonly takeSample = (): void => {
    try {
      this.sampledBytes = this.sample!();
    } catch (err) {
      this.log.error({ err }, 'memory sampler failed');
      return;
    }
    this.update();
  };
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
