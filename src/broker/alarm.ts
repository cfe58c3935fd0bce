/**
 * One timer for the earliest of many times (held messages, ack deadlines):
 * `arm(at)` keeps the earlier of the armed time and `at`; when it rings,
 * the owner handles what is due and arms the next. Never keeps the process
 * alive; silent after `close()`.
 */

/** setTimeout's longest delay; a later time is reached in several rings. */
export const MAX_TIMER_MS = 0x7fffffff;

export class Alarm {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private closed = false;

  constructor(
    /** The clock `at` is read on (Date.now for wall times, performance.now for deadlines). */
    private readonly clock: () => number,
    private readonly ring: () => void,
  ) {}

  arm(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.fire, Math.min(MAX_TIMER_MS, Math.max(0, at - this.clock())));
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (!this.closed) this.ring();
  };
}
