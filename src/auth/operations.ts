/**
 * What each broker operation needs from an API key (issue 7, item 1): one
 * of the permissions read, write or admin, and a scope:
 *
 * - `namespace`: acts inside one namespace; a key limited to namespaces
 *   must list it (create/delete namespace: the namespace being created or
 *   deleted).
 * - `list`: lists namespaces; a limited key is allowed and sees only its own.
 * - `global`: spans every namespace (AOF rewrite, metrics); refused to a key
 *   limited to namespaces.
 *
 * Every front maps each of its commands to one of these operations in a
 * table typed over its own command list, so a command cannot be added to a
 * front without deciding what it needs (test/auth/operations.test.ts walks
 * the three tables).
 */

export type Permission = 'read' | 'write' | 'admin';
export const PERMISSIONS: readonly Permission[] = ['read', 'write', 'admin'];

export type Scope = 'namespace' | 'list' | 'global';

export interface OperationRule {
  readonly permission: Permission;
  readonly scope: Scope;
}

const read = { permission: 'read', scope: 'namespace' } as const;
const write = { permission: 'write', scope: 'namespace' } as const;
const admin = { permission: 'admin', scope: 'namespace' } as const;

export const OPERATIONS = {
  // reading and consuming: a consumer acks, nacks and renews what it took
  list_namespaces: { permission: 'read', scope: 'list' },
  list_topics: read,
  consume: read,
  subscribe: read,
  ack: read,
  nack: read,
  renew_lease: read,
  peek: read,
  consume_dlq: read,
  get_topic_stats: read,
  // producing (delayed publish and dedup are options of publish)
  publish: write,
  publish_batch: write,
  // shaping the broker
  create_namespace: admin,
  delete_namespace: admin,
  create_topic: admin,
  delete_topic: admin,
  resize_topic: admin,
  rebalance_topic: admin,
  set_topic_policy: admin,
  redrive_dlq: admin,
  rewrite_aof: { permission: 'admin', scope: 'global' },
  // GET /metrics shows every namespace's topics and depths
  metrics: { permission: 'read', scope: 'global' },
} as const satisfies Record<string, OperationRule>;

export type Operation = keyof typeof OPERATIONS;

export function isOperation(s: string): s is Operation {
  return Object.hasOwn(OPERATIONS, s);
}
