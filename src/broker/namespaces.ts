/**
 * The namespaces and their topics, by name (docs/DESIGN.md, "Shape"):
 * where every call, timer and replayed record finds its topic. Only the
 * commit path (commit.ts) and replay (replay.ts) add or remove entries.
 */
import { notFound } from './errors.js';
import type { LiveTopic } from './live.js';

export class Namespaces {
  readonly byName = new Map<string, Map<string, LiveTopic>>();

  get size(): number {
    return this.byName.size;
  }

  has(ns: string): boolean {
    return this.byName.has(ns);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The topics of `ns`, or NOT_FOUND. */
  namespace(ns: string): Map<string, LiveTopic> {
    const topics = this.byName.get(ns);
    if (!topics) throw notFound(`namespace '${ns}'`);
    return topics;
  }

  /** Topic `name` of `ns`, or NOT_FOUND. */
  topic(ns: string, name: string): LiveTopic {
    const t = this.namespace(ns).get(name);
    if (!t) throw notFound(`topic '${name}' in namespace '${ns}'`);
    return t;
  }

  /** The topic a message belongs to, if it still exists (timers: the topic may be gone since). */
  find(ns: string, name: string): LiveTopic | undefined {
    return this.byName.get(ns)?.get(name);
  }

  *topics(): IterableIterator<LiveTopic> {
    for (const topics of this.byName.values()) yield* topics.values();
  }
}
