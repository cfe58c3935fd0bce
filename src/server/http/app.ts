/**
 * The HTTP REST + SSE front as a Hono app (PROTOCOL.md "HTTP"): one route
 * table, each handler a short decode, call the broker, encode. Names, ranges
 * and sizes are validated by the broker; this front checks only the shape of
 * the JSON it decodes, and maps every error in one table (errors.ts).
 *
 * Hot path: no middleware. Each route is wrapped once at startup by
 * `wrap()` below, which adds the request id, the error mapping and the
 * access log; replies are built as JSON text, with message payloads
 * embedded as stored (json-payload.ts), and sent as plain string Responses,
 * which @hono/node-server writes with a single `end()`.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { HttpBindings } from '@hono/node-server';
import { type ApiKeys, bearerToken, FULL_ACCESS, NO_API_KEYS, type Principal } from '../../auth/api-keys.js';
import type { Operation } from '../../auth/operations.js';
import type { Broker } from '../../broker/broker.js';
import { messageJson, payloadFromJson } from '../json-payload.js';
import { zeroIsUnset } from '../unset.js';
import { describeError, HttpError } from './errors.js';
import { type Reply, failure, okData, okMessage } from './envelope.js';
import {
  asObject,
  boolParam,
  intField,
  intParam,
  optionalBoolField,
  optionalIntField,
  parseJsonBody,
  readIncomingBody,
  readStreamBody,
  idsField,
  stringField,
} from './body.js';
import { SseSession } from './sse.js';
import type { MetricsSource } from '../../metrics/source.js';
import { createFrontMetrics, RouteCounts } from './metrics.js';
import {
  batchRequest,
  batchResultJson,
  nackResultJson,
  peekQuery,
  peekResultJson,
  policyInput,
  policyJson,
  publishOptions,
  publishResultJson,
  topicStatsJson,
} from './queue-features.js';

export interface HttpAppOptions {
  /** Largest request body accepted; larger ones get 413 (checked while reading). */
  maxBodyBytes: number;
  /** Interval of the SSE heartbeat comment; 0 disables it. */
  sseHeartbeatMs: number;
  /** Default bound on in-flight messages of a manual-ack SSE subscription (`max_inflight`). */
  sseMaxInflight: number;
  logger: Logger;
  /**
   * Bytes an SSE stream may hold on their way to a slow socket before its
   * subscription is paused (DESIGN.md "Subscriptions").
   */
  sseHighWaterBytes?: number;
  /** What `GET /metrics` reports beyond the broker and this front (metrics.ts). */
  metrics?: MetricsSource;
  /** Open HTTP connections, when the app is served by startHttpServer. */
  connections?: () => number;
  /** API keys (issue 7); absent or empty: no authentication. */
  apiKeys?: ApiKeys;
}

export interface HttpApp {
  readonly app: Hono<{ Bindings: HttpBindings }>;
  /** From now on answer 503 (PROTOCOL.md "HTTP": shutting down) and end every SSE stream. */
  shutdown(): void;
  /** Open SSE streams. */
  readonly sseStreams: number;
  /** Each route and the operation its API key must allow (issue 7). */
  readonly routes: readonly { method: string; path: string; op: Operation | 'open' }[];
}

type Env = { Bindings: HttpBindings };
type Ctx = Context<Env>;

/** What a route handler sees: the Hono context, the request's id and who sent it. */
interface RouteRequest {
  readonly c: Ctx;
  readonly requestId: string;
  /** FULL_ACCESS with auth off. */
  readonly principal: Principal;
}

type RouteHandler = (req: RouteRequest) => Promise<Reply | Response> | Reply | Response;

interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly handler: RouteHandler;
  /** What the API key must allow (src/auth/operations.ts); `open`: no key needed. */
  readonly op: Operation | 'open';
  /** The namespace is in the body, not the path: the handler checks it (create namespace). */
  readonly namespaceInBody?: boolean;
  /** Answers while the front is closing (health reports it); others get 503. */
  readonly whileClosing?: boolean;
}

const DEFAULT_SSE_HIGH_WATER = 256 * 1024;
/** Longest client-sent X-Request-ID echoed as is; longer ones are replaced. */
const MAX_REQUEST_ID = 200;

