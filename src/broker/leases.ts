/**
 * Ack deadlines and leases (docs/DESIGN.md, "Consume", "Leases"): a popped
 * message not acked within ack_timeout, or within the lease a renew gave
 * it, goes back (or to the dead-letter queue, by the topic's policy).
 * Deadlines are not logged: recovery makes in-flight messages pending
 * again, as an expired lease would.
 *
 * Deliveries with the same ack timeout get deadlines in increasing order,
 * so a FIFO per timeout (the broker's ack_timeout, and each topic's own
 * `ackTimeoutMs` in use: docs/DESIGN.md, "Consume") under one timer is the
 * whole timer structure. Renewed deadlines are arbitrary, so they go to a
 * heap beside them. An entry is stale when its message left flight, or
 * went back in flight with another deadline; stale entries are skipped
 * when reached.
 *
 * What happens to expired messages is the `expire` callback's (the
 * delivery module's), given at construction so that this module does not
 * import it.
 */
import { Alarm } from './alarm.js';
import { Deque } from './deque.js';
import { precondition } from './errors.js';
import type { LiveTopic, Subscriber } from './live.js';
import { MessageState, type StoredMessage } from './message.js';
import { MinHeap } from './min-heap.js';
import type { Namespaces } from './namespaces.js';
import type { Topic, Totals } from './topic.js';

interface Lease {
  readonly at: number;
  readonly msg: StoredMessage;
}
const leaseFirst = (a: Lease, b: Lease): boolean => a.at < b.at;

/** The deadlines of one ack timeout, in increasing order: a message and its deadline at the same index. */
class DeadlineFifo {
  readonly msgs = new Deque<StoredMessage>();
  readonly at = new Deque<number>();

  constructor(readonly timeoutMs: number) {}
}

export class Leases {
  /** The FIFO of the broker's ack_timeout, then one per topic ack timeout in use. */
  private readonly fifos: DeadlineFifo[];
  private readonly fifoByTimeout = new Map<number, DeadlineFifo>();
  private readonly renewed = new MinHeap<Lease>(leaseFirst);
  private readonly alarm = new Alarm(performance.now.bind(performance), () => this.expireDue());

  constructor(
    readonly ackTimeoutMs: number,
    private readonly namespaces: Namespaces,
    /** Messages in flight in every topic: the FIFO is compacted when it holds over twice that. */
    private readonly totals: Totals,
    private readonly expire: (lt: LiveTopic, msgs: StoredMessage[]) => void,
  ) {
    const fifo = new DeadlineFifo(ackTimeoutMs);
    this.fifos = [fifo];
    this.fifoByTimeout.set(ackTimeoutMs, fifo);
  }

  /**
   * Popped messages of `t` go in flight: ack deadlines by the topic's ack
   * timeout as it is now (a later change does not move them), the
   * holder's count.
   */
  track(t: Topic, msgs: StoredMessage[], holder: Subscriber | undefined): void {
    const timeout = t.policy.ackTimeoutMs || this.ackTimeoutMs;
    const fifo = timeout === this.ackTimeoutMs ? this.fifos[0]! : this.fifoOf(timeout);
    const deadline = performance.now() + timeout;
    for (const m of msgs) {
      m.deadline = deadline;
      m.holder = holder;
      fifo.msgs.pushBack(m);
      fifo.at.pushBack(deadline);
    }
    if (holder) holder.inflight += msgs.length;
    this.compact();
    this.alarm.arm(deadline);
  }

  /**
   * Extends leases (as SQS ChangeMessageVisibility): the deadline of each
   * message becomes now + `extendMs`. Every id must still be in flight with
   * its deadline not passed, or nothing is changed and FAILED_PRECONDITION
   * names the first that is not.
   */
  renew(t: Topic, ids: readonly string[], extendMs: number): void {
    const now = performance.now();
    const msgs: StoredMessage[] = [];
    for (const id of ids) {
      const m = t.inflight.get(id);
      if (m === undefined || m.deadline <= now) {
        throw precondition(
          `message '${id}' is not in flight in topic '${t.namespace}/${t.name}' (its lease expired, or it was acked, nacked or never delivered): consume it again instead of renewing`,
        );
      }
      msgs.push(m);
    }
    const at = now + extendMs;
    for (const m of msgs) {
      m.deadline = at;
      this.renewed.push({ at, msg: m });
    }
    this.compact();
    this.alarm.arm(at);
  }

