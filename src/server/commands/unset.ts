/**
 * The proto's unset rules (docs/PROTOCOL.md, "Unset and zero values"), the
 * one place where a request's fields become the Broker call's arguments
 * when they are not passed as they are. Every front reads a field through
 * these, so a field means the same over gRPC, TCP (JSON or protobuf) and
 * HTTP: `limit` 0 is 20, `preview_bytes` 0 and `max` 0 are all, an empty
 * `routing_key`, `dedup_id` or `cursor` is none, an absent `optional`
 * field is unset and its 0 is a real 0.
 */
import type { BatchEntry, BatchMode, PeekOptions, TopicPolicyInput } from '../../broker/broker.js';
import { invalid } from '../../broker/errors.js';
import {
  BatchMode as WireBatchMode,
  PeekOrder,
  type PeekRequestSchema,
  type PublishRequestSchema,
  type SetTopicPolicyRequestSchema,
} from '../../../gen/mqlite/v1/mqlite_pb.js';
import type { RequestOf } from './command.js';

/** A plain proto3 number whose 0 the proto documents as "the default" or "all". */
export function zeroIsUnset(n: number): number | undefined {
  return n === 0 ? undefined : n;
}

/** A plain proto3 string whose empty value means none. */
export function emptyIsNone(s: string): string | undefined {
  return s === '' ? undefined : s;
}

/**
 * int64 milliseconds to the core's number. A value past 2^53 loses
 * precision but stays far past every range the core accepts, so the core
 * still refuses it, with its own message.
 */
export function ms(v: bigint | number): number {
  return typeof v === 'number' ? v : Number(v);
}

/** An `optional int64` of milliseconds: absent stays unset. */
export function optionalMs(v: bigint | number | undefined): number | undefined {
  return v === undefined ? undefined : ms(v);
}

/** The fields of a publish, shared by `PublishRequest` and each `PublishBatchEntry`. */
type PublishFields = Pick<RequestOf<typeof PublishRequestSchema>, 'payload' | 'headers' | 'routingKey' | 'queueId' | 'dedupId' | 'delayMs' | 'deliverAtMs' | 'ttlMs'> & {
  readonly namespace?: string;
  readonly topic?: string;
};

/**
 * One publish: where, and the options the core reads (it is a BatchEntry,
 * so the Broker call takes it as its options: one object per publish).
 */
export interface PublishInput extends BatchEntry {
  readonly namespace: string;
  readonly topic: string;
}

/**
 * A publish or a batch entry (whose namespace and topic are the batch's).
 * `queue_id` absent or -1 routes automatically; `delay_ms`,
 * `deliver_at_ms` and `ttl_ms` absent are unset. The payload may be a view into the
 * frame: the core copies it.
 */
export function publishInput(req: PublishFields): PublishInput {
  return {
    namespace: req.namespace ?? '',
    topic: req.topic ?? '',
    payload: req.payload,
    headers: req.headers,
    routingKey: emptyIsNone(req.routingKey),
    queueId: req.queueId,
    dedupId: emptyIsNone(req.dedupId),
    delayMs: optionalMs(req.delayMs),
    deliverAt: optionalMs(req.deliverAtMs),
    ttlMs: optionalMs(req.ttlMs),
  };
}

/** `limit` 0 is the core's default (20); `preview_bytes` 0 and an empty cursor mean none. */
export function peekOptions(req: RequestOf<typeof PeekRequestSchema>): PeekOptions {
  return {
    cursor: emptyIsNone(req.cursor),
    limit: zeroIsUnset(req.limit),
    order: peekOrderOf(req.order),
    previewBytes: zeroIsUnset(req.previewBytes),
  };
}

/** Absent fields keep their current value (the core merges what is given); 0 is a real 0. */
export function policyInput(req: RequestOf<typeof SetTopicPolicyRequestSchema>): TopicPolicyInput {
  const input: TopicPolicyInput = {};
  if (req.maxRetries !== undefined || req.retryBaseMs !== undefined || req.retryCapMs !== undefined) {
    input.retry = { maxRetries: req.maxRetries, baseMs: optionalMs(req.retryBaseMs), capMs: optionalMs(req.retryCapMs) };
  }
  if (req.dedupWindowMs !== undefined) input.dedupWindowMs = ms(req.dedupWindowMs);
  if (req.ackTimeoutMs !== undefined) input.ackTimeoutMs = ms(req.ackTimeoutMs);
  if (req.messageTtlMs !== undefined) input.messageTtlMs = ms(req.messageTtlMs);
  if (req.deadLetterExpired !== undefined) input.deadLetterExpired = req.deadLetterExpired;
  return input;
}

/** BatchMode as the core's; UNSPECIFIED is partial. */
export function batchModeOf(mode: WireBatchMode): BatchMode {
  switch (mode) {
    case WireBatchMode.UNSPECIFIED:
    case WireBatchMode.PARTIAL:
      return 'partial';
    case WireBatchMode.ATOMIC:
      return 'atomic';
    default:
      throw invalid(`batch mode ${mode as number} is not a BatchMode value: use BATCH_MODE_PARTIAL (1) or BATCH_MODE_ATOMIC (2)`);
  }
}

/** PeekOrder as the core's; UNSPECIFIED is ascending. */
export function peekOrderOf(order: PeekOrder): NonNullable<PeekOptions['order']> {
  switch (order) {
    case PeekOrder.UNSPECIFIED:
    case PeekOrder.ASC:
      return 'asc';
    case PeekOrder.DESC:
      return 'desc';
    default:
      throw invalid(`order ${order as number} is not a PeekOrder value: use PEEK_ORDER_ASC (1) or PEEK_ORDER_DESC (2)`);
  }
}
