#!/usr/bin/env node
/**
 * The broker process: `mqlite [--config PATH]`. Loads the config, replays
 * the AOF, starts the enabled fronts and, on SIGINT/SIGTERM, stops
 * accepting, answers what is in flight, flushes and fsyncs the AOF and
 * exits 0.
 */
import { Command } from 'commander';
import { packageVersion } from '../src/version.js';
import { ApiKeys } from '../src/auth/api-keys.js';
import { ConfigError, ENV_OVERRIDES, loadConfig, type Config } from '../src/config.js';
import { createLogger, type Logger } from '../src/log.js';
import type { MetricsSource } from '../src/metrics/source.js';
import { checkPorts, openBroker, openClusterNode, startFronts, withFrontCounts } from '../src/server/embed.js';
import type { BrokerAccess, FrontHandle } from '../src/server/front.js';
import { loadServerTls, type ServerTls } from '../src/server/tls.js';

/** Longest a graceful shutdown may take before the process gives up and exits 1. */
const SHUTDOWN_BOUND_MS = 15_000;

async function main(): Promise<void> {
  const program = new Command()
    .name('mqlite')
    .description('MQLite message broker: gRPC, HTTP+SSE and framed TCP over one in-memory core with an append-only file')
    .version(packageVersion(), '-V, --version')
    .option('-c, --config <path>', 'config file (every key has a default; a missing default config.yaml is fine)')
    .addHelpText('after', `\nEnvironment overrides:\n${Object.entries(ENV_OVERRIDES).map(([e, k]) => `  ${e.padEnd(20)} ${k}`).join('\n')}`)
    .parse();
  const opts = program.opts<{ config?: string }>();

  let config: Config;
  let tls: ServerTls | undefined;
  try {
    config = loadConfig(opts.config ?? 'config.yaml', { required: opts.config !== undefined });
    tls = loadServerTls(config.server.tls);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mqlite: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.log.level, config.log.format);

  // Installed before anything starts, so a signal at any moment of startup
  // gets the graceful path.
  // the broker, or the cluster node that owns one or stands by
  let broker: (BrokerAccess & { close(): Promise<void> }) | undefined;
  let fronts: Record<string, FrontHandle> = {};
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down: closing fronts, then flushing the AOF');
    const bound = setTimeout(() => {
      log.error({ boundMs: SHUTDOWN_BOUND_MS }, 'shutdown took too long; exiting without a clean close');
      process.exit(1);
    }, SHUTDOWN_BOUND_MS);
    bound.unref();
    await Promise.allSettled(Object.values(fronts).map((f) => f.close()));
    try {
      await broker?.close();
    } catch (err) {
      log.error({ err }, 'closing the AOF failed: the last writes may not be durable');
      process.exit(1);
    }
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  // API keys (docs/DESIGN.md, "Authentication"): the count is logged, never a key.
  const apiKeys = new ApiKeys(config.security.api_keys);
  if (apiKeys.enabled) {
    const scoped = config.security.api_keys.filter((k) => k.namespaces !== undefined || k.permissions !== undefined).length;
    log.info({ auth: 'api_keys', keys: apiKeys.size, scoped }, 'authentication on: every front requires an API key (GET /health excepted)');
  } else {
    // loudly only when other machines can reach the ports
    const loopback = /^(127\.|::1$|localhost$)/.test(config.server.host);
    log[loopback ? 'info' : 'warn']({ auth: 'off', host: config.server.host }, 'authentication off: no API key configured (security.api_keys or MQLITE_API_KEYS); whoever reaches a port has full access');
  }

  const { aof, jetstream } = config.persistence;
  const started = performance.now();
  await checkPorts(config);
  let metrics: MetricsSource;
  let advertise: ((ports: Record<string, number>) => void) | undefined;
  if (config.persistence.backend === 'jetstream') {
    // docs/DESIGN.md, "Cluster": the node logs each takeover and its replay.
    const node = await openClusterNode(config, log);
    broker = node;
    metrics = { cluster: () => node.status() };
    advertise = (ports) => node.advertise(ports);
    const { role, owner } = node.status();
    log.info({ cluster: config.cluster.name, node: config.cluster.node_id, servers: jetstream.servers, replicas: jetstream.replicas, role, owner: owner?.node ?? null }, 'cluster node started');
  } else {
    const opened = await openBroker(config, log);
    broker = opened.broker;
    metrics = opened.metrics;
    const recovery = opened.recovery;
    if (recovery) {
      log.info(
        {
          dir: aof.dir,
          fsync: aof.fsync,
          records: recovery.records,
          bytes: recovery.bytes,
          truncatedBytes: recovery.truncatedBytes,
          namespaces: recovery.namespaces,
          topics: recovery.topics,
          pending: recovery.pending,
          requeued: recovery.requeued,
          ms: Math.round(performance.now() - started),
        },
        'recovered state from the AOF',
      );
    } else {
      log.warn('persistence is disabled: every message is lost when the process stops');
    }
  }
  if (stopping) return;

  try {
    fronts = await startFronts(broker, config, log, withFrontCounts(metrics, () => fronts), apiKeys, tls);
  } catch (err) {
    log.fatal({ err }, 'could not start a front: is the port in use? change server.<front>.port or disable the front');
    await broker.close();
    process.exit(1);
  }
  advertise?.(Object.fromEntries(Object.entries(fronts).map(([name, f]) => [name, f.port])));
  for (const [front, f] of Object.entries(fronts)) log.info({ front, host: config.server.host, port: f.port }, 'listening');
  if (config.compat.original) {
    log.warn({ compat: 'original' }, 'compatibility mode on (compat.original): JSON fronts show every payload as base64, gRPC answers failures as success: false; clients of this broker expecting its own JSON payloads will misread them');
  }
  if (tls) {
    log.info(
      { tls: 'on', mtls: tls.ca ? 'on' : 'off', cert: config.server.tls.cert, subject: tls.certSubject, validTo: tls.certValidTo, ca: config.server.tls.ca },
      tls.ca ? 'TLS on for every front; mutual TLS on: clients need a certificate signed by server.tls.ca' : 'TLS on for every front; mutual TLS off',
    );
  } else log.info({ tls: 'off', mtls: 'off' }, 'TLS off: every front speaks plaintext (set server.tls.cert and server.tls.key to turn it on)');
  const { max_connections, max_subscriptions_per_connection, memory_high_water } = config.limits;
  log.info(
    { fronts: Object.keys(fronts), tls: tls ? 'on' : 'off', mtls: tls?.ca ? 'on' : 'off', limits: { max_connections, max_subscriptions_per_connection, memory_high_water } },
    'mqlite ready',
  );

}

main().catch((err: unknown) => {
  process.stderr.write(`mqlite: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
