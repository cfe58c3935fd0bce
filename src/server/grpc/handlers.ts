/**
 * The eleven unary RPCs of MQLiteService as a table: decode is done by the
 * service definition, each entry calls the broker and returns the response
 * fields (PROTOCOL.md, "gRPC"). Validation lives in the core; errors thrown
 * here are mapped once, in errors.ts.
 */
import type { Broker } from '../../broker/broker.js';
import type { RequestOf, ResponseInit, UnaryMethodName } from './definition.js';
import { wireMessage } from './wire.js';

export type UnaryHandlers = {
  readonly [K in UnaryMethodName]: (req: RequestOf<K>) => Promise<ResponseInit<K>>;
};

export function unaryHandlers(broker: Broker): UnaryHandlers {
  return {
    async createNamespace(req) {
      await broker.createNamespace(req.name);
      return { success: true, message: 'namespace created' };
    },
    async deleteNamespace(req) {
      await broker.deleteNamespace(req.name);
      return { success: true, message: 'namespace deleted' };
    },
    async listNamespaces() {
      return { namespaces: broker.listNamespaces() };
    },
    async createTopic(req) {
      await broker.createTopic(req.namespace, req.name, req.queueCount);
      return { success: true, message: 'topic created' };
    },
    async deleteTopic(req) {
      await broker.deleteTopic(req.namespace, req.name);
      return { success: true, message: 'topic deleted' };
    },
    async listTopics(req) {
      return { topics: broker.listTopics(req.namespace) };
    },
    async resizeTopic(req) {
      const r = await broker.resizeTopic(req.namespace, req.name, req.newQueueCount);
      return { success: true, message: 'topic resized', newQueueCount: r.newQueueCount, version: r.version, draining: r.draining };
    },
    async rebalanceTopic(req) {
      await broker.rebalanceTopic(req.namespace, req.name);
      return { success: true, message: 'topic rebalanced' };
    },
    async publish(req) {
      // PROTOCOL.md: `queue_id` absent (old clients leaving it 0) or -1 routes
      // automatically. The payload is a view into the frame: the core copies
      // it. An empty header map or routing key means none, to the core too.
      const r = await broker.publish(req.namespace, req.topic, req.payload, {
        headers: req.headers,
        routingKey: req.routingKey,
        queueId: req.queueId,
      });
      return { messageId: r.messageId, queueId: r.queueId };
    },
    async consume(req) {
      const batch = await broker.consume(req.namespace, req.topic, req.queueId, req.batchSize, req.autoAck);
      return { messages: batch.map(wireMessage) };
    },
    async ack(req) {
      await broker.ack(req.namespace, req.topic, req.queueId, req.messageIds);
      return { success: true };
    },
  };
}
