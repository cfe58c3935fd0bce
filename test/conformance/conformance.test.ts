/**
 * Conformance: one table of scenarios, each played over TCP JSON, TCP
 * protobuf, HTTP and gRPC against one broker, and every encoding must give
 * the outcome written beside the scenario. The expected answers are those
 * of `proto/mqlite/v1/mqlite.proto` and its edge-value rule
 * (src/server/tcp/README.md, "Queue features", "Unset and zero values"): a JSON
 * field means what the proto documents for it, `null` is absent, a proto3
 * `optional` field absent is unset and 0 is a real 0. Where the docs are
 * silent, a comment beside the scenario says what was chosen.
 *
 * protobuf cannot say "absent" for a non-optional scalar: there, absent and
 * 0 are one message, so a scenario that leaves such a field out expects what
 * 0 means (noted as "pb: = 0").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, NS_LENGTH, type Outcome, type Scenario, fail, ok, okLike, play, sleep, step } from './scenario.js';
import { ENCODINGS, type Fronts, type Op, startFronts } from './wire.js';

let fronts: Fronts;
beforeAll(async () => {
  fronts = await startFronts();
});
afterAll(async () => {
  await fronts?.stop();
});

/** Each scenario's outcomes per encoding, filled by its four cases and compared after them. */
const transcripts = new Map<string, Outcome[]>();

/** For the scenarios only JSON can say (a fraction, a string for a number): protobuf has no such value. */
const JSON_ONLY = { 'tcp-protobuf': 'protobuf cannot carry this value', grpc: 'protobuf cannot carry this value' } as const;

/** Message ids that were never issued. */
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const publish = (payload: unknown, extra: Record<string, unknown> = {}) => step('publish', { payload, ...extra });
const stats = (match: Record<string, unknown>) => step('get_topic_stats', {}, okLike(match));

const msg = (id: string, payload: unknown, over: Record<string, unknown> = {}) => ({
  id,
  namespace: '$ns',
  topic: 't',
  queue_id: 0,
  payload,
  headers: {},
  delivery_count: 1,
  ...over,
});

