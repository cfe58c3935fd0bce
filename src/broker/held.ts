/**
 * Held messages: delayed publishes and nacked messages waiting for their
 * retry (docs/DESIGN.md, "Delayed messages", "Nack, retries and dead
 * letters"). Their visible times are absolute, decided when they were
 * held and logged with them; here they wait in one heap for every topic,
 * under one timer for the earliest. When a time comes, a `visible` record
 * makes them pending (one per topic), through the commit path, so replay
 * never reads the clock.
 *
 * Waking the subscribers of the messages made visible is the `woke`
 * callback's (the delivery module's), given at construction so that this
 * module does not import it.
 */
import type { Commit } from './commit.js';
import type { LiveTopic } from './live.js';
import { MessageState, type StoredMessage } from './message.js';
import { MinHeap } from './min-heap.js';
import type { Namespaces } from './namespaces.js';
import type { HeldEntry } from './topic.js';
import { Alarm } from './alarm.js';

const heldFirst = (a: HeldEntry, b: HeldEntry): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

export class Held {
  private readonly heap = new MinHeap<HeldEntry>(heldFirst);
  private seq = 0;
  private readonly alarm = new Alarm(Date.now, () => this.releaseDue(Date.now()));

  constructor(
    private readonly namespaces: Namespaces,
    private readonly commit: Commit,
    private readonly woke: (lt: LiveTopic, msgs: readonly StoredMessage[]) => void,
  ) {}

  /** Entries a commit held (delayed publish, nack, replay): into the heap, timer re-armed. */
  holdAll(entries: readonly HeldEntry[]): void {
    let first = Infinity;
    for (const e of entries) {
      e.seq = this.seq++;
      this.heap.push(e);
      if (e.at < first) first = e.at;
    }
    if (first !== Infinity) this.alarm.arm(first);
  }

  /** Makes every held message due at `now` visible, one `visible` record per topic, then re-arms the timer. */
  releaseDue(now: number): void {
    const due = new Map<LiveTopic, string[]>();
    while (this.heap.size > 0) {
      const e = this.heap.peek()!;
      if (e.at > now) break;
      this.heap.pop();
      const lt = this.namespaces.find(e.msg.namespace, e.msg.topic);
      if (!lt || lt.topic.held.get(e.msg.id) !== e) continue;
      let ids = due.get(lt);
      if (!ids) due.set(lt, (ids = []));
      ids.push(e.msg.id);
    }
    for (const [lt, ids] of due) this.woke(lt, this.commit.visible(lt.topic, ids));
    const next = this.heap.peek();
    if (next !== undefined) this.alarm.arm(next.at);
  }

  /** Frees the entries of deleted topics now rather than when their time comes. */
  forgetGone(): void {
    this.heap.retain((e) => e.msg.state !== MessageState.Gone);
  }

  close(): void {
    this.alarm.close();
  }
}
