/**
 * Nack, retries and dead letters (docs/DESIGN.md, "Nack, retries and dead
 * letters"): a nacked message goes back after a delay, the one given or
 * else the topic's exponential backoff with jitter, decided now and logged
 * as an absolute time. One past the policy's `maxRetries` goes to the
 * dead-letter queue instead (reason `nacked`), as does one nacked with
 * `deadLetter` (reason `rejected`: the consumer says a retry cannot help);
 * one consumed from the dead-letter queue goes back to its head.
 */
import type { Commit } from './commit.js';
import type { Dispatcher } from './delivery.js';
import type { Held } from './held.js';
import type { LiveTopic } from './live.js';
import { DLQ_QUEUE_ID } from './message.js';
import type { TopicPolicy } from './topic.js';
import type { NackResult } from './types.js';

export class Retries {
  constructor(
    private readonly commit: Commit,
    private readonly dispatcher: Dispatcher,
    private readonly held: Held,
  ) {}

  /** Nacks the in-flight messages among `ids` (others are ignored, as for ack). */
  nack(lt: LiveTopic, ids: readonly string[], delayMs: number | undefined, deadLetter: boolean): NackResult {
    const t = lt.topic;
    const now = Date.now();
    const { maxRetries } = t.policy.retry;
    const requeue: string[] = [];
    const retry: string[] = [];
    const retryAt: number[] = [];
    const dead: string[] = [];
    const seen = ids.length > 1 ? new Set<string>() : undefined;
    for (const id of ids) {
      const m = t.inflight.get(id);
      if (m === undefined || seen?.has(id)) continue;
      seen?.add(id);
      if (m.queueId === DLQ_QUEUE_ID) {
        requeue.push(id);
      } else if (deadLetter || (maxRetries >= 0 && m.deliveryCount > maxRetries)) {
        dead.push(id);
      } else {
        const delay = delayMs ?? backoff(t.policy, m.deliveryCount);
        if (delay <= 0) {
          requeue.push(id);
        } else {
          retry.push(id);
          retryAt.push(now + delay);
        }
      }
    }
    if (requeue.length > 0) this.dispatcher.requeue(lt, requeue);
    if (retry.length > 0) {
      const entries = this.commit.nack(t, retry, retryAt);
      for (const e of entries) this.dispatcher.release(e.msg);
      this.held.holdAll(entries);
    }
    if (dead.length > 0) this.dispatcher.deadLetter(lt, deadLetter ? 'rejected' : 'nacked', dead);
    return { requeued: requeue.length, delayed: retry.length, deadLettered: dead.length };
  }
}

/**
 * The retry delay after delivery number `deliveryCount`: base * 2^(n-1),
 * capped, with "equal jitter" (a uniform draw in [d/2, d]) so that
 * consumers failing together do not retry together.
 */
function backoff(policy: TopicPolicy, deliveryCount: number): number {
  const { baseMs, capMs } = policy.retry;
  const d = Math.min(capMs, baseMs * 2 ** Math.max(0, deliveryCount - 1));
  return Math.round(d / 2 + Math.random() * (d / 2));
}