const shuttingDown = new HttpError(503, 'server is shutting down');

/** The client's X-Request-ID when it sent a usable one, else a new id. */
export function requestIdFrom(sent: string | string[] | undefined): string {
  return typeof sent === 'string' && sent.length > 0 && sent.length <= MAX_REQUEST_ID ? sent : randomUUID();
}

export function createApp(broker: Broker, opts: HttpAppOptions): HttpApp {
  const log = opts.logger;
  const maxBody = opts.maxBodyBytes;
  const apiKeys = opts.apiKeys ?? NO_API_KEYS;
  const sessions = new Set<SseSession>();
  let closing = false;

  async function jsonBody(c: Ctx): Promise<unknown> {
    const incoming = c.env?.incoming;
    const raw =
      incoming !== undefined
        ? await readIncomingBody(incoming, maxBody)
        : await readStreamBody(c.req.raw.body, c.req.header('content-length') ?? null, maxBody);
    return parseJsonBody(raw);
  }

  const ns = (c: Ctx): string => c.req.param('namespace')!;
  const topic = (c: Ctx): string => c.req.param('topic')!;
  const queue = (c: Ctx): number => intParam(c.req.param('queueId'), 'queue id');

  // ---- handlers, in the order of the PROTOCOL.md table ----

  const createNamespace: RouteHandler = async ({ c, principal }) => {
    const body = asObject(await jsonBody(c), false);
    const name = stringField(body, 'name');
    if (!principal.unrestricted) apiKeys.authorize(principal, 'create_namespace', name, 'http', remoteOf(c), log);
    await broker.createNamespace(name);
    return okMessage('namespace created', 201);
  };

  // a key limited to namespaces sees only its own
  const listNamespaces: RouteHandler = ({ principal }) => okData(JSON.stringify(principal.visible(broker.listNamespaces())));

  const deleteNamespace: RouteHandler = async ({ c }) => {
    await broker.deleteNamespace(ns(c));
    return okMessage('namespace deleted');
  };

  const createTopic: RouteHandler = async ({ c }) => {
    const body = asObject(await jsonBody(c), false);
    await broker.createTopic(ns(c), stringField(body, 'name'), intField(body, 'queue_count'));
    return okMessage('topic created', 201);
  };

  const listTopics: RouteHandler = ({ c }) => {
    const topics = broker.listTopics(ns(c));
    const items = topics.map((t) => `{"name":${JSON.stringify(t.name)},"queue_count":${t.queueCount},"version":${t.version},"policy":${policyJson(t.policy)}}`);
    return okData(`[${items.join(',')}]`);
  };

  const deleteTopic: RouteHandler = async ({ c }) => {
    await broker.deleteTopic(ns(c), topic(c));
    return okMessage('topic deleted');
  };

  const resizeTopic: RouteHandler = async ({ c }) => {
    const body = asObject(await jsonBody(c), false);
    const r = await broker.resizeTopic(ns(c), topic(c), intField(body, 'new_queue_count'));
    return okData(`{"new_queue_count":${r.newQueueCount},"version":${r.version},"draining":${r.draining}}`);
  };

  /** Extension: compact the AOF now (`mqlite-cli aof rewrite`); answers once the new base is in place. */
  const rewriteAof: RouteHandler = async () => {
    const r = await broker.rewrite();
    return okData(`{"records":${r.records},"bytes":${r.bytes},"seconds":${r.seconds}}`);
  };

  const rebalanceTopic: RouteHandler = async ({ c }) => {
    await broker.rebalanceTopic(ns(c), topic(c));
    return okMessage('topic rebalanced');
  };

  const publish: RouteHandler = async ({ c }) => {
    const body = asObject(await jsonBody(c), false);
    if (!Object.hasOwn(body, 'payload')) throw new HttpError(400, 'field "payload" is required (any JSON value)');
    const r = await broker.publish(ns(c), topic(c), payloadFromJson(body.payload), publishOptions(body));
    return okData(publishResultJson(r));
  };

  const consume: RouteHandler = async ({ c }) => {
    // The body is optional: defaults batch_size 1, auto_ack false.
    const body = asObject(await jsonBody(c), true);
    const batchSize = optionalIntField(body, 'batch_size') ?? 1;
    const autoAck = optionalBoolField(body, 'auto_ack') ?? false;
    const messages = await broker.consume(ns(c), topic(c), queue(c), batchSize, autoAck);
    return okData(`[${messages.map(messageJson).join(',')}]`);
  };

  const ack: RouteHandler = async ({ c }) => {
    const body = asObject(await jsonBody(c), false);
    await broker.ack(ns(c), topic(c), queue(c), idsField(body, 'message_ids'));
    return okMessage('messages acknowledged');
  };

  // ---- issue 8: nack, retries, DLQ, delay, leases, peek, batches, dedup, stats ----

  const publishBatch: RouteHandler = async ({ c }) => {
    const { entries, mode } = batchRequest(asObject(await jsonBody(c), false));
    // Atomic failures throw (nothing published) and take the error table's status.
    const items = await broker.publishBatch(ns(c), topic(c), entries, mode as 'partial' | 'atomic');
    return okData(batchResultJson(items));
  };

  const nack: RouteHandler = async ({ c }) => {
    const body = asObject(await jsonBody(c), false);
    const r = await broker.nack(ns(c), topic(c), queue(c), idsField(body, 'message_ids'), { delayMs: optionalIntField(body, 'delay_ms') });
    return okData(nackResultJson(r));
  };

  const renew: RouteHandler = async ({ c }) => {
    const body = asObject(await jsonBody(c), false);
    await broker.renew(ns(c), topic(c), queue(c), idsField(body, 'message_ids'), intField(body, 'extend_ms'));
    return okMessage('leases renewed');
  };

  const peek: RouteHandler = ({ c }) => okData(peekResultJson(broker.peek(ns(c), topic(c), queue(c), peekQuery((n) => c.req.query(n)))));

  const peekDlq: RouteHandler = ({ c }) => okData(peekResultJson(broker.peekDlq(ns(c), topic(c), peekQuery((n) => c.req.query(n)))));

  const consumeDlq: RouteHandler = async ({ c }) => {
    const body = asObject(await jsonBody(c), true);
    const messages = await broker.consumeDlq(ns(c), topic(c), optionalIntField(body, 'batch_size') ?? 1, optionalBoolField(body, 'auto_ack') ?? false);
    return okData(`[${messages.map(messageJson).join(',')}]`);
  };

  const redriveDlq: RouteHandler = async ({ c }) => {
    const body = asObject(await jsonBody(c), true);
    const r = await broker.redriveDlq(ns(c), topic(c), { max: zeroIsUnset(optionalIntField(body, 'max')) });
    return okData(`{"moved":${r.moved}}`);
  };

  const setPolicy: RouteHandler = async ({ c }) => {
    const policy = await broker.setTopicPolicy(ns(c), topic(c), policyInput(asObject(await jsonBody(c), false)));
    return okData(policyJson(policy));
  };

  const topicStats: RouteHandler = ({ c }) => okData(topicStatsJson(broker.topicStats(ns(c), topic(c))));

  const subscribe: RouteHandler = ({ c, requestId }) => {
    const autoAck = boolParam(c.req.query('auto_ack'), 'auto_ack', false);
    const inflightParam = c.req.query('max_inflight');
    const maxInflight = inflightParam === undefined ? opts.sseMaxInflight : intParam(inflightParam, 'max_inflight');
    const session = new SseSession({
      heartbeatMs: opts.sseHeartbeatMs,
      highWaterBytes: opts.sseHighWaterBytes ?? DEFAULT_SSE_HIGH_WATER,
      log,
      requestId,
    });
    // Subscribe before the stream starts, so that an unknown topic or queue
    // is a plain 404 reply rather than an empty event stream. Anything the
    // broker pushes meanwhile waits in the session until the stream is there.
    session.subscription = broker.subscribe(ns(c), topic(c), queue(c), session, autoAck ? { autoAck } : { autoAck, maxInflight });
    sessions.add(session);
    c.header('X-Request-ID', requestId);
    c.header('X-Accel-Buffering', 'no');
    return streamSSE(c, async (stream) => {
      try {
        await session.run(stream);
      } finally {
        sessions.delete(session);
      }
    });
  };

  const health: RouteHandler = () => {
    if (closing) return { status: 503, body: '{"status":"unavailable"}' };
    // A failed AOF: reads are served, changes refused until it is rebuilt, so up but degraded.
    const aof = opts.metrics?.aof?.();
    if (aof?.failed) {
      const failedSeconds = Math.round((aof.failedSeconds ?? 0) * 10) / 10;
      return { status: 200, body: JSON.stringify({ status: 'degraded', persistence: 'failed', failed_seconds: failedSeconds, reason: aof.failure }) };
    }
    return { status: 200, body: '{"status":"ok"}' };
  };

  const metricsText: RouteHandler = async ({ requestId }) => {
    const text = await metrics.render();
    return new Response(text, { status: 200, headers: { 'content-type': metrics.contentType, 'x-request-id': requestId } });
  };

  const base = '/v1/namespaces';
  const topicPath = `${base}/:namespace/topics/:topic`;
  const queuePath = `${topicPath}/queues/:queueId`;
  const routes: readonly Route[] = [
    { method: 'POST', path: base, handler: createNamespace, op: 'create_namespace', namespaceInBody: true },
    { method: 'GET', path: base, handler: listNamespaces, op: 'list_namespaces' },
    { method: 'DELETE', path: `${base}/:namespace`, handler: deleteNamespace, op: 'delete_namespace' },
    { method: 'POST', path: `${base}/:namespace/topics`, handler: createTopic, op: 'create_topic' },
    { method: 'GET', path: `${base}/:namespace/topics`, handler: listTopics, op: 'list_topics' },
    { method: 'DELETE', path: topicPath, handler: deleteTopic, op: 'delete_topic' },
    { method: 'PUT', path: `${topicPath}/resize`, handler: resizeTopic, op: 'resize_topic' },
    { method: 'POST', path: `${topicPath}/rebalance`, handler: rebalanceTopic, op: 'rebalance_topic' },
    { method: 'POST', path: `${topicPath}/publish`, handler: publish, op: 'publish' },
    { method: 'POST', path: `${queuePath}/consume`, handler: consume, op: 'consume' },
    { method: 'GET', path: `${queuePath}/subscribe`, handler: subscribe, op: 'subscribe' },
    { method: 'POST', path: `${queuePath}/ack`, handler: ack, op: 'ack' },
    { method: 'POST', path: `${topicPath}/publish-batch`, handler: publishBatch, op: 'publish_batch' },
    { method: 'POST', path: `${queuePath}/nack`, handler: nack, op: 'nack' },
    { method: 'POST', path: `${queuePath}/renew`, handler: renew, op: 'renew_lease' },
    { method: 'GET', path: `${queuePath}/peek`, handler: peek, op: 'peek' },
    { method: 'GET', path: `${topicPath}/dlq`, handler: peekDlq, op: 'peek' },
    { method: 'POST', path: `${topicPath}/dlq/consume`, handler: consumeDlq, op: 'consume_dlq' },
    { method: 'POST', path: `${topicPath}/dlq/redrive`, handler: redriveDlq, op: 'redrive_dlq' },
    { method: 'PUT', path: `${topicPath}/policy`, handler: setPolicy, op: 'set_topic_policy' },
    { method: 'GET', path: `${topicPath}/stats`, handler: topicStats, op: 'get_topic_stats' },
    { method: 'POST', path: '/v1/admin/aof/rewrite', handler: rewriteAof, op: 'rewrite_aof' },
    { method: 'GET', path: '/health', handler: health, op: 'open', whileClosing: true },
    { method: 'GET', path: '/metrics', handler: metricsText, op: 'metrics', whileClosing: true },
  ];
  const routeCounts = routes.map((r) => new RouteCounts(r.method, r.path));
  const unmatched = new RouteCounts('*', 'unmatched');
  const metrics = createFrontMetrics(
    broker,
    { connections: () => opts.connections?.(), sseStreams: () => sessions.size, routes: () => [...routeCounts, unmatched] },
    { ...opts.metrics, auth: apiKeys.failures },
  );

  // ---- the one wrapper: request id, 503 while closing, error mapping, access log ----

  function requestIdOf(c: Ctx): string {
    return requestIdFrom(c.env?.incoming !== undefined ? c.env.incoming.headers['x-request-id'] : c.req.header('x-request-id'));
  }

  function accessLog(c: Ctx, requestId: string, status: number, started: number, err?: unknown): void {
    // Successes at debug: an info line per publish would cost more than the publish.
    const level = status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug';
    if (!log.isLevelEnabled(level)) return;
    const ms = Math.round((performance.now() - started) * 1000) / 1000;
    log[level]({ requestId, method: c.req.method, path: c.req.path, status, ms, err }, 'http request');
  }

  // ---- API keys (issue 7): X-API-Key or Authorization: Bearer, checked before the handler ----

  function remoteOf(c: Ctx): string | undefined {
    return c.env?.incoming?.socket?.remoteAddress;
  }

  function presentedKey(c: Ctx): string | undefined {
    const h = c.env?.incoming?.headers;
    const header = (name: string): string | undefined => (h !== undefined ? (h[name] as string | undefined) : c.req.header(name));
    return header('x-api-key') ?? bearerToken(header('authorization'));
  }

  /** The request's principal, or throws UNAUTHENTICATED / PERMISSION_DENIED (counted and logged). */
  function authorize(c: Ctx, op: Operation, namespaceInBody: boolean): Principal {
    const remote = remoteOf(c);
    const principal = apiKeys.require(presentedKey(c), 'http', remote, log);
    if (namespaceInBody) apiKeys.authorizePermission(principal, op, 'http', remote, log);
    else apiKeys.authorize(principal, op, c.req.param('namespace'), 'http', remote, log);
    return principal;
  }

  function send(requestId: string, reply: Reply): Response {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId };
    // RFC 9110 11.6.1: a 401 names the scheme to use
    if (reply.status === 401) headers['www-authenticate'] = 'Bearer realm="mqlite"';
    // Connection close: the request body was not read to its end, or the server is going away.
    if (reply.close || closing) headers.connection = 'close';
    return new Response(reply.body, { status: reply.status, headers });
  }

  function wrap({ handler, whileClosing, op, namespaceInBody }: Route, counts: RouteCounts) {
    // decided once: with auth off (or an open route) a request costs nothing more
    const guarded = apiKeys.enabled && op !== 'open' ? op : undefined;
    return async (c: Ctx): Promise<Response> => {
      const started = performance.now();
      const requestId = requestIdOf(c);
      let reply: Reply;
      try {
        if (closing && !whileClosing) throw shuttingDown;
        const principal = guarded === undefined ? FULL_ACCESS : authorize(c, guarded, namespaceInBody === true);
        const out = await handler({ c, requestId, principal });
        if (out instanceof Response) {
          counts.add(out.status);
          accessLog(c, requestId, out.status, started);
          return out;
        }
        reply = out;
      } catch (err) {
        const { status, message, internal } = describeError(err);
        reply = failure(status, message, status === 413);
        counts.add(status);
        accessLog(c, requestId, status, started, internal ? err : undefined);
        return send(requestId, reply);
      }
      counts.add(reply.status);
      accessLog(c, requestId, reply.status, started);
      return send(requestId, reply);
    };
  }

  const app = new Hono<Env>();
  routes.forEach((r, i) => app.on(r.method, r.path, wrap(r, routeCounts[i]!)));
  app.notFound((c) => {
    const requestId = requestIdOf(c);
    unmatched.add(404);
    accessLog(c, requestId, 404, performance.now());
    return send(requestId, failure(404, `no route for ${c.req.method} ${c.req.path}`));
  });
  app.onError((err, c) => {
    // Only reached if a wrapper itself failed; handlers' errors are mapped in wrap().
    const requestId = requestIdOf(c);
    accessLog(c, requestId, 500, performance.now(), err);
    return send(requestId, failure(500, 'internal error'));
  });

  return {
    app,
    shutdown(): void {
      closing = true;
      for (const s of [...sessions]) s.shutdown();
    },
    get sseStreams(): number {
      return sessions.size;
    },
    routes: routes.map(({ method, path, op }) => ({ method, path, op })),
  };
}
