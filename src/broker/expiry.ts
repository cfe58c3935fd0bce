/**
 * Message expiry (docs/DESIGN.md, "Expiry"). A message's expiry time is
 * absolute, decided at publish and logged with it. Pops skip expired
 * messages (commit.ts, `pop`): that alone keeps them from ever being
 * delivered. This sweep keeps the depths honest between pops: once a
 * second it expires the expired heads of every queue of the topics that
 * may hold expiring messages, as an idle queue's pop would. It reads only
 * queue heads, never a whole queue: with a topic TTL the oldest message
 * is at the head, so expiry proceeds from there.
 *
 * What a drained queue left empty means is the `drained` callback's
 * (drain.ts), given at construction so that this module does not import it.
 */
import type { Commit } from './commit.js';
import type { LiveTopic } from './live.js';
import type { Namespaces } from './namespaces.js';

/** How often the heads are swept. */
export const EXPIRY_SWEEP_MS = 1000;

export class ExpirySweep {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly namespaces: Namespaces,
    private readonly commit: Commit,
    private readonly drained: (lt: LiveTopic) => void,
  ) {
    this.timer = setInterval(() => this.sweep(Date.now()), EXPIRY_SWEEP_MS);
    this.timer.unref();
  }

  /** Expires the expired heads of every queue at `now` (Unix ms); returns how many messages expired. */
  sweep(now: number): number {
    if (this.commit.closing) return 0;
    let total = 0;
    for (const lt of this.namespaces.topics()) {
      const t = lt.topic;
      if (!t.mayExpire) continue;
      let drainedOne = false;
      for (const q of t.queues) {
        const n = t.expiredAtHead(q.id, now);
        if (n === 0) continue;
        this.commit.expire(t, q.id, n);
        total += n;
        if (q.id >= t.activeCount) drainedOne = true;
      }
      if (drainedOne) this.drained(lt);
    }
    return total;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
