/**
 * Shaping the broker: namespaces, topics, their policy and stats, and the
 * HTTP-only admin operations (docs/PROTOCOL.md, "Operations": "Namespaces",
 * "Topics", "AOF rewrite, health, metrics").
 */
import type { Access } from '../../auth/access.js';
import type { Broker, TopicInfo } from '../../broker/broker.js';
import {
  CreateNamespaceRequestSchema,
  CreateNamespaceResponseSchema,
  CreateTopicRequestSchema,
  CreateTopicResponseSchema,
  DeleteNamespaceRequestSchema,
  DeleteNamespaceResponseSchema,
  DeleteTopicRequestSchema,
  DeleteTopicResponseSchema,
  GetTopicStatsRequestSchema,
  GetTopicStatsResponseSchema,
  ListNamespacesRequestSchema,
  ListNamespacesResponseSchema,
  ListTopicsRequestSchema,
  ListTopicsResponseSchema,
  PauseTopicRequestSchema,
  PauseTopicResponseSchema,
  PurgeRequestSchema,
  PurgeResponseSchema,
  RebalanceTopicRequestSchema,
  RebalanceTopicResponseSchema,
  ResizeTopicRequestSchema,
  ResizeTopicResponseSchema,
  ResumeTopicRequestSchema,
  ResumeTopicResponseSchema,
  SetTopicPolicyRequestSchema,
  SetTopicPolicyResponseSchema,
} from '../../../gen/mqlite/v1/mqlite_pb.js';
import { command, done } from './command.js';
import { policyInput } from './unset.js';
import { policyJson, topicStatsJson, wirePolicy, wireTopicStats } from './values.js';

/** The fields that locate a topic, which every JSON front requires. */
export const AT_TOPIC = ['namespace', 'topic'] as const;

export const createNamespace = command({
  name: 'create_namespace',
  permission: 'admin',
  scope: 'namespace',
  request: CreateNamespaceRequestSchema,
  response: CreateNamespaceResponseSchema,
  required: ['name'],
  input: (req) => req,
  run: (broker, req) => broker.createNamespace(req.name),
  reply: done(CreateNamespaceResponseSchema, 'namespace created'),
});

export const deleteNamespace = command({
  name: 'delete_namespace',
  permission: 'admin',
  scope: 'namespace',
  request: DeleteNamespaceRequestSchema,
  response: DeleteNamespaceResponseSchema,
  required: ['name'],
  input: (req) => req,
  run: (broker, req) => broker.deleteNamespace(req.name),
  reply: done(DeleteNamespaceResponseSchema, 'namespace deleted'),
});

export const listNamespaces = command({
  name: 'list_namespaces',
  permission: 'read',
  scope: 'list',
  request: ListNamespacesRequestSchema,
  response: ListNamespacesResponseSchema,
  required: [],
  input: (req) => req,
  // a key limited to namespaces sees only its own
  run: (broker, _req, principal) => principal.visible(broker.listNamespaces()),
  reply: { pb: (namespaces) => ({ namespaces }), json: (namespaces) => JSON.stringify(namespaces) },
});

export const createTopic = command({
  name: 'create_topic',
  permission: 'admin',
  scope: 'namespace',
  request: CreateTopicRequestSchema,
  response: CreateTopicResponseSchema,
  required: ['namespace', 'name', 'queue_count'],
  input: (req) => req,
  run: (broker, req) => broker.createTopic(req.namespace, req.name, req.queueCount),
  reply: done(CreateTopicResponseSchema, 'topic created'),
});

export const deleteTopic = command({
  name: 'delete_topic',
  permission: 'admin',
  scope: 'namespace',
  request: DeleteTopicRequestSchema,
  response: DeleteTopicResponseSchema,
  required: ['namespace', 'name'],
  input: (req) => req,
  run: (broker, req) => broker.deleteTopic(req.namespace, req.name),
  reply: done(DeleteTopicResponseSchema, 'topic deleted'),
});

const topicJson = (t: TopicInfo): string =>
  `{"name":${JSON.stringify(t.name)},"queue_count":${t.queueCount},"version":${t.version},"policy":${policyJson(t.policy)},"paused":${t.paused}}`;

export const listTopics = command({
  name: 'list_topics',
  permission: 'read',
  scope: 'namespace',
  request: ListTopicsRequestSchema,
  response: ListTopicsResponseSchema,
  required: ['namespace'],
  input: (req) => req,
  run: (broker, req) => broker.listTopics(req.namespace),
  reply: {
    pb: (topics) => ({ topics: topics.map((t) => ({ name: t.name, queueCount: t.queueCount, version: t.version, policy: wirePolicy(t.policy), paused: t.paused })) }),
    json: (topics) => `[${topics.map(topicJson).join(',')}]`,
  },
});

