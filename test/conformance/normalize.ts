/**
 * The neutral form of an answer, the same for the four encodings: numbers
 * as numbers, the scenario's namespace as `$ns`, message ids as `$m1`,
 * `$m2`... in the order they were first seen, peek cursors as `$c1`...,
 * timestamps and rates left out (they are clocks, not outcomes).
 *
 * Shapes (one per operation):
 * - create/delete namespace and topic, rebalance: `{ message }` (e.g. "topic created"); ack, renew_lease: `{}`
 * - list_namespaces: `{ namespaces }` (only the scenario's, `$ns`-prefixed)
 * - list_topics: `{ topics: [{ name, queue_count, version, policy, paused }] }`
 * - resize_topic: `{ new_queue_count, version, draining }`
 * - publish: `{ message_id, queue_id, duplicate }`
 * - publish_batch: `{ results: [{ ok: true, message_id, queue_id, duplicate } | { ok: false, error_code }] }`
 * - consume, consume_dlq: `{ messages: [Message] }`; peek: `{ messages: [Message + payload_size], next_cursor }`
 * - nack: `{ requeued, delayed, dead_lettered }`; redrive_dlq: `{ moved }`
 * - set_topic_policy: `{ policy }`; get_topic_stats: the stats without rates and ages
 * - pause_topic, resume_topic: `{ paused }`; purge: `{ purged }`
 */
import type { Args, Encoding, Op } from './wire.js';
import { bytesAsShown } from './wire.js';

/** Per scenario run: the real names and ids behind the placeholders. */
export class Names {
  private readonly ids = new Map<string, string>();
  private readonly real = new Map<string, string>();
  private cursors = 0;

  constructor(readonly ns: string) {}

  /** The placeholder of a message id or cursor seen in an answer. */
  private placeholder(value: string, prefix: '$m' | '$c'): string {
    const known = this.ids.get(value);
    if (known) return known;
    const p = prefix === '$m' ? `$m${[...this.ids.values()].filter((x) => x.startsWith('$m')).length + 1}` : `$c${++this.cursors}`;
    this.ids.set(value, p);
    this.real.set(p, value);
    return p;
  }

  id(value: unknown): string {
    return this.placeholder(String(value), '$m');
  }

  cursor(value: unknown): string | null {
    return value === null || value === undefined || value === '' ? null : this.placeholder(String(value), '$c');
  }

  /** Args with `$ns` and the placeholders replaced by the real values, deep. */
  resolve<T>(v: T): T {
    if (typeof v === 'string') {
      const r = this.real.get(v);
      if (r !== undefined) return r as T;
      return v.replaceAll('$ns', this.ns) as T;
    }
    if (Array.isArray(v)) return v.map((x) => this.resolve(x)) as T;
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.resolve(x)])) as T;
    return v;
  }

  /** An error message with the real namespace and ids put back as placeholders. */
  text(message: string): string {
    let out = message.replaceAll(this.ns, '$ns');
    for (const [realValue, p] of this.ids) out = out.replaceAll(realValue, p);
    return out;
  }
}

const num = (v: unknown): number => (typeof v === 'string' ? Number(v) : (v as number));

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function policy(v: unknown): Args {
  const p = obj(v);
  return {
    max_retries: num(p.max_retries),
    retry_base_ms: num(p.retry_base_ms),
    retry_cap_ms: num(p.retry_cap_ms),
    dedup_window_ms: num(p.dedup_window_ms),
    ack_timeout_ms: num(p.ack_timeout_ms),
    message_ttl_ms: num(p.message_ttl_ms),
    dead_letter_expired: p.dead_letter_expired,
  };
}

/** A JSON front shows a non-JSON payload as base64 with `payload_encoding` beside it. */
function payload(m: Record<string, unknown>, enc: Encoding): unknown {
  if (enc === 'tcp-json' || enc === 'http') {
    if (m.payload_encoding === 'base64') return bytesAsShown(Buffer.from(String(m.payload), 'base64'));
    return m.payload;
  }
  return m.payload;
}

function message(v: unknown, enc: Encoding, names: Names): Args {
  const m = obj(v);
  const out: Args = {
    id: names.id(m.id),
    namespace: names.text(String(m.namespace)),
    topic: m.topic,
    queue_id: num(m.queue_id),
    payload: payload(m, enc),
    headers: obj(m.headers),
    delivery_count: num(m.delivery_count),
  };
  if (m.payload_size !== undefined) out.payload_size = num(m.payload_size);
  return out;
}