const TABLE: Record<string, Scenario[]> = {
  create_namespace: [
    {
      name: 'a valid name is created and listed',
      steps: [step('create_namespace', { name: '$ns-a' }, ok({ message: 'namespace created' })), step('list_namespaces', {}, ok({ namespaces: ['$ns', '$ns-a'] }))],
    },
    {
      name: 'an existing name is ALREADY_EXISTS',
      steps: [step('create_namespace', {}, fail('ALREADY_EXISTS'))],
    },
    {
      name: 'a name with a space is INVALID_ARGUMENT and nothing is created',
      steps: [step('create_namespace', { name: '$ns-a b' }, fail('INVALID_ARGUMENT')), step('list_namespaces', {}, ok({ namespaces: ['$ns'] }))],
    },
    {
      name: 'an empty name is INVALID_ARGUMENT',
      steps: [step('create_namespace', { name: '' }, fail('INVALID_ARGUMENT')), step('list_namespaces', {}, ok({ namespaces: ['$ns'] }))],
    },
    {
      name: 'name absent is INVALID_ARGUMENT (pb: = empty)',
      steps: [step('create_namespace', { name: undefined }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'a deleted name can be created again, empty',
      topic: 1,
      steps: [publish(1), step('delete_namespace'), step('create_namespace', {}, ok({ message: 'namespace created' })), step('list_topics', {}, ok({ topics: [] }))],
    },
    {
      name: 'a name of 128 characters is accepted, 129 is INVALID_ARGUMENT',
      steps: [
        step('create_namespace', { name: `$ns-${'x'.repeat(128 - NS_LENGTH - 1)}` }, ok({ message: 'namespace created' })),
        step('create_namespace', { name: `$ns-${'y'.repeat(129 - NS_LENGTH - 1)}` }, fail('INVALID_ARGUMENT')),
        step('list_namespaces', {}, ok({ namespaces: ['$ns', `$ns-${'x'.repeat(128 - NS_LENGTH - 1)}`] })),
      ],
    },
  ],

  list_namespaces: [
    {
      name: 'lists the namespaces created, not the deleted ones',
      steps: [
        step('create_namespace', { name: '$ns-b' }),
        step('create_namespace', { name: '$ns-a' }),
        step('delete_namespace', { name: '$ns-b' }),
        step('list_namespaces', {}, ok({ namespaces: ['$ns', '$ns-a'] })),
      ],
    },
  ],

  delete_namespace: [
    {
      name: 'an existing namespace is deleted',
      steps: [step('delete_namespace', {}, ok({ message: 'namespace deleted' })), step('list_topics', {}, fail('NOT_FOUND'))],
    },
    {
      name: 'a namespace with a topic and messages is deleted with them',
      topic: 1,
      steps: [publish(1), step('delete_namespace', {}, ok({ message: 'namespace deleted' })), step('get_topic_stats', {}, fail('NOT_FOUND'))],
    },
    {
      name: 'an unknown namespace is NOT_FOUND',
      steps: [step('delete_namespace', { name: '$ns-missing' }, fail('NOT_FOUND'))],
    },
    {
      name: 'a name that cannot exist is NOT_FOUND',
      // As for every lookup (see create_topic).
      steps: [step('delete_namespace', { name: '$ns bad' }, fail('NOT_FOUND'))],
    },
    {
      name: 'a second delete is NOT_FOUND',
      steps: [step('delete_namespace', {}, ok({ message: 'namespace deleted' })), step('delete_namespace', {}, fail('NOT_FOUND'))],
    },
  ],

  create_topic: [
    {
      name: 'queue_count 1 is created with version 0 and the default policy',
      steps: [
        step('create_topic', { name: 'a', queue_count: 1 }, ok({ message: 'topic created' })),
        step('list_topics', {}, ok({ topics: [{ name: 'a', queue_count: 1, version: 0, policy: DEFAULT_POLICY, paused: false }] })),
      ],
    },
    {
      name: 'queue_count at limits.max_queues_per_topic (8) is created',
      steps: [step('create_topic', { name: 'a', queue_count: 8 }, ok({ message: 'topic created' }))],
    },
    {
      name: 'queue_count past limits.max_queues_per_topic (9) is INVALID_ARGUMENT and nothing is created',
      steps: [step('create_topic', { name: 'a', queue_count: 9 }, fail('INVALID_ARGUMENT')), step('list_topics', {}, ok({ topics: [] }))],
    },
    {
      name: 'queue_count 0 is INVALID_ARGUMENT',
      // docs/PROTOCOL.md, "gRPC": queue_count < 1 is INVALID_ARGUMENT.
      steps: [step('create_topic', { name: 'a', queue_count: 0 }, fail('INVALID_ARGUMENT')), step('list_topics', {}, ok({ topics: [] }))],
    },
    {
      name: 'queue_count absent is INVALID_ARGUMENT (pb: = 0)',
      // There is no default queue count in the contract: a topic without one is refused.
      steps: [step('create_topic', { name: 'a' }, fail('INVALID_ARGUMENT')), step('list_topics', {}, ok({ topics: [] }))],
    },
    {
      name: 'queue_count null (JSON) is absent: INVALID_ARGUMENT',
      steps: [step('create_topic', { name: 'a', queue_count: null }, fail('INVALID_ARGUMENT')), step('list_topics', {}, ok({ topics: [] }))],
    },
    {
      name: 'a fractional queue_count is INVALID_ARGUMENT (JSON only)',
      cannotExpress: JSON_ONLY,
      steps: [step('create_topic', { name: 'a', queue_count: 1.5 }, fail('INVALID_ARGUMENT')), step('list_topics', {}, ok({ topics: [] }))],
    },
    {
      name: 'queue_count -1 is INVALID_ARGUMENT',
      steps: [step('create_topic', { name: 'a', queue_count: -1 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'an existing topic is ALREADY_EXISTS',
      topic: 1,
      steps: [step('create_topic', { queue_count: 2 }, fail('ALREADY_EXISTS')), step('list_topics', {}, okLike({ topics: [{ queue_count: 1 }] }))],
    },
    {
      name: 'in an unknown namespace is NOT_FOUND',
      steps: [step('create_topic', { namespace: '$ns-missing', queue_count: 1 }, fail('NOT_FOUND'))],
    },
    {
      name: 'a topic name of 128 characters of [A-Za-z0-9._-] is accepted, 129 is INVALID_ARGUMENT',
      steps: [
        step('create_topic', { name: `a.b_c-${'x'.repeat(122)}`, queue_count: 1 }, ok({ message: 'topic created' })),
        step('create_topic', { name: 'y'.repeat(129), queue_count: 1 }, fail('INVALID_ARGUMENT')),
        step('list_topics', {}, okLike({ topics: [{ name: `a.b_c-${'x'.repeat(122)}` }] })),
      ],
    },
    {
      name: 'an empty topic name is INVALID_ARGUMENT',
      steps: [step('create_topic', { name: '', queue_count: 1 }, fail('INVALID_ARGUMENT')), step('list_topics', {}, ok({ topics: [] }))],
    },
    {
      name: 'in a namespace whose name is invalid is NOT_FOUND',
      // Names are judged where they are created (docs/PROTOCOL.md, "Data model"); a lookup of a name that
      // cannot exist answers what is true of it, with the name in the reason.
      steps: [step('create_topic', { namespace: '$ns bad', queue_count: 1 }, fail('NOT_FOUND', "namespace '$ns bad' not found"))],
    },
    {
      name: 'an invalid topic name is INVALID_ARGUMENT',
      steps: [step('create_topic', { name: 'a/b', queue_count: 1 }, fail('INVALID_ARGUMENT')), step('list_topics', {}, ok({ topics: [] }))],
    },
  ],

  delete_topic: [
    {
      name: 'an existing topic is deleted',
      topic: 2,
      steps: [publish(1), step('delete_topic', {}, ok({ message: 'topic deleted' })), step('list_topics', {}, ok({ topics: [] })), step('get_topic_stats', {}, fail('NOT_FOUND'))],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('delete_topic', { name: 'missing' }, fail('NOT_FOUND'))],
    },
    {
      name: 'in an unknown namespace is NOT_FOUND',
      steps: [step('delete_topic', { namespace: '$ns-missing' }, fail('NOT_FOUND'))],
    },
    {
      name: 'a deleted topic can be created again, empty and at version 0',
      topic: 2,
      steps: [
        publish(1),
        step('resize_topic', { new_queue_count: 3 }),
        step('delete_topic'),
        step('create_topic', { queue_count: 1 }, ok({ message: 'topic created' })),
        stats({ queue_count: 1, version: 0, pending: 0, published: 0 }),
      ],
    },
  ],

  list_topics: [
    {
      name: 'an empty namespace lists no topic',
      steps: [step('list_topics', {}, ok({ topics: [] }))],
    },
    {
      name: 'an unknown namespace is NOT_FOUND',
      steps: [step('list_topics', { namespace: '$ns-missing' }, fail('NOT_FOUND'))],
    },
  ],

  resize_topic: [
    {
      name: 'grow 2 -> 4: version 1, not draining',
      topic: 2,
      steps: [
        step('resize_topic', { new_queue_count: 4 }, ok({ new_queue_count: 4, version: 1, draining: false })),
        stats({ queue_count: 4, version: 1, draining: false }),
      ],
    },
    {
      name: 'the same count is a no-op: version unchanged',
      topic: 2,
      // The docs do not say; a resize to the current count changes nothing, so the version does not move.
      steps: [step('resize_topic', { new_queue_count: 2 }, ok({ new_queue_count: 2, version: 0, draining: false })), stats({ queue_count: 2, version: 0 })],
    },
    {
      name: 'shrink 2 -> 1 with empty queues completes at once',
      topic: 2,
      steps: [step('resize_topic', { new_queue_count: 1 }, ok({ new_queue_count: 1, version: 1, draining: false })), stats({ queue_count: 1, version: 1 })],
    },
    {
      name: 'shrink 2 -> 1 with a pending message on queue 1 drains',
      topic: 2,
      steps: [
        publish(1, { queue_id: 1 }),
        step('resize_topic', { new_queue_count: 1 }, okLike({ new_queue_count: 1, draining: true })),
        stats({ draining: true, pending: 1 }),
      ],
    },
    {
      name: 'a draining queue is still consumed; automatic routing skips it',
      topic: 2,
      steps: [
        publish('old', { queue_id: 1 }),
        step('resize_topic', { new_queue_count: 1 }, okLike({ draining: true })),
        publish('new1'),
        publish('new2'),
        stats({ queues: [{ queue_id: 0, pending: 2 }, { queue_id: 1, pending: 1 }] }),
        // (The message is shown with the active queue it now belongs to; the suite does not judge that core choice.)
        step('consume', { queue_id: 1 }, okLike({ messages: [{ id: '$m1', payload: 'old' }] })),
      ],
    },
    {
      name: 'a drain completes once the draining queue is consumed empty and acked',
      topic: 2,
      steps: [
        publish('old', { queue_id: 1 }),
        step('resize_topic', { new_queue_count: 1 }, ok({ new_queue_count: 1, version: 0, draining: true })),
        step('consume', { queue_id: 1, auto_ack: true }),
        stats({ queue_count: 1, version: 1, draining: false }),
        step('list_topics', {}, okLike({ topics: [{ name: 't', queue_count: 1, version: 1 }] })),
      ],
    },
    {
      name: 'new_queue_count 0 is INVALID_ARGUMENT and nothing changes',
      topic: 2,
      steps: [step('resize_topic', { new_queue_count: 0 }, fail('INVALID_ARGUMENT')), stats({ queue_count: 2, version: 0 })],
    },
    {
      name: 'new_queue_count absent is INVALID_ARGUMENT (pb: = 0)',
      topic: 2,
      steps: [step('resize_topic', {}, fail('INVALID_ARGUMENT')), stats({ queue_count: 2, version: 0 })],
    },
    {
      name: 'new_queue_count past limits.max_queues_per_topic is INVALID_ARGUMENT',
      topic: 2,
      steps: [step('resize_topic', { new_queue_count: 9 }, fail('INVALID_ARGUMENT')), stats({ queue_count: 2, version: 0 })],
    },
    {
      name: 'new_queue_count null (JSON) is absent: INVALID_ARGUMENT',
      topic: 2,
      steps: [step('resize_topic', { new_queue_count: null }, fail('INVALID_ARGUMENT')), stats({ queue_count: 2, version: 0 })],
    },
    {
      name: 'new_queue_count -1 is INVALID_ARGUMENT',
      topic: 2,
      steps: [step('resize_topic', { new_queue_count: -1 }, fail('INVALID_ARGUMENT')), stats({ queue_count: 2, version: 0 })],
    },
    {
      name: 'a resize while draining is FAILED_PRECONDITION',
      topic: 2,
      // docs/PROTOCOL.md, "gRPC": FAILED_PRECONDITION is for conflicting state.
      steps: [
        publish(1, { queue_id: 1 }),
        step('resize_topic', { new_queue_count: 1 }, okLike({ draining: true })),
        step('resize_topic', { new_queue_count: 3 }, fail('FAILED_PRECONDITION')),
      ],
    },
    {
      name: 'a grow is listed with its version',
      topic: 1,
      steps: [step('resize_topic', { new_queue_count: 3 }), step('list_topics', {}, okLike({ topics: [{ name: 't', queue_count: 3, version: 1 }] }))],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('resize_topic', { name: 'missing', new_queue_count: 2 }, fail('NOT_FOUND'))],
    },
    {
      name: 'in an unknown namespace is NOT_FOUND',
      steps: [step('resize_topic', { namespace: '$ns-missing', new_queue_count: 2 }, fail('NOT_FOUND'))],
    },
  ],

  rebalance_topic: [
    {
      name: 'a topic at rest is rebalanced: pending messages spread evenly',
      topic: 2,
      steps: [
        publish(1, { queue_id: 0 }),
        publish(2, { queue_id: 0 }),
        step('rebalance_topic', {}, ok({ message: 'topic rebalanced' })),
        stats({ pending: 2, queues: [{ pending: 1 }, { pending: 1 }] }),
      ],
    },
    {
      name: 'in an unknown namespace is NOT_FOUND',
      steps: [step('rebalance_topic', { namespace: '$ns-missing' }, fail('NOT_FOUND'))],
    },
    {
      name: 'while draining is FAILED_PRECONDITION',
      topic: 2,
      // docs/PROTOCOL.md, "gRPC": FAILED_PRECONDITION (e.g. rebalance while draining).
      steps: [publish(1, { queue_id: 1 }), step('resize_topic', { new_queue_count: 1 }), step('rebalance_topic', {}, fail('FAILED_PRECONDITION'))],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('rebalance_topic', { name: 'missing' }, fail('NOT_FOUND'))],
    },
  ],

  publish: [
    {
      name: 'ttl_ms: once it passes the message is never delivered, and is counted as expired',
      topic: 1,
      steps: [
        publish(1, { ttl_ms: 40 }),
        publish(2, { ttl_ms: 60_000 }),
        sleep(100),
        step('consume', { batch_size: 5 }, ok({ messages: [msg('$m2', 2)] })),
        stats({ pending: 0, expired: 1, dead_lettered: 0, dlq_depth: 0, queues: [{ expired: 1 }] }),
      ],
    },
    {
      name: 'ttl_ms: an expired message is dropped when a nacked one comes back past it',
      topic: 1,
      steps: [
        publish(1, { ttl_ms: 60 }),
        step('consume', {}, ok({ messages: [msg('$m1', 1)] })),
        sleep(120),
        step('nack', { message_ids: ['$m1'], delay_ms: 0 }, ok({ requeued: 1, delayed: 0, dead_lettered: 0 })),
        step('consume', {}, ok({ messages: [] })),
        stats({ pending: 0, in_flight: 0, expired: 1 }),
      ],
    },
    {
      name: "the topic's message_ttl_ms wins over a longer ttl_ms",
      topic: 1,
      steps: [
        step('set_topic_policy', { message_ttl_ms: 40 }),
        publish(1, { ttl_ms: 60_000 }),
        publish(2),
        sleep(100),
        step('consume', { batch_size: 5 }, ok({ messages: [] })),
        stats({ pending: 0, expired: 2 }),
      ],
    },
    {
      name: 'with dead_letter_expired an expired message goes to the DLQ with reason expired',
      topic: 1,
      steps: [
        step('set_topic_policy', { message_ttl_ms: 40, dead_letter_expired: true }),
        publish(1),
        sleep(100),
        step('consume', {}, ok({ messages: [] })),
        stats({ pending: 0, expired: 1, dead_lettered: 1, dlq_depth: 1 }),
        step('peek', { dlq: true }, okLike({ messages: [{ id: '$m1', headers: { _dlq_reason: 'expired', _delivery_count: '0' } }] })),
      ],
    },
    {
      name: 'ttl_ms 0 is INVALID_ARGUMENT and nothing is published',
      topic: 1,
      // optional: present 0 is a real 0, which would expire at once; refused rather than dropped unseen.
      steps: [step('publish', { payload: 1, ttl_ms: 0 }, fail('INVALID_ARGUMENT', 'ttl_ms')), stats({ published: 0, pending: 0 })],
    },
    {
      name: 'ttl_ms -1 is INVALID_ARGUMENT and nothing is published',
      topic: 1,
      steps: [step('publish', { payload: 1, ttl_ms: -1 }, fail('INVALID_ARGUMENT', 'ttl_ms')), stats({ published: 0, pending: 0 })],
    },
    {
      name: 'ttl_ms past 365 days is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('publish', { payload: 1, ttl_ms: 31_536_000_001 }, fail('INVALID_ARGUMENT', 'ttl_ms')), stats({ published: 0 })],
    },
    {
      name: 'ttl_ms not longer than delay_ms is INVALID_ARGUMENT (it would expire unseen)',
      topic: 1,
      steps: [step('publish', { payload: 1, delay_ms: 1000, ttl_ms: 1000 }, fail('INVALID_ARGUMENT', 'expire before it is visible')), stats({ published: 0, delayed: 0 })],
    },
    {
      name: 'ttl_ms on an unknown topic is NOT_FOUND',
      steps: [step('publish', { payload: 1, ttl_ms: 1000 }, fail('NOT_FOUND', "topic 't'"))],
    },
    {
      name: 'queue_id absent routes automatically (round-robin from queue 0)',
      topic: 2,
      steps: [
        publish({ n: 1 }, {}),
        publish({ n: 2 }, {}),
        step('get_topic_stats', {}, okLike({ pending: 2, queues: [{ queue_id: 0, pending: 1 }, { queue_id: 1, pending: 1 }] })),
      ],
    },
    {
      name: 'queue_id -1 routes automatically',
      topic: 2,
      steps: [publish(1, { queue_id: -1 }), publish(2, { queue_id: -1 }), stats({ queues: [{ pending: 1 }, { pending: 1 }] })],
    },
    {
      name: 'queue_id null (JSON) is absent: automatic routing',
      topic: 2,
      steps: [publish(1, { queue_id: null }), publish(2, { queue_id: null }), stats({ queues: [{ pending: 1 }, { pending: 1 }] })],
    },
    {
      name: 'every optional field null (JSON) is absent',
      topic: 2,
      steps: [
        step(
          'publish',
          { payload: 1, headers: null, routing_key: null, queue_id: null, dedup_id: null, delay_ms: null, deliver_at_ms: null, ttl_ms: null },
          ok({ message_id: '$m1', queue_id: 0, duplicate: false }),
        ),
        step('publish', { payload: 2, dedup_id: null }, ok({ message_id: '$m2', queue_id: 1, duplicate: false })),
        stats({ pending: 2, delayed: 0 }),
      ],
    },
    {
      name: 'a fractional queue_id is INVALID_ARGUMENT (JSON only)',
      topic: 2,
      cannotExpress: JSON_ONLY,
      steps: [step('publish', { payload: 1, queue_id: 0.5 }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'a fractional delay_ms is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [step('publish', { payload: 1, delay_ms: 1.5 }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'queue_id 2^31, past the proto\'s int32, is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      // JSON follows the proto's field types: a number no int32 can hold is malformed, not a queue to look up.
      cannotExpress: JSON_ONLY,
      steps: [step('publish', { payload: 1, queue_id: 2 ** 31 }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'queue_id 1e20 is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [step('publish', { payload: 1, queue_id: 1e20 }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'a string queue_id is INVALID_ARGUMENT (JSON only)',
      topic: 2,
      cannotExpress: JSON_ONLY,
      steps: [step('publish', { payload: 1, queue_id: '1' }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'payload absent is INVALID_ARGUMENT (JSON only: protobuf says empty bytes)',
      topic: 1,
      // docs/PROTOCOL.md, "TCP framing" and "HTTP (REST + SSE)": payload is a JSON value, and it is required.
      cannotExpress: JSON_ONLY,
      steps: [step('publish', {}, fail('INVALID_ARGUMENT', 'payload')), stats({ published: 0 })],
    },
    {
      name: 'a header value that is not a string is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [step('publish', { payload: 1, headers: { n: 1 } }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'queue_id 0 is an explicit queue 0',
      topic: 2,
      steps: [
        step('publish', { payload: 1, queue_id: 0 }, ok({ message_id: '$m1', queue_id: 0, duplicate: false })),
        step('publish', { payload: 2, queue_id: 0 }, ok({ message_id: '$m2', queue_id: 0, duplicate: false })),
        stats({ queues: [{ pending: 2 }, { pending: 0 }] }),
      ],
    },
    {
      name: 'an explicit queue is honoured',
      topic: 2,
      steps: [step('publish', { payload: 1, queue_id: 1 }, ok({ message_id: '$m1', queue_id: 1, duplicate: false }))],
    },
    {
      name: 'an explicit queue out of range is NOT_FOUND and nothing is published',
      topic: 2,
      steps: [step('publish', { payload: 1, queue_id: 2 }, fail('NOT_FOUND', 'queue 2')), stats({ published: 0, pending: 0 })],
    },
    {
      name: 'queue_id -2 is NOT_FOUND and nothing is published',
      topic: 2,
      // -1 is the only negative the proto gives a meaning to; any other id that names no queue is
      // NOT_FOUND, past the end or below 0 alike (every front answers so today; the docs do not say).
      steps: [step('publish', { payload: 1, queue_id: -2 }, fail('NOT_FOUND', 'queue -2')), stats({ published: 0, pending: 0 })],
    },
    {
      name: 'an explicit queue that is draining is refused and nothing is published',
      topic: 2,
      // docs/DESIGN.md, "Resize": a draining queue takes no new messages. FAILED_PRECONDITION: the queue exists, its state refuses.
      steps: [
        publish(1, { queue_id: 1 }),
        step('resize_topic', { new_queue_count: 1 }, okLike({ draining: true })),
        step('publish', { payload: 2, queue_id: 1 }, fail('FAILED_PRECONDITION')),
        stats({ published: 1, pending: 1 }),
      ],
    },
    {
      name: 'the same routing_key goes to the same queue',
      topic: 4,
      steps: [publish(1, { routing_key: 'customer-9' }), publish(2, { routing_key: 'customer-9' }), step('peek', { queue_id: 3 }, okLike({ messages: [{}, {}] }))],
    },
    {
      name: 'headers are kept; an empty map is no header',
      topic: 1,
      steps: [
        publish('a', { headers: { k: 'v', x: '' } }),
        publish('b', { headers: {} }),
        step('consume', { batch_size: 2 }, ok({ messages: [msg('$m1', 'a', { headers: { k: 'v', x: '' } }), msg('$m2', 'b')] })),
      ],
    },
    {
      name: 'limits.max_headers (4) headers are accepted',
      topic: 1,
      steps: [
        publish(1, { headers: { a: '1', b: '2', c: '3', d: '4' } }),
        step('consume', {}, ok({ messages: [msg('$m1', 1, { headers: { a: '1', b: '2', c: '3', d: '4' } })] })),
      ],
    },
    {
      name: 'more headers than limits.max_headers is INVALID_ARGUMENT and nothing is published',
      topic: 1,
      steps: [step('publish', { payload: 1, headers: { a: '1', b: '2', c: '3', d: '4', e: '5' } }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'to an unknown topic is NOT_FOUND',
      steps: [step('publish', { payload: 1 }, fail('NOT_FOUND'))],
    },
    {
      name: 'to an unknown namespace is NOT_FOUND',
      steps: [step('publish', { namespace: '$ns-missing', payload: 1 }, fail('NOT_FOUND'))],
    },
    {
      name: 'to a topic whose name is invalid is NOT_FOUND',
      // As for create_topic in a namespace whose name is invalid.
      steps: [step('publish', { topic: 'a b', payload: 1 }, fail('NOT_FOUND', "topic 'a b'"))],
    },
    {
      name: 'a dedup repeat after the window is a new message',
      topic: 1,
      steps: [
        step('set_topic_policy', { dedup_window_ms: 40 }),
        step('publish', { payload: 1, dedup_id: 'w' }, ok({ message_id: '$m1', queue_id: 0, duplicate: false })),
        sleep(80),
        step('publish', { payload: 2, dedup_id: 'w' }, ok({ message_id: '$m2', queue_id: 0, duplicate: false })),
        stats({ pending: 2 }),
      ],
    },
    {
      name: 'a repeated dedup_id of a delayed message is still a duplicate',
      topic: 1,
      steps: [
        step('publish', { payload: 1, dedup_id: 'd', delay_ms: 60_000 }, ok({ message_id: '$m1', queue_id: 0, duplicate: false })),
        step('publish', { payload: 2, dedup_id: 'd' }, ok({ message_id: '$m1', queue_id: 0, duplicate: true })),
        stats({ delayed: 1, pending: 0 }),
      ],
    },
    {
      name: 'a repeated dedup_id is answered with the original ids and duplicate, and not enqueued',
      topic: 2,
      steps: [
        step('publish', { payload: 1, dedup_id: 'd1' }, ok({ message_id: '$m1', queue_id: 0, duplicate: false })),
        step('publish', { payload: 2, dedup_id: 'd1' }, ok({ message_id: '$m1', queue_id: 0, duplicate: true })),
        stats({ published: 1, pending: 1 }),
      ],
    },
    {
      name: 'an empty dedup_id is no deduplication',
      topic: 1,
      // proto3: an empty string is unset (the proto's meaning, which JSON follows); refusing it is impossible over protobuf.
      steps: [
        step('publish', { payload: 1, dedup_id: '' }, ok({ message_id: '$m1', queue_id: 0, duplicate: false })),
        step('publish', { payload: 2, dedup_id: '' }, ok({ message_id: '$m2', queue_id: 0, duplicate: false })),
        stats({ pending: 2 }),
      ],
    },
    {
      name: 'delay_ms holds the message, then it is delivered',
      topic: 1,
      steps: [
        // a second of delay: the two steps after the publish must run before it passes, on a loaded machine too
        publish(1, { delay_ms: 1000 }),
        stats({ delayed: 1, pending: 0 }),
        step('consume', {}, ok({ messages: [] })),
        sleep(1100),
        step('consume', {}, ok({ messages: [msg('$m1', 1)] })),
      ],
    },
    {
      name: 'delay_ms 0 is visible at once',
      topic: 1,
      steps: [publish(1, { delay_ms: 0 }), stats({ delayed: 0, pending: 1 })],
    },
    {
      name: 'delay_ms -1 is INVALID_ARGUMENT and nothing is published',
      topic: 1,
      steps: [step('publish', { payload: 1, delay_ms: -1 }, fail('INVALID_ARGUMENT')), stats({ published: 0, delayed: 0, pending: 0 })],
    },
    {
      name: 'delay_ms past 30 days is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('publish', { payload: 1, delay_ms: 2_592_000_001 }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'delay_ms and deliver_at_ms together are INVALID_ARGUMENT',
      topic: 1,
      steps: [step('publish', { payload: 1, delay_ms: 10, deliver_at_ms: 1 }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'deliver_at_ms in the past is visible at once',
      topic: 1,
      steps: [publish(1, { deliver_at_ms: 1 }), stats({ delayed: 0, pending: 1 })],
    },
    {
      name: 'deliver_at_ms 0 is a time (the epoch, past): visible at once',
      topic: 1,
      // proto3 optional: present 0 is a real 0, not "unset".
      steps: [publish(1, { deliver_at_ms: 0 }), stats({ delayed: 0, pending: 1 })],
    },
    {
      name: 'deliver_at_ms more than 30 days ahead is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('publish', { payload: 1, deliver_at_ms: Date.now() + 31 * 86_400_000 }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'delay_ms of exactly 30 days is held',
      topic: 1,
      steps: [publish(1, { delay_ms: 2_592_000_000 }), stats({ delayed: 1, pending: 0 })],
    },
    {
      name: 'a delayed message is not peeked',
      topic: 1,
      steps: [publish(1, { delay_ms: 60_000 }), step('peek', {}, ok({ messages: [], next_cursor: null }))],
    },
    {
      name: 'routing_key empty is automatic routing',
      topic: 2,
      steps: [publish(1, { routing_key: '' }), publish(2, { routing_key: '' }), stats({ queues: [{ pending: 1 }, { pending: 1 }] })],
    },
    {
      name: 'queue_id 2^31-1 is NOT_FOUND',
      topic: 1,
      steps: [step('publish', { payload: 1, queue_id: 2147483647 }, fail('NOT_FOUND')), stats({ published: 0 })],
    },
    {
      name: 'a dedup_id of 256 characters is accepted, 257 is INVALID_ARGUMENT',
      topic: 1,
      steps: [
        step('publish', { payload: 1, dedup_id: 'd'.repeat(256) }, ok({ message_id: '$m1', queue_id: 0, duplicate: false })),
        step('publish', { payload: 2, dedup_id: 'e'.repeat(257) }, fail('INVALID_ARGUMENT')),
        stats({ published: 1 }),
      ],
    },
    {
      name: 'the payload is delivered as it was published',
      topic: 1,
      steps: [
        publish({ s: 'ü名', n: [1.5, -2, null], b: true }),
        step('consume', {}, ok({ messages: [msg('$m1', { s: 'ü名', n: [1.5, -2, null], b: true })] })),
      ],
    },
  ],

  consume: [
    {
      name: 'an empty queue gives no message',
      topic: 1,
      steps: [step('consume', {}, ok({ messages: [] }))],
    },
    {
      name: 'queue_id and batch_size absent: queue 0, one message (pb: = 0)',
      topic: 2,
      steps: [publish(1, { queue_id: 0 }), publish(2, { queue_id: 0 }), step('consume', { queue_id: undefined }, ok({ messages: [msg('$m1', 1)] }))],
    },
    {
      name: 'queue_id, batch_size and auto_ack null (JSON) are absent: queue 0, one message, not acked',
      topic: 1,
      steps: [
        publish(1),
        publish(2),
        step('consume', { queue_id: null, batch_size: null, auto_ack: null }, ok({ messages: [msg('$m1', 1)] })),
        stats({ in_flight: 1, acked: 0 }),
      ],
    },
    {
      name: 'a fractional batch_size is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [publish(1), step('consume', { batch_size: 1.5 }, fail('INVALID_ARGUMENT')), stats({ pending: 1 })],
    },
    {
      name: 'queue_id 2^31, past the proto\'s int32, is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      // As for publish.
      cannotExpress: JSON_ONLY,
      steps: [step('consume', { queue_id: 2 ** 31 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'batch_size 1e20 is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [publish(1), step('consume', { batch_size: 1e20 }, fail('INVALID_ARGUMENT')), stats({ pending: 1 })],
    },
    {
      name: 'a string batch_size is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [publish(1), step('consume', { batch_size: '2' }, fail('INVALID_ARGUMENT')), stats({ pending: 1 })],
    },
    {
      name: 'batch_size 2^31-1 is INVALID_ARGUMENT',
      topic: 1,
      steps: [publish(1), step('consume', { batch_size: 2147483647 }, fail('INVALID_ARGUMENT')), stats({ pending: 1 })],
    },
    {
      name: 'batch_size 0 is one message',
      topic: 1,
      // proto3: 0 is unset, and the default is 1 (docs/PROTOCOL.md, "TCP framing").
      steps: [publish(1), publish(2), step('consume', { batch_size: 0 }, ok({ messages: [msg('$m1', 1)] })), stats({ pending: 1, in_flight: 1 })],
    },
    {
      name: 'batch_size 1, and the max (limits.max_batch = 5) takes what there is',
      topic: 1,
      steps: [
        publish(1),
        publish(2),
        step('consume', { batch_size: 1 }, ok({ messages: [msg('$m1', 1)] })),
        step('consume', { batch_size: 5 }, ok({ messages: [msg('$m2', 2)] })),
      ],
    },
    {
      name: 'batch_size max+1 is INVALID_ARGUMENT and nothing is taken',
      topic: 1,
      steps: [publish(1), step('consume', { batch_size: 6 }, fail('INVALID_ARGUMENT')), stats({ pending: 1, in_flight: 0 })],
    },
    {
      name: 'batch_size -1 is INVALID_ARGUMENT',
      topic: 1,
      steps: [publish(1), step('consume', { batch_size: -1 }, fail('INVALID_ARGUMENT')), stats({ pending: 1, in_flight: 0 })],
    },
    {
      name: 'auto_ack true acks at once',
      topic: 1,
      steps: [publish(1), step('consume', { auto_ack: true }, ok({ messages: [msg('$m1', 1)] })), stats({ pending: 0, in_flight: 0, acked: 1 })],
    },
    {
      name: 'a queue out of range is NOT_FOUND and nothing is taken',
      topic: 2,
      steps: [publish(1), step('consume', { queue_id: 2 }, fail('NOT_FOUND', 'queue 2')), stats({ pending: 1, in_flight: 0 })],
    },
    {
      name: 'queue_id -1 (the DLQ) is not a queue to consume from: NOT_FOUND',
      topic: 1,
      // -1 names the DLQ only for ack, nack and renew of what consume_dlq delivered; consume_dlq reads the DLQ.
      steps: [step('consume', { queue_id: -1 }, fail('NOT_FOUND'))],
    },
    {
      name: 'queue_id 2^31-1 is NOT_FOUND',
      topic: 1,
      steps: [step('consume', { queue_id: 2147483647 }, fail('NOT_FOUND'))],
    },
    {
      name: 'an empty queue steals from a sibling (docs/DESIGN.md, "Work stealing")',
      topic: 2,
      steps: [
        publish('a', { queue_id: 0 }),
        publish('b', { queue_id: 0 }),
        publish('c', { queue_id: 0 }),
        publish('d', { queue_id: 0 }),
        step('consume', { queue_id: 1, batch_size: 5 }, okLike({ messages: [{ id: '$m3', queue_id: 1 }, { id: '$m4', queue_id: 1 }] })),
        stats({ queues: [{ pending: 2 }, { pending: 0, in_flight: 2 }] }),
      ],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('consume', {}, fail('NOT_FOUND'))],
    },
  ],

  subscribe: [
    {
      name: 'pending messages are pushed in order; without auto_ack they stay in flight',
      topic: 1,
      steps: [
        publish('a'),
        publish('b'),
        step('subscribe', { take: 2 }, ok({ messages: [msg('$m1', 'a'), msg('$m2', 'b')] })),
        stats({ pending: 0, in_flight: 2, acked: 0 }),
      ],
    },
    {
      name: 'auto_ack true acks what it pushes',
      topic: 1,
      steps: [publish('a'), step('subscribe', { auto_ack: true, take: 1 }, ok({ messages: [msg('$m1', 'a')] })), stats({ pending: 0, in_flight: 0, acked: 1 })],
    },
    {
      name: 'queue_id and auto_ack null (JSON) are absent: queue 0, not acked',
      topic: 2,
      steps: [
        publish('a', { queue_id: 0 }),
        step('subscribe', { queue_id: null, auto_ack: null, take: 1 }, ok({ messages: [msg('$m1', 'a')] })),
        stats({ in_flight: 1, acked: 0 }),
      ],
    },
    {
      name: 'an explicit queue is read',
      topic: 2,
      steps: [publish('a', { queue_id: 0 }), publish('b', { queue_id: 1 }), step('subscribe', { queue_id: 1, take: 1 }, ok({ messages: [msg('$m2', 'b', { queue_id: 1 })] }))],
    },
    {
      name: 'a delayed message is not pushed before its time',
      topic: 1,
      steps: [publish('later', { delay_ms: 60_000 }), publish('now'), step('subscribe', { take: 1 }, ok({ messages: [msg('$m2', 'now')] })), stats({ delayed: 1 })],
    },
    {
      name: 'an empty queue steals from a sibling',
      topic: 2,
      steps: [
        publish('a', { queue_id: 0 }),
        publish('b', { queue_id: 0 }),
        publish('c', { queue_id: 0 }),
        publish('d', { queue_id: 0 }),
        step('subscribe', { queue_id: 1, take: 2 }, okLike({ messages: [{ id: '$m3', queue_id: 1 }, { id: '$m4', queue_id: 1 }] })),
      ],
    },
    {
      name: 'a queue out of range is NOT_FOUND',
      topic: 2,
      steps: [step('subscribe', { queue_id: 2 }, fail('NOT_FOUND', 'queue 2'))],
    },
    {
      name: 'queue_id -1 (the DLQ) is NOT_FOUND',
      topic: 1,
      // As for consume.
      steps: [step('subscribe', { queue_id: -1 }, fail('NOT_FOUND'))],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('subscribe', {}, fail('NOT_FOUND'))],
    },
    {
      name: 'an unknown namespace is NOT_FOUND',
      steps: [step('subscribe', { namespace: '$ns-missing' }, fail('NOT_FOUND'))],
    },
    // max_inflight (prefetch): docs/PROTOCOL.md, "Subscribe" and "Unset and zero values".
    {
      name: 'max_inflight 2 with 5 pending: 2 pushed, the other 3 stay pending',
      topic: 1,
      steps: [
        ...['a', 'b', 'c', 'd', 'e'].map((p) => publish(p)),
        step('subscribe', { max_inflight: 2, take: 2 }, ok({ messages: [msg('$m1', 'a'), msg('$m2', 'b')] })),
        stats({ pending: 3, in_flight: 2, acked: 0 }),
      ],
    },
    {
      name: 'max_inflight at limits.max_inflight_per_subscription (1000) is accepted',
      topic: 1,
      steps: [publish('a'), step('subscribe', { max_inflight: 1000, take: 1 }, ok({ messages: [msg('$m1', 'a')] }))],
    },
    {
      name: 'max_inflight 0 is INVALID_ARGUMENT (optional: 0 sent is a real 0) and nothing is pushed',
      topic: 1,
      steps: [publish('a'), step('subscribe', { max_inflight: 0 }, fail('INVALID_ARGUMENT', 'max_inflight')), stats({ pending: 1, in_flight: 0 })],
    },
    {
      name: 'max_inflight past limits.max_inflight_per_subscription (1001) is INVALID_ARGUMENT',
      topic: 1,
      steps: [publish('a'), step('subscribe', { max_inflight: 1001 }, fail('INVALID_ARGUMENT', 'max_inflight')), stats({ pending: 1, in_flight: 0 })],
    },
    {
      name: 'max_inflight null (JSON) is absent: the default bound',
      topic: 1,
      steps: [publish('a'), publish('b'), step('subscribe', { max_inflight: null, take: 2 }, ok({ messages: [msg('$m1', 'a'), msg('$m2', 'b')] }))],
    },
    {
      name: 'max_inflight is ignored with auto_ack (as SSE always did): 0 is not refused',
      topic: 1,
      steps: [publish('a'), step('subscribe', { auto_ack: true, max_inflight: 0, take: 1 }, ok({ messages: [msg('$m1', 'a')] })), stats({ pending: 0, in_flight: 0, acked: 1 })],
    },
    {
      name: 'a fractional max_inflight is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [publish('a'), step('subscribe', { max_inflight: 1.5 }, fail('INVALID_ARGUMENT', 'max_inflight')), stats({ pending: 1, in_flight: 0 })],
    },
    {
      name: 'max_inflight -1, outside the proto\'s uint32, is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [publish('a'), step('subscribe', { max_inflight: -1 }, fail('INVALID_ARGUMENT', 'max_inflight')), stats({ pending: 1, in_flight: 0 })],
    },
  ],

  ack: [
    {
      name: 'an in-flight message is acked',
      topic: 1,
      steps: [publish(1), step('consume'), step('ack', { message_ids: ['$m1'] }, ok({})), stats({ in_flight: 0, acked: 1 })],
    },
    {
      name: 'unknown ids are ignored',
      topic: 1,
      steps: [publish(1), step('consume'), step('ack', { message_ids: [UNKNOWN_ID, 'nope'] }, ok({})), stats({ in_flight: 1, acked: 0 })],
    },
    {
      name: 'an empty id list is a no-op',
      topic: 1,
      steps: [step('ack', { message_ids: [] }, ok({}))],
    },
    {
      name: 'an empty-string id is an unknown id: ignored',
      topic: 1,
      steps: [publish(1), step('consume'), step('ack', { message_ids: [''] }, ok({})), stats({ in_flight: 1, acked: 0 })],
    },
    {
      name: 'message_ids absent is a no-op (pb: = empty)',
      topic: 1,
      steps: [step('ack', {}, ok({}))],
    },
    {
      name: 'an ack of a message consumed with auto_ack is a no-op',
      topic: 1,
      steps: [publish(1), step('consume', { auto_ack: true }), step('ack', { message_ids: ['$m1'] }, ok({})), stats({ acked: 1 })],
    },
    {
      name: 'an ack of a pending (never consumed) message is a no-op: it stays pending',
      topic: 1,
      steps: [publish(1), step('ack', { message_ids: ['$m1'] }, ok({})), stats({ pending: 1, acked: 0 })],
    },
    {
      name: 'an id given twice in one list is acked once',
      topic: 1,
      steps: [publish(1), step('consume'), step('ack', { message_ids: ['$m1', '$m1'] }, ok({})), stats({ acked: 1, in_flight: 0 })],
    },
    {
      name: 'an ack after the topic was deleted is NOT_FOUND',
      topic: 1,
      steps: [publish(1), step('consume'), step('delete_topic'), step('ack', { message_ids: ['$m1'] }, fail('NOT_FOUND'))],
    },
    {
      name: 'a second ack of the same id is a no-op',
      topic: 1,
      steps: [publish(1), step('consume'), step('ack', { message_ids: ['$m1'] }), step('ack', { message_ids: ['$m1'] }, ok({})), stats({ acked: 1 })],
    },
    {
      name: 'a queue out of range is not judged: ids are the topic\'s',
      topic: 1,
      // docs/DESIGN.md, "Semantics": acking an unknown id is harmless. Ids are unique in the topic and a
      // queue removed by a shrink may still have messages in flight, so ack and nack do not judge queue_id.
      steps: [publish(1), step('consume'), step('ack', { queue_id: 3, message_ids: ['$m1'] }, ok({})), stats({ in_flight: 0, acked: 1 })],
    },
    {
      name: 'message_ids null (JSON) is a no-op',
      topic: 1,
      steps: [step('ack', { message_ids: null }, ok({}))],
    },
    {
      name: 'queue_id null (JSON) is absent',
      topic: 1,
      steps: [publish(1), step('consume'), step('ack', { queue_id: null, message_ids: ['$m1'] }, ok({})), stats({ acked: 1 })],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('ack', { message_ids: [UNKNOWN_ID] }, fail('NOT_FOUND'))],
    },
  ],

  publish_batch: [
    {
      name: 'an entry with ttl_ms expires on its own',
      topic: 1,
      steps: [
        step('publish_batch', { entries: [{ payload: 1, ttl_ms: 40 }, { payload: 2 }] }),
        sleep(100),
        step('consume', { batch_size: 5 }, ok({ messages: [msg('$m2', 2)] })),
        stats({ expired: 1, pending: 0 }),
      ],
    },
    {
      name: 'partial: a negative ttl_ms fails its entry with INVALID_ARGUMENT',
      topic: 1,
      steps: [
        step(
          'publish_batch',
          { mode: 'partial', entries: [{ payload: 1, ttl_ms: -1 }, { payload: 2 }] },
          ok({ results: [{ ok: false, error_code: 'INVALID_ARGUMENT' }, { ok: true, message_id: '$m1', queue_id: 0, duplicate: false }] }),
        ),
        stats({ published: 1 }),
      ],
    },
    {
      name: 'one entry',
      topic: 1,
      steps: [step('publish_batch', { entries: [{ payload: 1 }] }, ok({ results: [{ ok: true, message_id: '$m1', queue_id: 0, duplicate: false }] }))],
    },
    {
      name: 'limits.max_batch (5) entries',
      topic: 1,
      steps: [step('publish_batch', { entries: [1, 2, 3, 4, 5].map((payload) => ({ payload })) }, okLike({ results: Array(5).fill({ ok: true }) })), stats({ pending: 5 })],
    },
    {
      name: 'max+1 entries is INVALID_ARGUMENT and nothing is published',
      topic: 1,
      steps: [step('publish_batch', { entries: [1, 2, 3, 4, 5, 6].map((payload) => ({ payload })) }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'no entries is INVALID_ARGUMENT',
      topic: 1,
      // The docs say "at most limits.max_batch"; an empty batch is a client bug, refused as SQS refuses one.
      steps: [step('publish_batch', { entries: [] }, fail('INVALID_ARGUMENT', '1..5')), stats({ published: 0 })],
    },
    {
      name: 'entries absent is INVALID_ARGUMENT (pb: = empty)',
      topic: 1,
      steps: [step('publish_batch', {}, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'partial (mode absent): a bad entry fails on its own',
      topic: 2,
      steps: [
        step(
          'publish_batch',
          { entries: [{ payload: 1, queue_id: 0 }, { payload: 2, queue_id: 9 }] },
          ok({ results: [{ ok: true, message_id: '$m1', queue_id: 0, duplicate: false }, { ok: false, error_code: 'NOT_FOUND' }] }),
        ),
        stats({ published: 1 }),
      ],
    },
    {
      name: 'atomic: a bad entry fails the whole request and nothing is published',
      topic: 2,
      steps: [
        step('publish_batch', { mode: 'atomic', entries: [{ payload: 1 }, { payload: 2, queue_id: 9 }] }, fail('NOT_FOUND', 'batch entry 1')),
        stats({ published: 0, pending: 0 }),
      ],
    },
    {
      name: 'a dedup_id repeated inside the batch is a duplicate of the first',
      topic: 1,
      steps: [
        step(
          'publish_batch',
          { entries: [{ payload: 1, dedup_id: 'x' }, { payload: 2, dedup_id: 'x' }] },
          ok({ results: [{ ok: true, message_id: '$m1', queue_id: 0, duplicate: false }, { ok: true, message_id: '$m1', queue_id: 0, duplicate: true }] }),
        ),
        stats({ pending: 1 }),
      ],
    },
    {
      name: 'atomic, all valid: every entry is published',
      topic: 2,
      steps: [
        step(
          'publish_batch',
          { mode: 'atomic', entries: [{ payload: 1, queue_id: 1 }, { payload: 2, routing_key: '' }] },
          ok({ results: [{ ok: true, message_id: '$m1', queue_id: 1, duplicate: false }, { ok: true, message_id: '$m2', queue_id: 0, duplicate: false }] }),
        ),
        stats({ published: 2, pending: 2 }),
      ],
    },
    {
      name: 'partial (explicit): an invalid delay fails its entry with INVALID_ARGUMENT',
      topic: 1,
      steps: [
        step(
          'publish_batch',
          { mode: 'partial', entries: [{ payload: 1, delay_ms: -1 }, { payload: 2 }] },
          ok({ results: [{ ok: false, error_code: 'INVALID_ARGUMENT' }, { ok: true, message_id: '$m1', queue_id: 0, duplicate: false }] }),
        ),
        stats({ published: 1 }),
      ],
    },
    {
      name: 'atomic: an invalid delay is INVALID_ARGUMENT naming the entry, nothing published',
      topic: 1,
      steps: [
        step('publish_batch', { mode: 'atomic', entries: [{ payload: 1 }, { payload: 2, delay_ms: -1 }] }, fail('INVALID_ARGUMENT', 'batch entry 1')),
        stats({ published: 0, pending: 0, delayed: 0 }),
      ],
    },
    {
      name: 'every optional entry field null (JSON) is absent',
      topic: 2,
      steps: [
        step(
          'publish_batch',
          {
            entries: [
              { payload: 1, headers: null, routing_key: null, queue_id: null, dedup_id: null, delay_ms: null, deliver_at_ms: null, ttl_ms: null },
              { payload: 2, dedup_id: null },
            ],
          },
          ok({ results: [{ ok: true, message_id: '$m1', queue_id: 0, duplicate: false }, { ok: true, message_id: '$m2', queue_id: 1, duplicate: false }] }),
        ),
        stats({ pending: 2, delayed: 0 }),
      ],
    },
    {
      name: 'an empty dedup_id in an entry is no deduplication',
      topic: 1,
      // As for publish.
      steps: [
        step('publish_batch', { entries: [{ payload: 1, dedup_id: '' }, { payload: 2, dedup_id: '' }] }, okLike({ results: [{ ok: true, duplicate: false }, { ok: true, duplicate: false }] })),
        stats({ pending: 2 }),
      ],
    },
    {
      name: 'mode null (JSON) is absent: partial',
      topic: 2,
      steps: [
        step('publish_batch', { mode: null, entries: [{ payload: 1, queue_id: 5 }, { payload: 2, queue_id: 1 }] }, okLike({ results: [{ ok: false, error_code: 'NOT_FOUND' }, { ok: true }] })),
      ],
    },
    {
      name: 'a mode name the enum does not define is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [step('publish_batch', { mode: 'bogus', entries: [{ payload: 1 }] }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'a mode the enum does not define (7) is INVALID_ARGUMENT',
      topic: 1,
      // JSON: a number where "partial" or "atomic" is expected; protobuf: BatchMode 7.
      steps: [step('publish_batch', { mode: 7, entries: [{ payload: 1 }] }, fail('INVALID_ARGUMENT')), stats({ published: 0 })],
    },
    {
      name: 'an entry repeating a dedup_id published before the batch is a duplicate',
      topic: 1,
      steps: [
        step('publish', { payload: 0, dedup_id: 'p' }),
        step('publish_batch', { entries: [{ payload: 1, dedup_id: 'p' }] }, ok({ results: [{ ok: true, message_id: '$m1', queue_id: 0, duplicate: true }] })),
        stats({ published: 1, pending: 1 }),
      ],
    },
    {
      name: 'an entry to a draining queue fails on its own (partial)',
      topic: 2,
      steps: [
        publish(0, { queue_id: 1 }),
        step('resize_topic', { new_queue_count: 1 }, okLike({ draining: true })),
        step(
          'publish_batch',
          { entries: [{ payload: 1, queue_id: 1 }, { payload: 2, queue_id: 0 }] },
          ok({ results: [{ ok: false, error_code: 'FAILED_PRECONDITION' }, { ok: true, message_id: '$m2', queue_id: 0, duplicate: false }] }),
        ),
      ],
    },
    {
      name: 'an entry with too many headers fails on its own (partial)',
      topic: 1,
      steps: [
        step(
          'publish_batch',
          { entries: [{ payload: 1, headers: { a: '1', b: '2', c: '3', d: '4', e: '5' } }, { payload: 2, headers: { a: '1' } }] },
          ok({ results: [{ ok: false, error_code: 'INVALID_ARGUMENT' }, { ok: true, message_id: '$m1', queue_id: 0, duplicate: false }] }),
        ),
        step('consume', {}, ok({ messages: [msg('$m1', 2, { headers: { a: '1' } })] })),
      ],
    },
    {
      name: 'an entry with a delay is held',
      topic: 1,
      steps: [step('publish_batch', { entries: [{ payload: 1, delay_ms: 60_000 }, { payload: 2 }] }), stats({ delayed: 1, pending: 1 })],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('publish_batch', { entries: [{ payload: 1 }] }, fail('NOT_FOUND'))],
    },
  ],

  nack: [
    {
      name: 'delay_ms absent: the topic backoff holds it',
      topic: 1,
      steps: [publish(1), step('consume'), step('nack', { message_ids: ['$m1'] }, ok({ requeued: 0, delayed: 1, dead_lettered: 0 })), stats({ in_flight: 0, delayed: 1 })],
    },
    {
      name: 'delay_ms 0: back at the head at once, delivered again with delivery_count 2',
      topic: 1,
      steps: [
        publish(1),
        step('consume'),
        step('nack', { message_ids: ['$m1'], delay_ms: 0 }, ok({ requeued: 1, delayed: 0, dead_lettered: 0 })),
        step('consume', {}, ok({ messages: [msg('$m1', 1, { delivery_count: 2 })] })),
      ],
    },
    {
      name: 'delay_ms 60000 holds it',
      topic: 1,
      steps: [publish(1), step('consume'), step('nack', { message_ids: ['$m1'], delay_ms: 60_000 }, ok({ requeued: 0, delayed: 1, dead_lettered: 0 })), stats({ delayed: 1 })],
    },
    {
      name: 'delay_ms -1 is INVALID_ARGUMENT and the message stays in flight',
      topic: 1,
      steps: [publish(1), step('consume'), step('nack', { message_ids: ['$m1'], delay_ms: -1 }, fail('INVALID_ARGUMENT')), stats({ in_flight: 1, delayed: 0, pending: 0 })],
    },
    {
      name: 'past max_retries 0 the message is dead-lettered',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 0 }),
        publish(1),
        step('consume'),
        step('nack', { message_ids: ['$m1'] }, ok({ requeued: 0, delayed: 0, dead_lettered: 1 })),
        stats({ dlq_depth: 1, in_flight: 0, dead_lettered: 1 }),
      ],
    },
    {
      name: 'dead_letter true: straight to the DLQ with reason rejected, whatever max_retries and delay_ms',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 5 }),
        publish(1),
        step('consume'),
        step('nack', { message_ids: ['$m1'], delay_ms: 0, dead_letter: true }, ok({ requeued: 0, delayed: 0, dead_lettered: 1 })),
        stats({ dlq_depth: 1, in_flight: 0, pending: 0, dead_lettered: 1 }),
        step('peek', { dlq: true }, okLike({ messages: [{ id: '$m1', headers: { _dlq_reason: 'rejected', _delivery_count: '1' } }] })),
      ],
    },
    {
      name: 'dead_letter false is a plain nack',
      topic: 1,
      steps: [publish(1), step('consume'), step('nack', { message_ids: ['$m1'], delay_ms: 0, dead_letter: false }, ok({ requeued: 1, delayed: 0, dead_lettered: 0 })), stats({ pending: 1, dlq_depth: 0 })],
    },
    {
      name: 'dead_letter of the wrong type is INVALID_ARGUMENT (JSON) and nothing moves',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [publish(1), step('consume'), step('nack', { message_ids: ['$m1'], dead_letter: 'yes' }, fail('INVALID_ARGUMENT')), stats({ in_flight: 1, dlq_depth: 0 })],
    },
    {
      name: 'unknown ids are ignored',
      topic: 1,
      steps: [step('nack', { message_ids: [UNKNOWN_ID] }, ok({ requeued: 0, delayed: 0, dead_lettered: 0 }))],
    },
    {
      name: 'an id given twice in one list is counted once',
      topic: 1,
      steps: [publish(1), step('consume'), step('nack', { message_ids: ['$m1', '$m1'], delay_ms: 0 }, ok({ requeued: 1, delayed: 0, dead_lettered: 0 })), stats({ pending: 1 })],
    },
    {
      name: 'a pending (not in flight) id is ignored',
      topic: 1,
      steps: [publish(1), step('nack', { message_ids: ['$m1'], delay_ms: 0 }, ok({ requeued: 0, delayed: 0, dead_lettered: 0 })), stats({ pending: 1, redelivered: 0 })],
    },
    {
      name: 'delay_ms past 30 days is INVALID_ARGUMENT',
      topic: 1,
      steps: [publish(1), step('consume'), step('nack', { message_ids: ['$m1'], delay_ms: 2_592_000_001 }, fail('INVALID_ARGUMENT')), stats({ in_flight: 1 })],
    },
    {
      name: 'the topic backoff with max_retries 2: held twice, then dead-lettered',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 2, retry_base_ms: 1, retry_cap_ms: 1 }),
        publish(1),
        step('consume'),
        step('nack', { message_ids: ['$m1'] }, ok({ requeued: 0, delayed: 1, dead_lettered: 0 })),
        sleep(20),
        step('consume', {}, okLike({ messages: [{ id: '$m1', delivery_count: 2 }] })),
        step('nack', { message_ids: ['$m1'] }, ok({ requeued: 0, delayed: 1, dead_lettered: 0 })),
        sleep(20),
        step('consume', {}, okLike({ messages: [{ id: '$m1', delivery_count: 3 }] })),
        step('nack', { message_ids: ['$m1'] }, ok({ requeued: 0, delayed: 0, dead_lettered: 1 })),
        stats({ dlq_depth: 1, dead_lettered: 1, redelivered: 2 }),
      ],
    },
    {
      name: 'an empty id list is a no-op',
      topic: 1,
      steps: [step('nack', { message_ids: [] }, ok({ requeued: 0, delayed: 0, dead_lettered: 0 }))],
    },
    {
      name: 'a queue out of range is not judged: ids are the topic\'s',
      topic: 1,
      // As for ack (above).
      steps: [publish(1), step('consume'), step('nack', { queue_id: 4, message_ids: ['$m1'], delay_ms: 0 }, ok({ requeued: 1, delayed: 0, dead_lettered: 0 }))],
    },
    {
      name: 'message_ids absent is a no-op (pb: = empty)',
      topic: 1,
      steps: [step('nack', {}, ok({ requeued: 0, delayed: 0, dead_lettered: 0 }))],
    },
    {
      name: 'message_ids null (JSON) is a no-op',
      topic: 1,
      steps: [step('nack', { message_ids: null }, ok({ requeued: 0, delayed: 0, dead_lettered: 0 }))],
    },
    {
      name: 'delay_ms null (JSON) is absent: the topic backoff',
      topic: 1,
      steps: [publish(1), step('consume'), step('nack', { message_ids: ['$m1'], delay_ms: null }, ok({ requeued: 0, delayed: 1, dead_lettered: 0 }))],
    },
    {
      name: 'a message consumed from the DLQ goes back to the DLQ head',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 0 }),
        publish(1),
        step('consume'),
        step('nack', { message_ids: ['$m1'] }),
        step('consume_dlq'),
        stats({ dlq_depth: 0, in_flight: 1 }),
        step('nack', { queue_id: -1, message_ids: ['$m1'], delay_ms: 0 }, ok({ requeued: 1, delayed: 0, dead_lettered: 0 })),
        stats({ dlq_depth: 1, in_flight: 0, pending: 0 }),
      ],
    },
  ],

  renew_lease: [
    {
      name: 'extend_ms 1000 renews an in-flight message',
      topic: 1,
      steps: [publish(1), step('consume'), step('renew_lease', { message_ids: ['$m1'], extend_ms: 1000 }, ok({}))],
    },
    {
      name: 'extend_ms 12 h (the max) is accepted',
      topic: 1,
      steps: [publish(1), step('consume'), step('renew_lease', { message_ids: ['$m1'], extend_ms: 43_200_000 }, ok({}))],
    },
    {
      name: 'extend_ms past 12 h is INVALID_ARGUMENT',
      topic: 1,
      steps: [publish(1), step('consume'), step('renew_lease', { message_ids: ['$m1'], extend_ms: 43_200_001 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'extend_ms 0 is INVALID_ARGUMENT',
      topic: 1,
      steps: [publish(1), step('consume'), step('renew_lease', { message_ids: ['$m1'], extend_ms: 0 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'extend_ms absent is INVALID_ARGUMENT (pb: = 0)',
      topic: 1,
      steps: [publish(1), step('consume'), step('renew_lease', { message_ids: ['$m1'] }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'extend_ms null (JSON) is absent: INVALID_ARGUMENT',
      topic: 1,
      steps: [publish(1), step('consume'), step('renew_lease', { message_ids: ['$m1'], extend_ms: null }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'extend_ms -1 is INVALID_ARGUMENT',
      topic: 1,
      steps: [publish(1), step('consume'), step('renew_lease', { message_ids: ['$m1'], extend_ms: -1 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'extend_ms 1 (the min) is accepted',
      topic: 1,
      steps: [publish(1), step('consume'), step('renew_lease', { message_ids: ['$m1'], extend_ms: 1 }, ok({}))],
    },
    {
      name: 'an id not in flight is FAILED_PRECONDITION',
      topic: 1,
      steps: [publish(1), step('renew_lease', { message_ids: ['$m1'], extend_ms: 1000 }, fail('FAILED_PRECONDITION', 'not in flight'))],
    },
    {
      name: 'an unknown id is FAILED_PRECONDITION',
      topic: 1,
      steps: [step('renew_lease', { message_ids: [UNKNOWN_ID], extend_ms: 1000 }, fail('FAILED_PRECONDITION', 'not in flight'))],
    },
    {
      name: 'an empty id list is a no-op',
      topic: 1,
      steps: [step('renew_lease', { message_ids: [], extend_ms: 1000 }, ok({}))],
    },
    {
      name: 'message_ids absent is a no-op (pb: = empty)',
      topic: 1,
      steps: [step('renew_lease', { extend_ms: 1000 }, ok({}))],
    },
    {
      name: 'message_ids null (JSON) is a no-op',
      topic: 1,
      steps: [step('renew_lease', { message_ids: null, extend_ms: 1000 }, ok({}))],
    },
    {
      name: 'an id given twice is renewed',
      topic: 1,
      steps: [publish(1), step('consume'), step('renew_lease', { message_ids: ['$m1', '$m1'], extend_ms: 1000 }, ok({}))],
    },
    {
      name: 'an acked id is FAILED_PRECONDITION',
      topic: 1,
      steps: [publish(1), step('consume'), step('ack', { message_ids: ['$m1'] }), step('renew_lease', { message_ids: ['$m1'], extend_ms: 1000 }, fail('FAILED_PRECONDITION'))],
    },
    {
      name: 'one id not in flight among held ones changes nothing',
      topic: 1,
      steps: [
        publish(1),
        publish(2),
        step('consume'),
        step('renew_lease', { message_ids: ['$m1', '$m2'], extend_ms: 1000 }, fail('FAILED_PRECONDITION', "message '$m2' is not in flight")),
      ],
    },
    {
      name: 'a queue out of range is not judged: ids are the topic\'s',
      topic: 1,
      // As for ack and nack.
      steps: [publish(1), step('consume'), step('renew_lease', { queue_id: 7, message_ids: ['$m1'], extend_ms: 1000 }, ok({}))],
    },
    {
      name: 'a message consumed from the DLQ is renewed on queue -1',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 0 }),
        publish(1),
        step('consume'),
        step('nack', { message_ids: ['$m1'] }),
        step('consume_dlq'),
        step('renew_lease', { queue_id: -1, message_ids: ['$m1'], extend_ms: 5000 }, ok({})),
      ],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('renew_lease', { message_ids: [UNKNOWN_ID], extend_ms: 1000 }, fail('NOT_FOUND'))],
    },
  ],

  peek: [
    {
      name: 'an empty queue: no message, no next cursor',
      topic: 1,
      steps: [step('peek', {}, ok({ messages: [], next_cursor: null }))],
    },
    {
      name: 'limit 0 means 20',
      topic: 1,
      steps: [
        ...Array.from({ length: 21 }, (_, i) => publish(i)),
        step('peek', { limit: 0 }, okLike({ messages: Array(20).fill({}), next_cursor: '$c1' })),
      ],
    },
    {
      name: 'limit absent means 20 (pb: = 0)',
      topic: 1,
      steps: [...Array.from({ length: 21 }, (_, i) => publish(i)), step('peek', {}, okLike({ messages: Array(20).fill({}), next_cursor: '$c1' }))],
    },
    {
      name: 'every optional field null (JSON) is absent',
      topic: 1,
      steps: [
        publish('a'),
        publish('b'),
        step(
          'peek',
          { cursor: null, limit: null, order: null, preview_bytes: null, dlq: null },
          ok({
            messages: [msg('$m1', 'a', { delivery_count: 0, payload_size: 3 }), msg('$m2', 'b', { delivery_count: 0, payload_size: 3 })],
            next_cursor: null,
          }),
        ),
      ],
    },
    {
      name: 'an empty cursor is none: the first page',
      topic: 1,
      steps: [publish('a'), step('peek', { cursor: '' }, okLike({ messages: [{ id: '$m1' }], next_cursor: null }))],
    },
    {
      name: 'a fractional limit is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [step('peek', { limit: 1.5 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'an order that is not asc or desc is INVALID_ARGUMENT (JSON only)',
      topic: 1,
      cannotExpress: JSON_ONLY,
      steps: [step('peek', { order: 'sideways' }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'limit 100 (the max) is accepted',
      topic: 1,
      steps: [publish(1), step('peek', { limit: 100 }, okLike({ messages: [{ id: '$m1' }], next_cursor: null }))],
    },
    {
      name: 'order asc (explicit, and absent) starts at the head',
      topic: 1,
      steps: [
        publish('a'),
        publish('b'),
        step('peek', { order: 'asc' }, okLike({ messages: [{ id: '$m1' }, { id: '$m2' }] })),
        step('peek', {}, okLike({ messages: [{ id: '$m1' }, { id: '$m2' }] })),
      ],
    },
    {
      name: 'an order the enum does not define (7) is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('peek', { order: 7 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'preview_bytes -1 is INVALID_ARGUMENT',
      topic: 1,
      steps: [publish(1), step('peek', { preview_bytes: -1 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'preview_bytes that cut a payload out of JSON show it as bytes',
      topic: 1,
      steps: [publish('abcd'), step('peek', { preview_bytes: 2 }, okLike({ messages: [{ payload: { $base64: Buffer.from('"a').toString('base64') }, payload_size: 6 }] }))],
    },
    {
      name: 'a cursor stays valid when the head is consumed',
      topic: 1,
      steps: [
        publish('a'),
        publish('b'),
        publish('c'),
        step('peek', { limit: 1 }, okLike({ next_cursor: '$c1' })),
        step('consume', { auto_ack: true }),
        step('peek', { limit: 5, cursor: '$c1' }, okLike({ messages: [{ id: '$m2' }, { id: '$m3' }], next_cursor: null })),
      ],
    },
    {
      name: 'in-flight messages are not peeked',
      topic: 1,
      steps: [publish('a'), publish('b'), step('consume'), step('peek', {}, okLike({ messages: [{ id: '$m2' }], next_cursor: null }))],
    },
    {
      name: 'dlq true pages with a cursor, in desc order too',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 0 }),
        publish('a'),
        publish('b'),
        step('consume', { batch_size: 2 }),
        step('nack', { message_ids: ['$m1', '$m2'] }),
        step('peek', { dlq: true, limit: 1 }, okLike({ messages: [{ id: '$m1' }], next_cursor: '$c1' })),
        step('peek', { dlq: true, limit: 1, cursor: '$c1' }, okLike({ messages: [{ id: '$m2' }], next_cursor: null })),
        step('peek', { dlq: true, order: 'desc' }, okLike({ messages: [{ id: '$m2' }, { id: '$m1' }], next_cursor: null })),
      ],
    },
    {
      name: 'dlq true with limit 0 on an empty DLQ',
      topic: 1,
      steps: [step('peek', { dlq: true, limit: 0 }, ok({ messages: [], next_cursor: null }))],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('peek', {}, fail('NOT_FOUND'))],
    },
    {
      name: 'limit 101 is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('peek', { limit: 101 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'limit -1 is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('peek', { limit: -1 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'limit 1 pages with a cursor; the last page has no cursor; nothing is consumed',
      topic: 1,
      steps: [
        publish('a'),
        publish('b'),
        step('peek', { limit: 1 }, ok({ messages: [msg('$m1', 'a', { delivery_count: 0, payload_size: 3 })], next_cursor: '$c1' })),
        step('peek', { limit: 1, cursor: '$c1' }, ok({ messages: [msg('$m2', 'b', { delivery_count: 0, payload_size: 3 })], next_cursor: null })),
        stats({ pending: 2, in_flight: 0 }),
      ],
    },
    {
      name: 'order desc starts at the tail',
      topic: 1,
      steps: [publish('a'), publish('b'), step('peek', { order: 'desc' }, okLike({ messages: [{ id: '$m2' }, { id: '$m1' }] }))],
    },
    {
      name: 'preview_bytes 0 is the whole payload',
      topic: 1,
      steps: [publish(12345), step('peek', { preview_bytes: 0 }, okLike({ messages: [{ payload: 12345, payload_size: 5 }] }))],
    },
    {
      name: 'preview_bytes 2 cuts the payload, payload_size stays whole',
      topic: 1,
      steps: [publish(12345), step('peek', { preview_bytes: 2 }, okLike({ messages: [{ payload: 12, payload_size: 5 }] }))],
    },
    {
      name: 'a cursor that was never issued is INVALID_ARGUMENT',
      topic: 1,
      steps: [publish(1), step('peek', { cursor: 'not-a-cursor' }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'dlq true peeks the dead-letter queue, whatever queue_id says',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 0 }),
        publish(7),
        step('consume'),
        step('nack', { message_ids: ['$m1'] }),
        step(
          'peek',
          { dlq: true, queue_id: 5 },
          ok({
            // In the DLQ the count starts again (the header keeps the old one): consume_dlq delivers it with 1.
            messages: [msg('$m1', 7, { queue_id: -1, delivery_count: 0, payload_size: 1, headers: { _dlq_reason: 'nacked', _delivery_count: '1' } })],
            next_cursor: null,
          }),
        ),
      ],
    },
    {
      name: 'a queue out of range is NOT_FOUND',
      topic: 1,
      steps: [step('peek', { queue_id: 1 }, fail('NOT_FOUND'))],
    },
  ],

  consume_dlq: [
    {
      name: 'an empty DLQ gives no message',
      topic: 1,
      steps: [step('consume_dlq', {}, ok({ messages: [] }))],
    },
    {
      name: 'batch_size 0 is one message, queue_id -1, then acked on queue -1',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 0 }),
        publish(1),
        publish(2),
        step('consume', { batch_size: 2 }),
        step('nack', { message_ids: ['$m1', '$m2'] }, ok({ requeued: 0, delayed: 0, dead_lettered: 2 })),
        step('consume_dlq', { batch_size: 0 }, okLike({ messages: [{ id: '$m1', queue_id: -1 }] })),
        step('ack', { queue_id: -1, message_ids: ['$m1'] }, ok({})),
        stats({ dlq_depth: 1 }),
      ],
    },
    {
      name: 'batch_size 1 takes the head only',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 0 }),
        publish(1),
        publish(2),
        step('consume', { batch_size: 2 }),
        step('nack', { message_ids: ['$m1', '$m2'] }),
        step('consume_dlq', { batch_size: 1 }, okLike({ messages: [{ id: '$m1', delivery_count: 1 }] })),
        stats({ dlq_depth: 1, in_flight: 1 }),
      ],
    },
    {
      name: 'batch_size max+1 is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('consume_dlq', { batch_size: 6 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'batch_size -1 is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('consume_dlq', { batch_size: -1 }, fail('INVALID_ARGUMENT'))],
    },
    {
      name: 'batch_size and auto_ack null (JSON) are absent',
      topic: 1,
      steps: [step('consume_dlq', { batch_size: null, auto_ack: null }, ok({ messages: [] }))],
    },
    {
      name: 'batch_size max with auto_ack takes all and empties the DLQ',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 0 }),
        publish(1),
        publish(2),
        step('consume', { batch_size: 2 }),
        step('nack', { message_ids: ['$m1', '$m2'] }),
        step(
          'consume_dlq',
          { batch_size: 5, auto_ack: true },
          ok({
            messages: [
              msg('$m1', 1, { queue_id: -1, headers: { _dlq_reason: 'nacked', _delivery_count: '1' } }),
              msg('$m2', 2, { queue_id: -1, headers: { _dlq_reason: 'nacked', _delivery_count: '1' } }),
            ],
          }),
        ),
        stats({ dlq_depth: 0, in_flight: 0 }),
      ],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('consume_dlq', {}, fail('NOT_FOUND'))],
    },
  ],

  redrive_dlq: (() => {
    /** Three dead letters in topic t (max_retries 0, three nacks). */
    const threeDead = [
      step('set_topic_policy', { max_retries: 0 }),
      publish(1),
      publish(2),
      publish(3),
      step('consume', { batch_size: 3 }),
      step('nack', { message_ids: ['$m1', '$m2', '$m3'] }, ok({ requeued: 0, delayed: 0, dead_lettered: 3 })),
    ];
    return [
      {
        name: 'max absent moves all (pb: = 0)',
        topic: 1,
        steps: [...threeDead, step('redrive_dlq', {}, ok({ moved: 3 })), stats({ dlq_depth: 0, pending: 3 })],
      },
      {
        name: 'max 0 moves all',
        topic: 1,
        // proto: "0: all"; JSON reads it the same (src/server/tcp/README.md, "Queue features").
        steps: [...threeDead, step('redrive_dlq', { max: 0 }, ok({ moved: 3 })), stats({ dlq_depth: 0, pending: 3 })],
      },
      {
        name: 'max null (JSON) moves all',
        topic: 1,
        steps: [...threeDead, step('redrive_dlq', { max: null }, ok({ moved: 3 })), stats({ dlq_depth: 0, pending: 3 })],
      },
      {
        name: 'max 1 moves the head only, without its dead-letter headers',
        topic: 1,
        steps: [
          ...threeDead,
          step('redrive_dlq', { max: 1 }, ok({ moved: 1 })),
          stats({ dlq_depth: 2, pending: 1 }),
          step('consume', {}, ok({ messages: [msg('$m1', 1)] })),
        ],
      },
      {
        name: 'max above what the DLQ holds moves what there is',
        topic: 1,
        steps: [...threeDead, step('redrive_dlq', { max: 100 }, ok({ moved: 3 })), stats({ dlq_depth: 0 })],
      },
      {
        name: 'redriven messages are routed as publishes are (round-robin over active queues)',
        topic: 2,
        steps: [
          step('set_topic_policy', { max_retries: 0 }),
          publish(1, { queue_id: 0 }),
          publish(2, { queue_id: 0 }),
          step('consume', { batch_size: 2 }),
          step('nack', { message_ids: ['$m1', '$m2'] }),
          step('redrive_dlq', {}, ok({ moved: 2 })),
          stats({ dlq_depth: 0, pending: 2, queues: [{ pending: 1 }, { pending: 1 }] }),
        ],
      },
      {
        name: 'an empty DLQ moves nothing',
        topic: 1,
        steps: [step('redrive_dlq', {}, ok({ moved: 0 }))],
      },
      {
        name: 'a fractional max is INVALID_ARGUMENT and nothing moves (JSON only)',
        topic: 1,
        cannotExpress: JSON_ONLY,
        steps: [...threeDead, step('redrive_dlq', { max: 1.5 }, fail('INVALID_ARGUMENT')), stats({ dlq_depth: 3, pending: 0 })],
      },
      {
        name: 'max -1 is INVALID_ARGUMENT and nothing moves',
        topic: 1,
        steps: [...threeDead, step('redrive_dlq', { max: -1 }, fail('INVALID_ARGUMENT')), stats({ dlq_depth: 3, pending: 0 })],
      },
      {
        name: 'an unknown topic is NOT_FOUND',
        steps: [step('redrive_dlq', {}, fail('NOT_FOUND'))],
      },
    ] satisfies Scenario[];
  })(),

  set_topic_policy: [
    {
      name: 'ack_timeout_ms, message_ttl_ms and dead_letter_expired are set, answered and shown',
      topic: 1,
      steps: [
        step(
          'set_topic_policy',
          { ack_timeout_ms: 120_000, message_ttl_ms: 3_600_000, dead_letter_expired: true },
          ok({ policy: { ...DEFAULT_POLICY, ack_timeout_ms: 120_000, message_ttl_ms: 3_600_000, dead_letter_expired: true } }),
        ),
        step('list_topics', {}, okLike({ topics: [{ policy: { ...DEFAULT_POLICY, ack_timeout_ms: 120_000, message_ttl_ms: 3_600_000, dead_letter_expired: true } }] })),
        step('set_topic_policy', { ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false }, ok({ policy: DEFAULT_POLICY })),
      ],
    },
    {
      name: "ack_timeout_ms: a delivery not acked in time is delivered again, whatever the broker's ack_timeout",
      topic: 1,
      steps: [
        step('set_topic_policy', { ack_timeout_ms: 40 }),
        publish(1),
        step('consume', {}, ok({ messages: [msg('$m1', 1)] })),
        sleep(150),
        step('consume', {}, ok({ messages: [msg('$m1', 1, { delivery_count: 2 })] })),
      ],
    },
    {
      name: 'ack_timeout_ms -1 is INVALID_ARGUMENT and the policy is unchanged',
      topic: 1,
      steps: [step('set_topic_policy', { ack_timeout_ms: -1 }, fail('INVALID_ARGUMENT', 'ack_timeout_ms')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'ack_timeout_ms past 12 hours is INVALID_ARGUMENT and the policy is unchanged',
      topic: 1,
      steps: [step('set_topic_policy', { ack_timeout_ms: 43_200_001 }, fail('INVALID_ARGUMENT', 'ack_timeout_ms')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'message_ttl_ms -1 is INVALID_ARGUMENT and the policy is unchanged',
      topic: 1,
      steps: [step('set_topic_policy', { message_ttl_ms: -1, dead_letter_expired: true }, fail('INVALID_ARGUMENT', 'message_ttl_ms')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'message_ttl_ms past 365 days is INVALID_ARGUMENT and the policy is unchanged',
      topic: 1,
      steps: [step('set_topic_policy', { message_ttl_ms: 31_536_000_001 }, fail('INVALID_ARGUMENT', 'message_ttl_ms')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'every field absent keeps the policy and answers it whole',
      topic: 1,
      steps: [step('set_topic_policy', {}, ok({ policy: DEFAULT_POLICY }))],
    },
    {
      name: 'a field given changes it alone',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 5 }, ok({ policy: { ...DEFAULT_POLICY, max_retries: 5 } })),
        step('set_topic_policy', { retry_base_ms: 10 }, ok({ policy: { ...DEFAULT_POLICY, max_retries: 5, retry_base_ms: 10 } })),
        step('list_topics', {}, okLike({ topics: [{ policy: { ...DEFAULT_POLICY, max_retries: 5, retry_base_ms: 10 } }] })),
      ],
    },
    {
      name: 'max_retries -1 is forever, 0 is a real 0',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 0 }, ok({ policy: { ...DEFAULT_POLICY, max_retries: 0 } })),
        step('set_topic_policy', { max_retries: -1 }, ok({ policy: DEFAULT_POLICY })),
      ],
    },
    {
      name: 'retry_base_ms and retry_cap_ms 0: a nack without delay_ms requeues at once',
      topic: 1,
      // 0 is a real 0 for these optional fields: a backoff of nothing.
      steps: [
        step('set_topic_policy', { retry_base_ms: 0, retry_cap_ms: 0 }, ok({ policy: { ...DEFAULT_POLICY, retry_base_ms: 0, retry_cap_ms: 0 } })),
        publish(1),
        step('consume'),
        step('nack', { message_ids: ['$m1'] }, ok({ requeued: 1, delayed: 0, dead_lettered: 0 })),
      ],
    },
    {
      name: 'the maxima are accepted: max_retries 1000000, retry_cap_ms 30 days, dedup_window_ms 7 days',
      topic: 1,
      steps: [
        step(
          'set_topic_policy',
          { max_retries: 1_000_000, retry_cap_ms: 2_592_000_000, dedup_window_ms: 604_800_000 },
          ok({ policy: { ...DEFAULT_POLICY, max_retries: 1_000_000, retry_cap_ms: 2_592_000_000, dedup_window_ms: 604_800_000 } }),
        ),
      ],
    },
    {
      name: 'max_retries 1000001 is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('set_topic_policy', { max_retries: 1_000_001 }, fail('INVALID_ARGUMENT')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'retry_cap_ms past 30 days is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('set_topic_policy', { retry_cap_ms: 2_592_000_001 }, fail('INVALID_ARGUMENT')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'dedup_window_ms past 7 days is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('set_topic_policy', { dedup_window_ms: 604_800_001 }, fail('INVALID_ARGUMENT')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'one invalid field refuses the whole change',
      topic: 1,
      steps: [step('set_topic_policy', { max_retries: 3, dedup_window_ms: -5 }, fail('INVALID_ARGUMENT')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'max_retries -2 is INVALID_ARGUMENT and the policy is unchanged',
      topic: 1,
      steps: [step('set_topic_policy', { max_retries: -2 }, fail('INVALID_ARGUMENT')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'dedup_window_ms 0 turns deduplication off',
      topic: 1,
      steps: [
        step('set_topic_policy', { dedup_window_ms: 0 }, ok({ policy: { ...DEFAULT_POLICY, dedup_window_ms: 0 } })),
        step('publish', { payload: 1, dedup_id: 'x' }, ok({ message_id: '$m1', queue_id: 0, duplicate: false })),
        step('publish', { payload: 2, dedup_id: 'x' }, ok({ message_id: '$m2', queue_id: 0, duplicate: false })),
      ],
    },
    {
      name: 'a negative retry_base_ms is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('set_topic_policy', { retry_base_ms: -1 }, fail('INVALID_ARGUMENT')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'a negative dedup_window_ms is INVALID_ARGUMENT',
      topic: 1,
      steps: [step('set_topic_policy', { dedup_window_ms: -1 }, fail('INVALID_ARGUMENT')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'null fields (JSON) are absent: they keep their value',
      topic: 1,
      steps: [
        step('set_topic_policy', { max_retries: 3 }),
        step('set_topic_policy', { max_retries: null, retry_base_ms: null, retry_cap_ms: null, dedup_window_ms: null, ack_timeout_ms: null, message_ttl_ms: null, dead_letter_expired: null }, ok({ policy: { ...DEFAULT_POLICY, max_retries: 3 } })),
      ],
    },
    {
      name: 'every field at once',
      topic: 1,
      steps: [
        step(
          'set_topic_policy',
          { max_retries: 2, retry_base_ms: 5, retry_cap_ms: 50, dedup_window_ms: 1000 },
          ok({ policy: { ...DEFAULT_POLICY, max_retries: 2, retry_base_ms: 5, retry_cap_ms: 50, dedup_window_ms: 1000 } }),
        ),
        stats({ policy: { ...DEFAULT_POLICY, max_retries: 2, retry_base_ms: 5, retry_cap_ms: 50, dedup_window_ms: 1000 } }),
      ],
    },
    {
      name: 'retry_cap_ms below retry_base_ms is INVALID_ARGUMENT and the policy is unchanged',
      topic: 1,
      // A cap below the base would make the backoff shrink: refused rather than silently clamped.
      steps: [step('set_topic_policy', { retry_base_ms: 500, retry_cap_ms: 100 }, fail('INVALID_ARGUMENT')), stats({ policy: DEFAULT_POLICY })],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('set_topic_policy', { max_retries: 1 }, fail('NOT_FOUND'))],
    },
    {
      name: 'in an unknown namespace is NOT_FOUND',
      steps: [step('set_topic_policy', { namespace: '$ns-missing', max_retries: 1 }, fail('NOT_FOUND'))],
    },
  ],

  get_topic_stats: [
    {
      name: 'a fresh topic: zeros, version 0, the default policy, one row per queue',
      topic: 2,
      steps: [
        step(
          'get_topic_stats',
          {},
          ok({
            namespace: '$ns',
            topic: 't',
            queue_count: 2,
            version: 0,
            draining: false,
            pending: 0,
            in_flight: 0,
            delayed: 0,
            dlq_depth: 0,
            published: 0,
            acked: 0,
            redelivered: 0,
            dead_lettered: 0,
            expired: 0,
            policy: DEFAULT_POLICY,
            paused: false,
            purged: 0,
            queues: [0, 1].map((queue_id) => ({ queue_id, pending: 0, in_flight: 0, delayed: 0, published: 0, acked: 0, redelivered: 0, dead_lettered: 0, expired: 0 })),
          }),
        ),
      ],
    },
    {
      name: 'an unknown topic is NOT_FOUND',
      steps: [step('get_topic_stats', {}, fail('NOT_FOUND'))],
    },
    {
      name: 'an unknown namespace is NOT_FOUND',
      steps: [step('get_topic_stats', { namespace: '$ns-missing' }, fail('NOT_FOUND'))],
    },
    {
      name: 'a topic whose name is invalid is NOT_FOUND',
      // As for create_topic in a namespace whose name is invalid.
      steps: [step('get_topic_stats', { topic: 'a b' }, fail('NOT_FOUND', "topic 'a b'"))],
    },
    {
      name: 'a topic name with a slash is NOT_FOUND, naming it (HTTP: one escaped path segment)',
      steps: [step('get_topic_stats', { topic: 'a/b' }, fail('NOT_FOUND', "topic 'a/b'"))],
    },
    {
      name: 'counters after publish, consume, ack, nack and a redelivery',
      topic: 2,
      steps: [
        publish(1, { queue_id: 0 }),
        publish(2, { queue_id: 0 }),
        publish(3, { queue_id: 1 }),
        publish(4, { delay_ms: 60_000, queue_id: 1 }),
        step('consume', { batch_size: 2 }),
        step('ack', { message_ids: ['$m1'] }),
        step('nack', { message_ids: ['$m2'], delay_ms: 0 }),
        step('consume', {}, okLike({ messages: [{ id: '$m2', delivery_count: 2 }] })),
        stats({
          pending: 1,
          in_flight: 1,
          delayed: 1,
          dlq_depth: 0,
          published: 4,
          acked: 1,
          redelivered: 1,
          dead_lettered: 0,
          queues: [
            { queue_id: 0, pending: 0, in_flight: 1, delayed: 0, published: 2, acked: 1 },
            { queue_id: 1, pending: 1, in_flight: 0, delayed: 1, published: 2, acked: 0 },
          ],
        }),
      ],
    },
  ],

  // docs/DESIGN.md, "Pause": publishes accepted, deliveries held; idempotent.
  pause_topic: [
    {
      name: 'a paused topic takes publishes, consume answers empty, resume delivers in order',
      topic: 1,
      steps: [
        step('pause_topic', {}, ok({ paused: true })),
        step('pause_topic', {}, ok({ paused: true })),
        publish('a'),
        publish('b'),
        step('consume', { batch_size: 5 }, ok({ messages: [] })),
        stats({ pending: 2, paused: true }),
        step('list_topics', {}, okLike({ topics: [{ name: 't', paused: true }] })),
        step('resume_topic', {}, ok({ paused: false })),
        step('consume', { batch_size: 5, auto_ack: true }, okLike({ messages: [{ id: '$m1', payload: 'a' }, { id: '$m2', payload: 'b' }] })),
      ],
    },
    {
      name: 'an in-flight message is acked while paused',
      topic: 1,
      steps: [
        publish('a'),
        step('consume', {}, okLike({ messages: [{ id: '$m1' }] })),
        step('pause_topic', {}, ok({ paused: true })),
        step('ack', { message_ids: ['$m1'] }),
        stats({ pending: 0, in_flight: 0, acked: 1, paused: true }),
      ],
    },
  ],

  resume_topic: [
    {
      name: 'resuming a running topic changes nothing',
      topic: 1,
      steps: [step('resume_topic', {}, ok({ paused: false })), stats({ paused: false })],
    },
  ],

  // docs/DESIGN.md, "Purge": pending and held messages go; in-flight stay.
  purge: [
    {
      name: 'every queue: the count purged; in-flight stay',
      topic: 2,
      steps: [
        publish('a', { queue_id: 0 }),
        publish('b', { queue_id: 1 }),
        publish('c', { queue_id: 1 }),
        publish('later', { queue_id: 1, delay_ms: 60_000 }),
        step('consume', { queue_id: 0 }, okLike({ messages: [{ id: '$m1' }] })),
        step('purge', {}, ok({ purged: 3 })),
        stats({ pending: 0, delayed: 0, in_flight: 1, purged: 3 }),
      ],
    },
    {
      name: 'one queue: the others keep theirs',
      topic: 2,
      steps: [
        publish('a', { queue_id: 0 }),
        publish('b', { queue_id: 1 }),
        step('purge', { queue_id: 1 }, ok({ purged: 1 })),
        stats({ queues: [{ queue_id: 0, pending: 1 }, { queue_id: 1, pending: 0 }] }),
      ],
    },
    {
      name: 'queue_id 0 is queue 0, not every queue',
      topic: 2,
      steps: [publish('a', { queue_id: 0 }), publish('b', { queue_id: 1 }), step('purge', { queue_id: 0 }, ok({ purged: 1 })), stats({ pending: 1 })],
    },
    {
      name: 'queue_id null (JSON) is absent: every queue',
      topic: 2,
      cannotExpress: JSON_ONLY,
      steps: [publish('a', { queue_id: 0 }), publish('b', { queue_id: 1 }), step('purge', { queue_id: null }, ok({ purged: 2 }))],
    },
    {
      name: 'the dead-letter queue only',
      topic: 1,
      steps: [
        publish('dead'),
        publish('alive'),
        step('consume', {}, okLike({ messages: [{ id: '$m1' }] })),
        step('nack', { message_ids: ['$m1'], dead_letter: true }),
        step('purge', { dlq: true }, ok({ purged: 1 })),
        stats({ dlq_depth: 0, pending: 1, purged: 1 }),
      ],
    },
    {
      name: 'a queue out of range is NOT_FOUND and nothing is purged',
      topic: 2,
      steps: [publish('a', { queue_id: 0 }), step('purge', { queue_id: 2 }, fail('NOT_FOUND', 'queue 2')), stats({ pending: 1, purged: 0 })],
    },
    {
      name: 'queue_id with dlq is INVALID_ARGUMENT and nothing is purged',
      topic: 1,
      steps: [publish('a'), step('purge', { queue_id: 0, dlq: true }, fail('INVALID_ARGUMENT', 'not both')), stats({ pending: 1, purged: 0 })],
    },
  ],
};

/**
 * Every operation on a topic, in an unknown namespace and on an unknown
 * topic, is NOT_FOUND, also when a value of the request is out of range:
 * the docs do not order the checks, and the broker looks the topic up
 * first for every operation (ranges can depend on the topic). Only a
 * malformed JSON shape, which protobuf cannot even carry, is refused by a
 * JSON front before any lookup.
 */
const ON_TOPIC: [keyof typeof TABLE, Record<string, unknown>, Record<string, unknown> | undefined][] = [
  ['publish', { payload: 1 }, { payload: 1, delay_ms: -1 }],
  ['publish_batch', { entries: [{ payload: 1 }] }, { entries: [1, 2, 3, 4, 5, 6].map((payload) => ({ payload })) }],
  ['consume', {}, { batch_size: 6 }],
  ['subscribe', {}, { max_inflight: 0 }],
  ['ack', { message_ids: [UNKNOWN_ID] }, undefined],
  ['nack', { message_ids: [UNKNOWN_ID] }, { message_ids: [UNKNOWN_ID], delay_ms: -1 }],
  ['renew_lease', { message_ids: [UNKNOWN_ID], extend_ms: 1000 }, { message_ids: [UNKNOWN_ID], extend_ms: 0 }],
  ['peek', {}, { limit: 101 }],
  ['consume_dlq', {}, { batch_size: 6 }],
  ['redrive_dlq', {}, { max: -1 }],
  ['set_topic_policy', { max_retries: 1 }, { max_retries: -2 }],
  ['get_topic_stats', {}, undefined],
  ['pause_topic', {}, undefined],
  ['resume_topic', {}, undefined],
  ['purge', {}, { queue_id: 9 }],
];
for (const [op, valid, invalidArgs] of ON_TOPIC) {
  const list = TABLE[op]!;
  const add = (s: Scenario): void => {
    if (!list.some((x) => x.name === s.name)) list.push(s);
  };
  add({ name: 'in an unknown namespace is NOT_FOUND', steps: [step(op as Op, { namespace: '$ns-missing', ...valid }, fail('NOT_FOUND', "namespace '$ns-missing'"))] });
  add({ name: 'an unknown topic is NOT_FOUND', steps: [step(op as Op, valid, fail('NOT_FOUND', "topic 't'"))] });
  if (invalidArgs) add({ name: 'a value out of range on an unknown topic is NOT_FOUND', steps: [step(op as Op, invalidArgs, fail('NOT_FOUND', "topic 't'"))] });
}

for (const [op, scenarios] of Object.entries(TABLE)) {
  describe(op, () => {
    // An encoding that cannot express a scenario at all has no case for it (the reason is beside the scenario).
    for (const s of scenarios) {
      const encodings = ENCODINGS.filter((enc) => s.cannotExpress?.[enc] === undefined);
      for (const enc of encodings) {
        it(`${s.name} [${enc}]`, async () => {
          const transcript: Outcome[] = [];
          transcripts.set(`${op}\0${s.name}\0${enc}`, transcript);
          await play(fronts, enc, s, transcript);
        });
      }
      // Beyond the written expectations: every step (setup steps too) answered alike over every encoding.
      it(`${s.name} [the encodings agree step by step]`, () => {
        const [first, ...rest] = encodings.map((enc) => ({ enc, t: transcripts.get(`${op}\0${s.name}\0${enc}`) }));
        for (const r of rest) expect(r.t, `${r.enc} against ${first!.enc}`).toEqual(first!.t);
      });
    }
  });
}