  /** Renewed leases held, stale ones included until compaction: about twice those in flight at most. */
  get size(): number {
    return this.renewed.size;
  }

  close(): void {
    this.alarm.close();
  }

  private fifoOf(timeoutMs: number): DeadlineFifo {
    let fifo = this.fifoByTimeout.get(timeoutMs);
    if (fifo === undefined) {
      fifo = new DeadlineFifo(timeoutMs);
      this.fifoByTimeout.set(timeoutMs, fifo);
      this.fifos.push(fifo);
    }
    return fifo;
  }

  /**
   * Acked messages stay in the FIFO until their deadline is reached, and
   * with them their payloads: at 100k acks/s and a 30 s ack_timeout that
   * would be gigabytes. Once stale entries outnumber live ones, rebuild the
   * FIFO without them: O(n) every n/2 pops, O(1) amortized. The heap of
   * renewed leases is compacted by the same rule.
   */
  private compact(): void {
    const inflight = this.totals.inflight;
    if (this.renewed.size >= 1024 && this.renewed.size > 2 * inflight) {
      this.renewed.retain((l) => l.msg.state === MessageState.InFlight && l.msg.deadline === l.at);
    }
    const fifos = this.fifos;
    let total = 0;
    for (let f = 0; f < fifos.length; f++) total += fifos[f]!.msgs.length;
    if (total < 1024 || total <= 2 * inflight) return;
    for (const fifo of fifos) {
      const n = fifo.msgs.length;
      for (let i = 0; i < n; i++) {
        const m = fifo.msgs.popFront()!;
        const at = fifo.at.popFront()!;
        if (m.state === MessageState.InFlight && m.deadline === at) {
          fifo.msgs.pushBack(m);
          fifo.at.pushBack(at);
        }
      }
    }
  }

  /** docs/DESIGN.md, "Consume": a message whose deadline passes goes back to the head of its queue. */
  private expireDue(): void {
    const now = performance.now();
    const expired = new Map<LiveTopic, StoredMessage[]>();
    const collect = (m: StoredMessage): void => {
      // A renew back to an earlier time can leave two live entries for one
      // message; clearing the deadline makes the second stale.
      m.deadline = 0;
      const lt = this.namespaces.find(m.namespace, m.topic);
      if (!lt) return;
      let msgs = expired.get(lt);
      if (!msgs) expired.set(lt, (msgs = []));
      msgs.push(m);
    };
    let next = Infinity;
    for (const fifo of this.fifos) {
      while (fifo.msgs.length > 0) {
        const m = fifo.msgs.peekFront()!;
        const at = fifo.at.peekFront()!;
        if (m.state === MessageState.InFlight && m.deadline === at) {
          if (at > now) break;
          collect(m);
        }
        fifo.msgs.popFront();
        fifo.at.popFront();
      }
      next = Math.min(next, fifo.at.peekFront() ?? Infinity);
    }
    // The FIFO of a topic timeout no longer in use goes once empty.
    for (let f = this.fifos.length - 1; f > 0; f--) {
      const fifo = this.fifos[f]!;
      if (fifo.msgs.length === 0) {
        this.fifos.splice(f, 1);
        this.fifoByTimeout.delete(fifo.timeoutMs);
      }
    }
    while (this.renewed.size > 0) {
      const l = this.renewed.peek()!;
      if (l.msg.state === MessageState.InFlight && l.msg.deadline === l.at) {
        if (l.at > now) break;
        collect(l.msg);
      }
      this.renewed.pop();
    }
    for (const [lt, msgs] of expired) this.expire(lt, msgs);
    next = Math.min(next, this.renewed.peek()?.at ?? Infinity);
    if (next !== Infinity) this.alarm.arm(next);
  }
}
