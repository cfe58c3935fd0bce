/**
 * Looking into queues and the dead-letter queue: peek, consume_dlq and
 * redrive_dlq (docs/PROTOCOL.md, "Operations": "Peek", "Dead-letter queue").
 */
import {
  ConsumeDlqRequestSchema,
  ConsumeDlqResponseSchema,
  PeekRequestSchema,
  PeekResponseSchema,
  RedriveDlqRequestSchema,
  RedriveDlqResponseSchema,
} from '../../../gen/mqlite/v1/mqlite_pb.js';
import { AT_TOPIC } from './admin.js';
import { command } from './command.js';
import { deliveries } from './messages.js';
import { peekOptions, zeroIsUnset } from './unset.js';
import { peekResultJson, wirePeekResult } from './values.js';

export const peek = command({
  name: 'peek',
  permission: 'read',
  scope: 'namespace',
  request: PeekRequestSchema,
  response: PeekResponseSchema,
  required: AT_TOPIC,
  // `dlq`: the topic's dead-letter queue, whatever queue_id says.
  input: (req) => ({ namespace: req.namespace, topic: req.topic, queueId: req.queueId, dlq: req.dlq, options: peekOptions(req) }),
  run: (broker, i) => (i.dlq ? broker.peekDlq(i.namespace, i.topic, i.options) : broker.peek(i.namespace, i.topic, i.queueId, i.options)),
  reply: { pb: wirePeekResult, json: peekResultJson },
});

export const consumeDlq = command({
  name: 'consume_dlq',
  permission: 'read',
  scope: 'namespace',
  request: ConsumeDlqRequestSchema,
  response: ConsumeDlqResponseSchema,
  required: AT_TOPIC,
  input: (req) => req,
  run: (broker, req) => broker.consumeDlq(req.namespace, req.topic, req.batchSize, req.autoAck),
  reply: deliveries<typeof ConsumeDlqResponseSchema>(),
});

export const redriveDlq = command({
  name: 'redrive_dlq',
  permission: 'admin',
  scope: 'namespace',
  request: RedriveDlqRequestSchema,
  response: RedriveDlqResponseSchema,
  required: AT_TOPIC,
  // max 0 (or absent) moves everything, as the proto documents.
  input: (req) => ({ namespace: req.namespace, topic: req.topic, max: zeroIsUnset(req.max) }),
  run: (broker, i) => broker.redriveDlq(i.namespace, i.topic, { max: i.max }),
  reply: { pb: (r) => ({ success: true, moved: r.moved }), json: (r) => `{"moved":${r.moved}}` },
});
