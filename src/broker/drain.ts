/**
 * The drain of a shrinking resize (docs/DESIGN.md, "Resize"): the tail
 * queues take no publishes, their consumers and the active queues' (by
 * stealing) empty them, and the drain ends when they are empty or when
 * drain_timeout passes, whichever first. Its end is a `resizeFinal`
 * record: what is left moves to the active queues, the removed queues'
 * subscribers are told and ended, the others get the new version.
 */
import type { Logger } from 'pino';
import type { Commit } from './commit.js';
import type { Dispatcher } from './delivery.js';
import { notFound } from './errors.js';
import type { LiveTopic } from './live.js';
import type { Namespaces } from './namespaces.js';

export class Drains {
  constructor(
    private readonly drainTimeoutMs: number,
    private readonly commit: Commit,
    private readonly dispatcher: Dispatcher,
    private readonly namespaces: Namespaces,
    private readonly log: Logger,
  ) {}

  /** A drain starts (a resize down, or recovery found one under way): its timer, and stealing from it. */
  start(lt: LiveTopic): void {
    if (lt.drainTimer) clearTimeout(lt.drainTimer);
    lt.drainTimer = setTimeout(() => this.finish(lt), this.drainTimeoutMs);
    lt.drainTimer.unref();
    // Consumers of the active queues may now steal from the draining ones.
    this.dispatcher.wakeStarving(lt);
  }

  /** Ends the drain if every draining queue is empty; returns whether it ended. */
  finishIfEmpty(lt: LiveTopic): boolean {
    const t = lt.topic;
    if (!t.draining) return false;
    for (let i = t.activeCount; i < t.queues.length; i++) if (t.queues[i]!.pending.length > 0) return false;
    this.finish(lt);
    return true;
  }

  /** A topic is gone: its timer with it. */
  forget(lt: LiveTopic): void {
    if (lt.drainTimer) clearTimeout(lt.drainTimer);
    lt.drainTimer = undefined;
  }

  close(): void {
    for (const lt of this.namespaces.topics()) this.forget(lt);
  }

  private finish(lt: LiveTopic): void {
    const t = lt.topic;
    if (t.deleted || !t.draining || this.commit.closing) return;
    this.forget(lt);
    this.commit.resizeFinal(t);
    const removed = lt.syncLanes();
    this.log.info({ namespace: t.namespace, topic: t.name, queues: t.activeCount, version: String(t.version) }, 'topic resize finished');
    const notice = { namespace: t.namespace, topic: t.name, version: t.version, queueCount: t.activeCount };
    for (const lane of removed) {
      for (const sub of lane.subscribers) sub.handler.notice(notice);
      this.dispatcher.endSubscribers(lane, notFound(`queue ${lane.queue.id} of topic '${t.namespace}/${t.name}': removed by a resize to ${t.activeCount} queues`));
    }
    this.dispatcher.notifyResize(lt);
    for (const lane of lt.lanes) if (lane.queue.pending.length > 0) this.dispatcher.schedule(lane);
  }
}
