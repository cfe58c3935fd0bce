/**
 * A broker with its fronts in this process (the `mqlite/server` entry
 * point): what the `mqlite` command runs, for an application that embeds
 * a broker, or a test that wants a real one. Every setting is the config
 * of docs/DESIGN.md, "Configuration (config.yaml)".
 *
 *   import { loadConfig, startBroker } from 'mqlite/server';
 *   const running = await startBroker(loadConfig(undefined));   // the defaults
 *   // ... running.ports.tcp ...
 *   await running.close();
 */
import { createServer } from 'node:net';
import { FileStore } from '../aof/file-store.js';
import { nodeFiles } from '../aof/files.js';
import { ApiKeys } from '../auth/api-keys.js';
import { Broker, type BrokerOptions, type RecoverySummary } from '../broker/broker.js';
import { ClusterNode } from '../cluster/node.js';
import type { Config } from '../config.js';
import { type Logger, silentLogger } from '../log.js';
import { FsyncTimings, type MetricsSource } from '../metrics/source.js';
import type { BrokerAccess, FrontHandle } from './front.js';
import { startGrpcServer } from './grpc/index.js';
import { startHttpServer } from './http/index.js';
import { startTcpServer } from './tcp/index.js';
import { loadServerTls, type ServerTls } from './tls.js';

export { Broker } from '../broker/broker.js';
export { type Config, ConfigError, loadConfig } from '../config.js';

/**
 * Fails at once, naming the port and the key that sets it, when a front's
 * port is taken: before the AOF is replayed, which for a large AOF takes
 * long, and before anything is written. Each port is bound and let go; a
 * process that takes one in between is still caught when the front starts.
 */
export async function checkPorts(config: Config): Promise<void> {
  const host = config.server.host;
  for (const front of ['tcp', 'http', 'grpc'] as const) {
    const { enabled, port } = config.server[front];
    if (!enabled || port === 0) continue;
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new Error(
            err.code === 'EADDRINUSE'
              ? `port ${port} on ${host} is in use (server.${front}.port, env MQLITE_${front.toUpperCase()}_PORT): stop what listens there, choose another port, or set server.${front}.enabled: false`
              : `cannot listen on ${host}:${port} (server.${front}.port): ${err.message}`,
          ),
        ),
      );
      probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
    });
  }
}

/** A broker opened from its config: the AOF replayed, no front started yet. */
export interface OpenedBroker {
  readonly broker: Broker;
  /** What the replay found; undefined with persistence off. */
  readonly recovery: RecoverySummary | undefined;
  /** The AOF and fsync figures that GET /metrics shows. */
  readonly metrics: MetricsSource;
}

/** The Broker's options from the config, its store aside. */
function brokerOptions(config: Config, log: Logger): BrokerOptions {
  return {
    ackTimeoutMs: config.ack_timeout,
    drainTimeoutMs: config.drain_timeout,
    limits: {
      maxPayloadBytes: config.limits.max_payload,
      maxBatch: config.limits.max_batch,
      maxHeaders: config.limits.max_headers,
      maxInflightPerSubscription: config.limits.max_inflight_per_subscription,
      maxQueuesPerTopic: config.limits.max_queues_per_topic,
      maxNamespaces: config.limits.max_namespaces,
      maxTopicsPerNamespace: config.limits.max_topics_per_namespace,
      memoryHighWaterBytes: config.limits.memory_high_water,
    },
    // RSS covers what the accounted figure does not (slabs held by one live payload, connections, the heap).
    sampleMemory: () => process.memoryUsage.rss(),
    logger: log.child({ component: 'broker' }),
  };
}

/** Opens the file store (or none) named by the config and replays it into a new Broker. */
export async function openBroker(config: Config, log: Logger): Promise<OpenedBroker> {
  const { aof } = config.persistence;
  // Times every AOF fsync for GET /metrics.
  const fsyncTimings = new FsyncTimings();
  const store = config.persistence.enabled
    ? await FileStore.open({
        fs: fsyncTimings.wrap(nodeFiles),
        dir: aof.dir,
        filename: aof.filename,
        fsync: aof.fsync,
        rewriteMinSize: aof.rewrite_min_size,
        rewritePercentage: aof.rewrite_percentage,
        retryIntervalMs: aof.retry_interval,
        logger: log.child({ component: 'aof' }),
      })
    : undefined;
  const opened = await Broker.open({ ...brokerOptions(config, log), store });
  const metrics: MetricsSource = store ? { aof: () => store.stats(), fsync: fsyncTimings } : {};
  return { broker: opened.broker, recovery: opened.recovery, metrics };
}