export const resizeTopic = command({
  name: 'resize_topic',
  permission: 'admin',
  scope: 'namespace',
  request: ResizeTopicRequestSchema,
  response: ResizeTopicResponseSchema,
  required: ['namespace', 'name', 'new_queue_count'],
  input: (req) => req,
  run: (broker, req) => broker.resizeTopic(req.namespace, req.name, req.newQueueCount),
  reply: {
    pb: (r) => ({
      success: true,
      message: r.draining ? 'topic resize started: draining' : 'topic resized',
      newQueueCount: r.newQueueCount,
      version: r.version,
      draining: r.draining,
    }),
    json: (r) => `{"new_queue_count":${r.newQueueCount},"version":${r.version},"draining":${r.draining}}`,
  },
});

export const rebalanceTopic = command({
  name: 'rebalance_topic',
  permission: 'admin',
  scope: 'namespace',
  request: RebalanceTopicRequestSchema,
  response: RebalanceTopicResponseSchema,
  required: ['namespace', 'name'],
  input: (req) => req,
  run: (broker, req) => broker.rebalanceTopic(req.namespace, req.name),
  reply: done(RebalanceTopicResponseSchema, 'topic rebalanced'),
});

export const setTopicPolicy = command({
  name: 'set_topic_policy',
  permission: 'admin',
  scope: 'namespace',
  request: SetTopicPolicyRequestSchema,
  response: SetTopicPolicyResponseSchema,
  required: AT_TOPIC,
  input: (req) => ({ namespace: req.namespace, topic: req.topic, policy: policyInput(req) }),
  run: (broker, i) => broker.setTopicPolicy(i.namespace, i.topic, i.policy),
  reply: { pb: (p) => ({ success: true, policy: wirePolicy(p) }), json: policyJson },
});

/** docs/DESIGN.md, "Pause": publishes accepted, deliveries held until resume. */
export const pauseTopic = command({
  name: 'pause_topic',
  permission: 'admin',
  scope: 'namespace',
  request: PauseTopicRequestSchema,
  response: PauseTopicResponseSchema,
  required: AT_TOPIC,
  input: (req) => req,
  run: (broker, req) => broker.pauseTopic(req.namespace, req.topic),
  reply: { pb: (r) => ({ success: true, paused: r.paused }), json: (r) => `{"paused":${r.paused}}` },
});

export const resumeTopic = command({
  name: 'resume_topic',
  permission: 'admin',
  scope: 'namespace',
  request: ResumeTopicRequestSchema,
  response: ResumeTopicResponseSchema,
  required: AT_TOPIC,
  input: (req) => req,
  run: (broker, req) => broker.resumeTopic(req.namespace, req.topic),
  reply: { pb: (r) => ({ success: true, paused: r.paused }), json: (r) => `{"paused":${r.paused}}` },
});

/** docs/DESIGN.md, "Purge": a queue (queue_id), every queue (absent), or the dead-letter queue (dlq). */
export const purge = command({
  name: 'purge',
  permission: 'admin',
  scope: 'namespace',
  request: PurgeRequestSchema,
  response: PurgeResponseSchema,
  required: AT_TOPIC,
  input: (req) => ({ namespace: req.namespace, topic: req.topic, options: { queueId: req.queueId, dlq: req.dlq } }),
  run: (broker, i) => broker.purge(i.namespace, i.topic, i.options),
  reply: { pb: (r) => ({ success: true, purged: BigInt(r.purged) }), json: (r) => `{"purged":${r.purged}}` },
});

export const getTopicStats = command({
  name: 'get_topic_stats',
  permission: 'read',
  scope: 'namespace',
  request: GetTopicStatsRequestSchema,
  response: GetTopicStatsResponseSchema,
  required: AT_TOPIC,
  input: (req) => req,
  run: (broker, req) => broker.topicStats(req.namespace, req.topic),
  reply: { pb: (stats) => ({ stats: wireTopicStats(stats) }), json: topicStatsJson },
});

type RewriteResult = Awaited<ReturnType<Broker['rewrite']>>;

/** HTTP only (`POST /v1/admin/aof/rewrite`): compact the AOF now; answers once the new base is in place. */
export const rewriteAof: Access & { run(broker: Broker): Promise<RewriteResult>; json(r: RewriteResult): string } = {
  name: 'rewrite_aof',
  permission: 'admin',
  scope: 'global',
  run: (broker) => broker.rewrite(),
  json: (r) => `{"records":${r.records},"bytes":${r.bytes},"seconds":${r.seconds}}`,
};

/** HTTP only (`GET /metrics`): it shows every namespace's topics and depths. */
export const metrics: Access = { name: 'metrics', permission: 'read', scope: 'global' };
