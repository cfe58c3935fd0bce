/**
 * The common request shape of the TCP front. Both decoders (JSON and
 * protobuf) produce a `Command`; one handler per action runs it against the
 * broker; the reply is then encoded in the encoding of the request
 * (PROTOCOL.md, "TCP framing": "A response uses the encoding of the request
 * it answers").
 */
import type { Delivery } from '../../broker/message.js';

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
  };
  consume: { namespace: string; topic: string; queueId: number; batchSize: number; autoAck: boolean };
  subscribe: { namespace: string; topic: string; queueId: number; autoAck: boolean };
  ack: { namespace: string; topic: string; queueId: number; messageIds: string[] };
}

export type Action = keyof CommandArgs;

export interface CommandResults {
  create_namespace: void;
  delete_namespace: void;
  list_namespaces: string[];
  create_topic: void;
  delete_topic: void;
  list_topics: { name: string; queueCount: number; version: bigint }[];
  resize_topic: { newQueueCount: number; version: bigint; draining: boolean };
  rebalance_topic: void;
  publish: { messageId: string; queueId: number };
  consume: readonly Delivery[];
  subscribe: void;
  ack: void;
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