export async function startFronts(broker: BrokerAccess, config: Config, log: Logger, metrics: MetricsSource, apiKeys: ApiKeys, tls: ServerTls | undefined): Promise<Record<string, FrontHandle>> {
  const { server, limits } = config;
  const host = server.host;
  const fronts: Record<string, FrontHandle> = {};
  const connectionLimits = { maxConnections: limits.max_connections, maxSubscriptionsPerConnection: limits.max_subscriptions_per_connection };
  const compat = config.compat.original;
  try {
    if (server.tcp.enabled) {
      fronts.tcp = await startTcpServer(broker, { host, port: server.tcp.port, maxFrameBytes: limits.max_frame, logger: log.child({ front: 'tcp' }), apiKeys, tls, compat, ...connectionLimits });
    }
    if (server.http.enabled) {
      fronts.http = await startHttpServer(broker, {
        host,
        port: server.http.port,
        maxBodyBytes: limits.max_body,
        sseHeartbeatMs: server.http.sse_heartbeat,
        sseMaxInflight: limits.max_inflight_per_subscription,
        maxConnections: limits.max_connections,
        logger: log.child({ front: 'http' }),
        metrics,
        apiKeys,
        tls,
        compat,
      });
    }
    if (server.grpc.enabled) {
      fronts.grpc = await startGrpcServer(broker, { host, port: server.grpc.port, maxMessageBytes: limits.max_frame, logger: log.child({ front: 'grpc' }), apiKeys, tls, compat, ...connectionLimits });
    }
  } catch (err) {
    await Promise.allSettled(Object.values(fronts).map((f) => f.close()));
    throw err;
  }
  return fronts;
}


/** A running broker with its fronts. */
export interface RunningBroker {
  /**
   * The broker. On a cluster node (persistence.backend jetstream), the one
   * it owns now: reading it on a standby throws UNAVAILABLE naming the owner.
   */
  readonly broker: Broker;
  /** A cluster node's role (persistence.backend jetstream); undefined in single-node mode. */
  readonly cluster: ClusterNode | undefined;
  readonly recovery: RecoverySummary | undefined;
  /** The ports the enabled fronts listen on (the real ones when the config says 0). */
  readonly ports: { readonly tcp?: number; readonly http?: number; readonly grpc?: number };
  /** Closes the fronts (answering what is in flight), then flushes and closes the AOF. */
  close(): Promise<void>;
}

/**
 * Opens the broker of `config` and starts its enabled fronts. Logs nothing
 * unless given a logger (pino's, as `createLogger` makes).
 */
export async function startBroker(config: Config, opts: { logger?: Logger } = {}): Promise<RunningBroker> {
  const log = opts.logger ?? silentLogger;
  const tls = loadServerTls(config.server.tls);
  await checkPorts(config);
  if (config.persistence.backend === 'jetstream') return startClusterNode(config, log, tls);
  const { broker, recovery, metrics } = await openBroker(config, log);
  let fronts: Record<string, FrontHandle>;
  try {
    fronts = await startFronts(broker, config, log, withFrontCounts(metrics, () => fronts), new ApiKeys(config.security.api_keys), tls);
  } catch (err) {
    await broker.close();
    throw err;
  }
  return {
    broker,
    cluster: undefined,
    recovery,
    ports: { tcp: fronts.tcp?.port, http: fronts.http?.port, grpc: fronts.grpc?.port },
    async close() {
      await Promise.allSettled(Object.values(fronts).map((f) => f.close()));
      await broker.close();
    },
  };
}

/** Starts the cluster node of `config` (persistence.backend jetstream): it owns the broker when this resolves, or stands by. */
export function openClusterNode(config: Config, log: Logger): Promise<ClusterNode> {
  return ClusterNode.start({
    config,
    log: log.child({ component: 'cluster', node: config.cluster.node_id }),
    openBroker: async (store) => (await Broker.open({ ...brokerOptions(config, log), store })).broker,
  });
}

/**
 * A cluster node (docs/DESIGN.md, "Cluster"): its fronts serve whichever
 * broker the node owns at the time, and answer UNAVAILABLE naming the owner
 * while it stands by. Each takeover replays the stream and logs what it found.
 */
async function startClusterNode(config: Config, log: Logger, tls: ServerTls | undefined): Promise<RunningBroker> {
  const node = await openClusterNode(config, log);
  let fronts: Record<string, FrontHandle>;
  try {
    fronts = await startFronts(node, config, log, withFrontCounts({ cluster: () => node.status() }, () => fronts), new ApiKeys(config.security.api_keys), tls);
  } catch (err) {
    await node.close();
    throw err;
  }
  const ports = { tcp: fronts.tcp?.port, http: fronts.http?.port, grpc: fronts.grpc?.port };
  node.advertise(ports);
  return {
    get broker() {
      return node.serving();
    },
    cluster: node,
    recovery: undefined,
    ports,
    async close() {
      await Promise.allSettled(Object.values(fronts).map((f) => f.close()));
      await node.close();
    },
  };
}

/** The metrics source with the connection counts of the fronts, read when scraped. */
export function withFrontCounts(metrics: MetricsSource, fronts: () => Record<string, FrontHandle> | undefined): MetricsSource {
  return {
    ...metrics,
    fronts: () => {
      const f = fronts() ?? {};
      return { ...(f.tcp?.counts ? { tcp: f.tcp.counts() } : {}), ...(f.grpc?.counts ? { grpc: f.grpc.counts() } : {}) };
    },
  };
}
