/**
 * The fronts' command table: every operation of the wire contract, by its
 * name (the TCP action, the gRPC method in snake_case), declared once in
 * admin.ts, messages.ts or dlq.ts with its access, its input mapping and
 * its result mapping (command.ts). The three fronts are codecs over it.
 */
import type { DescMessage } from '@bufbuild/protobuf';
import { PublishStreamRequestSchema } from '../../../gen/mqlite/v1/mqlite_pb.js';
import type { Access } from '../../auth/access.js';
import type { AnyCommand, Decoded } from './command.js';
import {
  createNamespace,
  createTopic,
  deleteNamespace,
  deleteTopic,
  getTopicStats,
  listNamespaces,
  listTopics,
  metrics,
  pauseTopic,
  purge,
  rebalanceTopic,
  resizeTopic,
  resumeTopic,
  rewriteAof,
  setTopicPolicy,
} from './admin.js';
import { consumeDlq, peek, redriveDlq } from './dlq.js';
import { ack, consume, nack, publish, publishBatch, renewLease, subscribe } from './messages.js';

export { metrics, rewriteAof } from './admin.js';
export { publish, subscribe } from './messages.js';

/** The request-response commands, by name. */
export const COMMANDS = {
  create_namespace: createNamespace,
  delete_namespace: deleteNamespace,
  list_namespaces: listNamespaces,
  create_topic: createTopic,
  delete_topic: deleteTopic,
  list_topics: listTopics,
  resize_topic: resizeTopic,
  rebalance_topic: rebalanceTopic,
  publish,
  consume,
  ack,
  publish_batch: publishBatch,
  nack,
  renew_lease: renewLease,
  peek,
  consume_dlq: consumeDlq,
  redrive_dlq: redriveDlq,
  set_topic_policy: setTopicPolicy,
  get_topic_stats: getTopicStats,
  pause_topic: pauseTopic,
  resume_topic: resumeTopic,
  purge,
} as const;

export type CommandName = keyof typeof COMMANDS;

/** The command named `name`, if it is one. */
export function commandNamed(name: string): AnyCommand | undefined {
  return Object.hasOwn(COMMANDS, name) ? (COMMANDS[name as CommandName] as AnyCommand) : undefined;
}

/**
 * The command or subscription whose request is `message`: how a gRPC method
 * finds its entry. PublishStream's is `publish`, run once per entry.
 */
export function operationOfRequest(message: DescMessage): AnyCommand | Decoded | undefined {
  if (message === subscribe.request) return subscribe as Decoded;
  if (message === PublishStreamRequestSchema) return publish as AnyCommand;
  return Object.values(COMMANDS).find((c) => c.request === message) as AnyCommand | undefined;
}

/** Every operation an API key is checked for, on some front. */
export const OPERATIONS: readonly Access[] = [...Object.values(COMMANDS), subscribe, rewriteAof, metrics];