function messages(list: unknown, enc: Encoding, names: Names): Args[] {
  return (Array.isArray(list) ? list : []).map((m) => message(m, enc, names));
}

const json = (enc: Encoding): boolean => enc === 'tcp-json' || enc === 'http';

/** A plain "done" answer: `{}`, or what it carries if a protobuf `success` is not true. */
function done(data: unknown): Args {
  const d = obj(data);
  return d.success === false ? { success: false } : {};
}

export function normalize(op: Op, enc: Encoding, data: unknown, names: Names): unknown {
  const d = obj(data);
  switch (op) {
    case 'create_namespace':
    case 'delete_namespace':
    case 'create_topic':
    case 'delete_topic':
    case 'rebalance_topic':
      // JSON: the message is the reply's data (TCP) or envelope message (HTTP); protobuf: `message` beside `success`.
      return json(enc) ? { message: data } : { ...done(data), message: d.message };
    case 'ack':
    case 'renew_lease':
      // protobuf has only `success`: the JSON fronts' message text is not compared.
      return json(enc) ? {} : done(data);
    case 'list_namespaces': {
      const list = (json(enc) ? data : d.namespaces) as string[];
      return { namespaces: list.filter((n) => n === names.ns || n.startsWith(`${names.ns}-`)).map((n) => names.text(n)).sort() };
    }
    case 'list_topics': {
      const list = (json(enc) ? data : d.topics) as unknown[];
      return {
        topics: list
          .map((t) => {
            const x = obj(t);
            return { name: x.name, queue_count: num(x.queue_count), version: num(x.version), policy: policy(x.policy), paused: x.paused === true };
          })
          .sort((a, b) => String(a.name).localeCompare(String(b.name))),
      };
    }
    case 'resize_topic':
      return { new_queue_count: num(d.new_queue_count), version: num(d.version), draining: d.draining };
    case 'publish':
      return { message_id: names.id(d.message_id), queue_id: num(d.queue_id), duplicate: d.duplicate === true };
    case 'publish_batch': {
      const list = (enc === 'http' ? data : d.results) as unknown[];
      return {
        results: list.map((r) => {
          const x = obj(r);
          return x.ok === true
            ? { ok: true, message_id: names.id(x.message_id), queue_id: num(x.queue_id), duplicate: x.duplicate === true }
            : { ok: false, error_code: x.error_code };
        }),
      };
    }
    case 'consume':
    case 'consume_dlq':
    case 'subscribe':
      return { messages: messages(json(enc) ? data : d.messages, enc, names) };
    case 'peek':
      return {
        messages: (Array.isArray(d.messages) ? d.messages : []).map((p) => {
          // protobuf: PeekedMessage{message, payload_size}; JSON: the Message with payload_size beside its fields
          const x = obj(p);
          return json(enc) ? message(x, enc, names) : message({ ...obj(x.message), payload_size: x.payload_size }, enc, names);
        }),
        next_cursor: names.cursor(d.next_cursor),
      };
    case 'nack':
      return { requeued: num(d.requeued), delayed: num(d.delayed), dead_lettered: num(d.dead_lettered) };
    case 'redrive_dlq':
      return { moved: num(d.moved) };
    case 'pause_topic':
    case 'resume_topic':
      return { paused: d.paused === true };
    case 'purge':
      return { purged: num(d.purged ?? 0) };
    case 'set_topic_policy':
      return { policy: policy(json(enc) ? data : d.policy) };
    case 'get_topic_stats': {
      const s = json(enc) ? d : obj(d.stats);
      return {
        namespace: names.text(String(s.namespace)),
        topic: s.topic,
        queue_count: num(s.queue_count),
        version: num(s.version),
        draining: s.draining,
        pending: num(s.pending),
        in_flight: num(s.in_flight),
        delayed: num(s.delayed),
        dlq_depth: num(s.dlq_depth),
        published: num(s.published),
        acked: num(s.acked),
        redelivered: num(s.redelivered),
        dead_lettered: num(s.dead_lettered),
        expired: num(s.expired),
        policy: policy(s.policy),
        paused: s.paused === true,
        purged: num(s.purged ?? 0),
        queues: (Array.isArray(s.queues) ? s.queues : []).map((q) => {
          const x = obj(q);
          return {
            queue_id: num(x.queue_id),
            pending: num(x.pending),
            in_flight: num(x.in_flight),
            delayed: num(x.delayed),
            published: num(x.published),
            acked: num(x.acked),
            redelivered: num(x.redelivered),
            dead_lettered: num(x.dead_lettered),
            expired: num(x.expired),
          };
        }),
      };
    }
  }
}
