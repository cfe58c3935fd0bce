/**
 * Ack deadlines and leases (docs/DESIGN.md, "Consume", "Leases"): a popped
 * message not acked within ack_timeout, or within the lease a renew gave
 * it, goes back (or to the dead-letter queue, by the topic's policy).
 * Deadlines are not logged: recovery makes in-flight messages pending
 * again, as an expired lease would.
 *
 * ack_timeout is one value for the broker, so deadlines are pushed in
 * increasing order and a FIFO with one timer is the whole timer structure.
 * Renewed deadlines are arbitrary, so they go to a heap beside it. An
 * entry is stale when its message left flight, or went back in flight
 * with another deadline; stale entries are skipped when reached.
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

export class Leases {
  private readonly fifoMsgs = new Deque<StoredMessage>();
  private readonly fifoAt = new Deque<number>();
  private readonly renewed = new MinHeap<Lease>(leaseFirst);
  private readonly alarm = new Alarm(performance.now.bind(performance), () => this.expireDue());

  constructor(
    readonly ackTimeoutMs: number,
    private readonly namespaces: Namespaces,
    /** Messages in flight in every topic: the FIFO is compacted when it holds over twice that. */
    private readonly totals: Totals,
    private readonly expire: (lt: LiveTopic, msgs: StoredMessage[]) => void,
  ) {}

  /** Popped messages go in flight: ack deadlines, the holder's count. */
  track(msgs: StoredMessage[], holder: Subscriber | undefined): void {
    const deadline = performance.now() + this.ackTimeoutMs;
    for (const m of msgs) {
      m.deadline = deadline;
      m.holder = holder;
      this.fifoMsgs.pushBack(m);
      this.fifoAt.pushBack(deadline);
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
    const n = this.fifoMsgs.length;
    if (n < 1024 || n <= 2 * inflight) return;
    for (let i = 0; i < n; i++) {
      const m = this.fifoMsgs.popFront()!;
      const at = this.fifoAt.popFront()!;
      if (m.state === MessageState.InFlight && m.deadline === at) {
        this.fifoMsgs.pushBack(m);
        this.fifoAt.pushBack(at);
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
    while (this.fifoMsgs.length > 0) {
      const m = this.fifoMsgs.peekFront()!;
      const at = this.fifoAt.peekFront()!;
      if (m.state === MessageState.InFlight && m.deadline === at) {
        if (at > now) break;
        collect(m);
      }
      this.fifoMsgs.popFront();
      this.fifoAt.popFront();
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
    const next = Math.min(this.fifoAt.peekFront() ?? Infinity, this.renewed.peek()?.at ?? Infinity);
    if (next !== Infinity) this.alarm.arm(next);
  }
}
