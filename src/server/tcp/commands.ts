/**
 * The common request shape of the TCP front. Both decoders (JSON and
 * protobuf) produce a `Command`; one handler per action runs it against the
 * broker; the reply is then encoded in the encoding of the request
 * (PROTOCOL.md, "TCP framing": "A response uses the encoding of the request
 * it answers").
 */
import type {
  BatchEntry,
  BatchItemResult,
  BatchMode,
  NackResult,
  PeekOptions,
  PeekResult,
  TopicInfo,
  TopicPolicyInput,
  TopicPolicy,
  TopicStats,
} from '../../broker/broker.js';
import type { Delivery } from '../../broker/message.js';
import type { TcpAction } from '../../protocol/tcp-actions.js';

export interface CommandArgs {
  create_namespace: { name: string };
  delete_namespace: { name: string };
  list_namespaces: Record<string, never>;
  create_topic: { namespace: string; name: string; queueCount: number };
  delete_topic: { namespace: string; name: string };
  list_topics: { namespace: string };
  resize_topic: { namespace: string; name: string; newQueueCount: number };
  rebalance_topic: { namespace: string; name: string };
  publish: {
    namespace: string;
    topic: string;
    /** May be a view into the frame: the core copies it. */
    payload: Uint8Array;
    headers: Record<string, string> | undefined;
    routingKey: string | undefined;
    /** Undefined or -1: automatic routing. */
    queueId: number | undefined;
    /** Extensions (issue 8); undefined: not given. */
    dedupId: string | undefined;
    delayMs: number | undefined;
    deliverAt: number | undefined;
  };
  consume: { namespace: string; topic: string; queueId: number; batchSize: number; autoAck: boolean };
  subscribe: { namespace: string; topic: string; queueId: number; autoAck: boolean };
  ack: { namespace: string; topic: string; queueId: number; messageIds: string[] };
  // Extensions (issue 8). Optional fields are undefined when the wire leaves them unset.
  publish_batch: { namespace: string; topic: string; entries: BatchEntry[]; mode: BatchMode };
  nack: { namespace: string; topic: string; queueId: number; messageIds: string[]; delayMs: number | undefined };
  renew_lease: { namespace: string; topic: string; queueId: number; messageIds: string[]; extendMs: number };
  /** `dlq`: the topic's dead-letter queue, whatever `queueId` says. */
  peek: { namespace: string; topic: string; queueId: number; dlq: boolean; options: PeekOptions };
  consume_dlq: { namespace: string; topic: string; batchSize: number; autoAck: boolean };
  /** `max` undefined: everything. */
  redrive_dlq: { namespace: string; topic: string; max: number | undefined };
  set_topic_policy: { namespace: string; topic: string; policy: TopicPolicyInput };
  get_topic_stats: { namespace: string; topic: string };
  // Extension (issue 7): the first command of a connection when the broker has API keys.
  auth: { apiKey: string };
}

export type Action = keyof CommandArgs;

// This table and the protocol's list of actions (with their protobuf field
// numbers) name the same actions: adding one to either without the other
// does not compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameActions: Same<Action, TcpAction> = true;
void sameActions;

export interface CommandResults {
  create_namespace: void;
  delete_namespace: void;
  list_namespaces: string[];
  create_topic: void;
  delete_topic: void;
  list_topics: TopicInfo[];
  resize_topic: { newQueueCount: number; version: bigint; draining: boolean };
  rebalance_topic: void;
  publish: { messageId: string; queueId: number; duplicate?: true };
  consume: readonly Delivery[];
  subscribe: void;
  ack: void;
  publish_batch: BatchItemResult[];
  nack: NackResult;
  renew_lease: void;
  peek: PeekResult;
  consume_dlq: readonly Delivery[];
  redrive_dlq: { moved: number };
  set_topic_policy: TopicPolicy;
  get_topic_stats: TopicStats;
  auth: void;
}

/** A decoded command of one action. */
export interface CommandOf<A extends Action> {
  readonly action: A;
  readonly args: CommandArgs[A];
}

export type Command = { [A in Action]: CommandOf<A> }[Action];

export const ACTIONS: readonly Action[] = [
  'create_namespace',
  'delete_namespace',
  'list_namespaces',
  'create_topic',
  'delete_topic',
  'list_topics',
  'resize_topic',
  'rebalance_topic',
  'publish',
  'consume',
  'subscribe',
  'ack',
  'publish_batch',
  'nack',
  'renew_lease',
  'peek',
  'consume_dlq',
  'redrive_dlq',
  'set_topic_policy',
  'get_topic_stats',
  'auth',
];

const actionSet: ReadonlySet<string> = new Set(ACTIONS);

export function isAction(s: string): s is Action {
  return actionSet.has(s);
}

/**
 * A request the front cannot run: malformed body, unknown action, missing
 * or mistyped field, unknown encoding. Answered with an error frame; the
 * connection stays usable (PROTOCOL.md, "Extensions on TCP").
 */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** A policy change from the flat wire fields: what is given replaces the current value. */
export function policyInput(
  maxRetries: number | undefined,
  retryBaseMs: number | undefined,
  retryCapMs: number | undefined,
  dedupWindowMs: number | undefined,
): TopicPolicyInput {
  const input: TopicPolicyInput = {};
  if (maxRetries !== undefined || retryBaseMs !== undefined || retryCapMs !== undefined) {
    input.retry = {};
    if (maxRetries !== undefined) input.retry.maxRetries = maxRetries;
    if (retryBaseMs !== undefined) input.retry.baseMs = retryBaseMs;
    if (retryCapMs !== undefined) input.retry.capMs = retryCapMs;
  }
  if (dedupWindowMs !== undefined) input.dedupWindowMs = dedupWindowMs;
  return input;
}
