import type { Broker } from '../broker/broker.js';

/**
 * What a front reaches the broker through, once per request or
 * subscription: a Broker is one (it serves itself), and so is a cluster
 * node, which hands out the broker it owns or throws UNAVAILABLE naming
 * the owner while it stands by (docs/DESIGN.md, "Cluster").
 */
export interface BrokerAccess {
  serving(): Broker;
}

/** What every front (gRPC, HTTP, TCP) returns when started. */
export interface FrontHandle {
  /** The port actually bound (useful when started on port 0). */
  readonly port: number;
  /**
   * Stops accepting connections, answers the requests already read, ends
   * subscriptions, then resolves. The broker is closed after every front.
   */
  close(): Promise<void>;
  /** Open connections and subscriptions now, for GET /metrics (where the front can tell). */
  counts?(): { connections?: number; subscriptions?: number };
}

/**
 * Per-front connection limits (docs/PROTOCOL.md, "Limits"): `limits.max_connections`
 * counts each front's connections on its own; `limits.max_subscriptions_per_connection`
 * counts the TCP subscriptions of one connection and the gRPC Subscribe
 * streams of one HTTP/2 connection (an SSE stream is its own HTTP
 * connection, so max_connections bounds those).
 */
export interface ConnectionLimits {
  /** Default DEFAULT_MAX_CONNECTIONS. */
  maxConnections?: number;
  /** Default DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION. */
  maxSubscriptionsPerConnection?: number;
}

export const DEFAULT_MAX_CONNECTIONS = 10_000;
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;

/** How long a connection over `limits.max_connections` is kept to be told why before it is cut (every front). */
export const REFUSED_CONNECTION_GRACE_MS = 2_000;

/** The reason a connection over `limits.max_connections` is refused with (RESOURCE_EXHAUSTED on every front). */
export function connectionLimitMessage(front: string, max: number): string {
  return `connection refused: the ${front} front already holds ${max} connections (limits.max_connections): close idle connections, retry later, or raise the limit`;
}

/** The reason a subscription over `limits.max_subscriptions_per_connection` is refused with. */
export function subscriptionLimitMessage(max: number, where: string): string {
  return `subscription refused: this ${where} already holds ${max} subscriptions (limits.max_subscriptions_per_connection): close one, open another connection, or raise the limit`;
}
