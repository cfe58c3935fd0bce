/**
 * The TCP front's command table: one entry per action of PROTOCOL.md,
 * shared by both encodings. Each entry calls the broker (`run`) and gives
 * the reply's `data` as JSON text (`json`) and as the protobuf message of
 * the matching `TCPResponse.data` case (`pb`; undefined: no data).
 */
import type { Broker } from '../../broker/broker.js';
import { messageJson } from '../json-payload.js';
import type { Action, CommandArgs, CommandResults } from './commands.js';
import { PbBuilder, encodeMessages } from './pb-builder.js';

export interface HandlerContext {
  readonly broker: Broker;
  /** Opens a push subscription on this connection; throws BrokerError (NOT_FOUND...). */
  subscribe(args: CommandArgs['subscribe']): void;
}

export interface ActionSpec<A extends Action> {
  run(ctx: HandlerContext, args: CommandArgs[A]): Promise<CommandResults[A]> | CommandResults[A];
  json(result: CommandResults[A]): string;
  pb(result: CommandResults[A]): Uint8Array | undefined;
}

/** `{success: true, message}`: the reply of create/delete/rebalance (PROTOCOL.md, "gRPC"). */
function done(message: string): Uint8Array {
  return new PbBuilder(32).bool(1, true).string(2, message).finish();
}

const NS_CREATED = '"namespace created"';
const NS_DELETED = '"namespace deleted"';
const TOPIC_CREATED = '"topic created"';
const TOPIC_DELETED = '"topic deleted"';
const TOPIC_REBALANCED = '"topic rebalanced"';
const ACKED = '"messages acknowledged"';
const SUBSCRIBED = '"subscribed"';
const PB_NS_CREATED = done('namespace created');
const PB_NS_DELETED = done('namespace deleted');
const PB_TOPIC_CREATED = done('topic created');
const PB_TOPIC_DELETED = done('topic deleted');
const PB_TOPIC_REBALANCED = done('topic rebalanced');
const PB_ACKED = new PbBuilder(2).bool(1, true).finish();

export const handlers: { readonly [A in Action]: ActionSpec<A> } = {
  create_namespace: {
    run: (c, a) => c.broker.createNamespace(a.name),
    json: () => NS_CREATED,
    pb: () => PB_NS_CREATED,
  },
  delete_namespace: {
    run: (c, a) => c.broker.deleteNamespace(a.name),
    json: () => NS_DELETED,
    pb: () => PB_NS_DELETED,
  },
  list_namespaces: {
    run: (c) => c.broker.listNamespaces(),
    json: (names) => JSON.stringify(names),
    pb: (names) => {
      const b = new PbBuilder();
      // repeated string: every element, even an empty one
      for (const n of names) b.message(1, Buffer.from(n, 'utf8'));
      return b.finish();
    },
  },
  create_topic: {
    run: (c, a) => c.broker.createTopic(a.namespace, a.name, a.queueCount),
    json: () => TOPIC_CREATED,
    pb: () => PB_TOPIC_CREATED,
  },
  delete_topic: {
    run: (c, a) => c.broker.deleteTopic(a.namespace, a.name),
    json: () => TOPIC_DELETED,
    pb: () => PB_TOPIC_DELETED,
  },
  list_topics: {
    run: (c, a) => c.broker.listTopics(a.namespace),
    json: (topics) =>
      `[${topics.map((t) => `{"name":${JSON.stringify(t.name)},"queue_count":${t.queueCount},"version":${t.version}}`).join(',')}]`,
    pb: (topics) => {
      const b = new PbBuilder();
      for (const t of topics) b.message(1, new PbBuilder().string(1, t.name).int32(2, t.queueCount).uint64(3, t.version).finish());
      return b.finish();
    },
  },
  resize_topic: {
    run: (c, a) => c.broker.resizeTopic(a.namespace, a.name, a.newQueueCount),
    json: (r) => `{"new_queue_count":${r.newQueueCount},"version":${r.version},"draining":${r.draining}}`,
    pb: (r) =>
      new PbBuilder()
        .bool(1, true)
        .string(2, r.draining ? 'topic resize started: draining' : 'topic resized')
        .int32(3, r.newQueueCount)
        .uint64(4, r.version)
        .bool(5, r.draining)
        .finish(),
  },
  rebalance_topic: {
    run: (c, a) => c.broker.rebalanceTopic(a.namespace, a.name),
    json: () => TOPIC_REBALANCED,
    pb: () => PB_TOPIC_REBALANCED,
  },
  publish: {
    run: (c, a) =>
      c.broker.publish(a.namespace, a.topic, a.payload, { headers: a.headers, routingKey: a.routingKey, queueId: a.queueId }),
    // ids are UUIDs: nothing to escape
    json: (r) => `{"message_id":"${r.messageId}","queue_id":${r.queueId}}`,
    pb: (r) => new PbBuilder(48).string(1, r.messageId).int32(2, r.queueId).finish(),
  },
  consume: {
    run: (c, a) => c.broker.consume(a.namespace, a.topic, a.queueId, a.batchSize, a.autoAck),
    json: (msgs) => `[${msgs.map(messageJson).join(',')}]`,
    pb: (msgs) => encodeMessages(msgs),
  },
  subscribe: {
    run: (c, a) => c.subscribe(a),
    json: () => SUBSCRIBED,
    // PROTOCOL.md: "A protobuf subscribe is answered first by TCPResponse{status:"ok"} with no data"
    pb: () => undefined,
  },
  ack: {
    run: (c, a) => c.broker.ack(a.namespace, a.topic, a.queueId, a.messageIds),
    json: () => ACKED,
    pb: () => PB_ACKED,
  },
};
