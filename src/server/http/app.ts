/**
 * The HTTP REST + SSE front as a Hono app (docs/PROTOCOL.md, "HTTP (REST +
 * SSE)"): one route table, each route a command of the command table
 * (src/server/commands/) with what HTTP adds to it: where its fields come
 * from (the path, the JSON body, the query of a GET) and its status. One
 * generic handler decodes them with the JSON fronts' decoder, runs the
 * command and encodes its reply; errors are mapped in one table
 * (errors.ts).
 *
 * Hot path: no middleware. Each route is wrapped once at startup by
 * `wrap()` below, which adds the request id, the error mapping and the
 * access log; replies are built as JSON text, with message payloads
 * embedded as stored (json-payload.ts), and sent as plain string Responses,
 * which @hono/node-server writes with a single `end()`.
 */
import type { Logger } from 'pino';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { HttpBindings } from '@hono/node-server';
import type { Access } from '../../auth/access.js';
import { newMessageId } from '../../broker/ids.js';
import { type ApiKeys, bearerToken, FULL_ACCESS, NO_API_KEYS, type Principal, requestNamespace } from '../../auth/api-keys.js';
import type { AnyCommand, Decoded } from '../commands/command.js';
import { type JsonObject, JSON_TEXT, decodeJson } from '../commands/json-decode.js';
import { bodyPayloadRange, JsonTextPayload } from '../json-scan.js';
import { type JsonStyle, NATIVE_JSON, ORIGINAL_JSON } from '../json-payload.js';
import { COMMANDS, metrics as metricsAccess, rewriteAof, subscribe } from '../commands/table.js';
import { batchResultsJson } from '../commands/values.js';
import { describeError, HttpError } from './errors.js';
import { type Reply, failure, okData, okMessage } from './envelope.js';
import { asObject, intParam, parseJsonBody, queryFields, readIncomingBody, readStreamBody } from './body.js';
import { SseSession } from './sse.js';
import type { MetricsSource } from '../../metrics/source.js';
import type { BrokerAccess } from '../front.js';
import { createFrontMetrics, RouteCounts } from './metrics.js';
import { serverInfoJson } from './server-info.js';
import { UI_ASSETS, UI_HEADERS } from './ui/assets.js';

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
   * subscription is paused (docs/DESIGN.md, "Subscriptions").
   */
  sseHighWaterBytes?: number;
  /** What `GET /metrics` reports beyond the broker and this front (metrics.ts). */
  metrics?: MetricsSource;
  /** Open HTTP connections, when the app is served by startHttpServer. */
  connections?: () => number;
  /** API keys (docs/DESIGN.md, "Authentication"); absent or empty: no authentication. */
  apiKeys?: ApiKeys;
  /** The compatibility mode for the original's clients (docs/PROTOCOL.md, "Compatibility mode"). */
  compat?: boolean;
}

export interface HttpApp {
  readonly app: Hono<{ Bindings: HttpBindings }>;
  /** From now on answer 503 (docs/PROTOCOL.md, "Status codes": shutting down) and end every SSE stream. */
  shutdown(): void;
  /** Open SSE streams. */
  readonly sseStreams: number;
  /** Each route and the operation its API key must allow (its name; `open`: none). */
  readonly routes: readonly { method: string; path: string; op: string }[];
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

/** What HTTP adds to a command: where its fields come from, and its reply. */
interface CommandRoute {
  /** The JSON body: required, optional (absent is `{}`), or not read. A GET reads its query instead. */
  readonly body: 'required' | 'optional' | 'none';
  /** The request field a path parameter fills when it is not named alike (`:topic` is `name` of DeleteTopicRequest). */
  readonly rename?: { readonly namespace?: string; readonly topic?: string };
  /** Fields the route fixes (peek of the dead-letter queue). */
  readonly fixed?: JsonObject;
  /** 201 for the creates. */
  readonly status?: number;
  /** HTTP answers publish-batch with the list of results itself (the `data` its clients have always read). */
  readonly data?: (out: never) => string;
  /** The namespace is in the body, not the path: checked once the body is read (create namespace). */
  readonly namespaceInBody?: boolean;
}

interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly handler: RouteHandler;
  /** What the API key must allow (the command's access); `open`: no key needed. */
  readonly op: Access | 'open';
  /** The namespace is in the body, not the path: the handler checks it (create namespace). */
  readonly namespaceInBody?: boolean;
  /** Answers while the front is closing (health reports it); others get 503. */
  readonly whileClosing?: boolean;
}

const DEFAULT_SSE_HIGH_WATER = 256 * 1024;
/** Longest client-sent X-Request-ID echoed as is; longer ones are replaced. */
const MAX_REQUEST_ID = 200;

const shuttingDown = new HttpError(503, 'server is shutting down');

/** The publish payload read from the body (set to each body just before its synchronous decode). */
const bodyPayload = new JsonTextPayload(bodyPayloadRange, true);

/**
 * The client's X-Request-ID when it sent a usable one, else a new random
 * UUID, made as message ids are (a flat string; `crypto.randomUUID()`
 * builds a tree of string pieces, garbage on every request).
 */
export function requestIdFrom(sent: string | string[] | undefined): string {
  return typeof sent === 'string' && sent.length > 0 && sent.length <= MAX_REQUEST_ID ? sent : newMessageId();
}

export function createApp(broker: BrokerAccess, opts: HttpAppOptions): HttpApp {
  const log = opts.logger;
  const maxBody = opts.maxBodyBytes;
  const apiKeys = opts.apiKeys ?? NO_API_KEYS;
  const jsonStyle = opts.compat ? ORIGINAL_JSON : NATIVE_JSON;
  const sessions = new Set<SseSession>();
  let closing = false;

  /** The raw body of a route that reads one (a GET reads its query instead), at most `maxBody`. */
  function bodyOf(c: Ctx, route: CommandRoute): Promise<Buffer> | undefined {
    if (c.req.method === 'GET' || route.body === 'none') return undefined;
    const incoming = c.env?.incoming;
    return incoming !== undefined ? readIncomingBody(incoming, maxBody) : readStreamBody(c.req.raw.body, c.req.header('content-length') ?? null, maxBody);
  }

  /**
   * The fields of a request from the path, the JSON body `raw` (read by
   * bodyOf), or the query of a GET (typed by the request's fields); path
   * parameters win.
   */
  function fieldsOf(c: Ctx, spec: Decoded, route: CommandRoute, raw: Buffer | undefined): JsonObject {
    const fields =
      c.req.method === 'GET' ? queryFields(c.req.query(), spec.request) : route.body === 'none' ? {} : asObject(parseJsonBody(raw!), route.body === 'optional');
    const namespace = c.req.param('namespace');
    if (namespace !== undefined) fields[route.rename?.namespace ?? 'namespace'] = namespace;
    const topic = c.req.param('topic');
    if (topic !== undefined) fields[route.rename?.topic ?? 'topic'] = topic;
    const queueId = c.req.param('queueId');
    if (queueId !== undefined) fields.queue_id = intParam(queueId, 'queue id');
    if (route.fixed !== undefined) Object.assign(fields, route.fixed);
    return fields;
  }

  /** Decode, check the namespace of a body that names it, run, answer. */
  function runCommand(cmd: AnyCommand, route: CommandRoute): RouteHandler {
    const status = route.status ?? 200;
    const data = (route.data ?? cmd.reply.json) as (out: unknown, style: JsonStyle) => string;
    const done = cmd.reply.done;
    return async ({ c, principal }) => {
      const reading = bodyOf(c, route);
      const raw = reading === undefined ? undefined : await reading;
      const fields = fieldsOf(c, cmd, route, raw);
      // A publish payload is the body's own text where that is what serialising it would store (json-scan.ts).
      const req = decodeJson(cmd, fields, raw === undefined ? JSON_TEXT : bodyPayload.at(raw, 0, raw.length));
      if (route.namespaceInBody && !principal.unrestricted) apiKeys.authorize(principal, cmd, requestNamespace(req), 'http', remoteOf(c), log);
      const out: unknown = await cmd.run(broker.serving(), cmd.input(req), principal);
      return done !== undefined ? okMessage(done, status) : okData(data(out, jsonStyle), status);
    };
  }

  const route = (method: Route['method'], path: string, cmd: AnyCommand, spec: CommandRoute): Route => ({
    method,
    path,
    handler: runCommand(cmd, spec),
    op: cmd,
    namespaceInBody: spec.namespaceInBody,
  });

  /** Extension: compact the AOF now (`mqlite-cli aof rewrite`); answers once the new base is in place. */
  const rewrite: RouteHandler = async () => okData(rewriteAof.json(await rewriteAof.run(broker.serving())));

  const subscribeSse: RouteHandler = async ({ c, requestId }) => {
    // max_inflight is a query field of the SubscribeRequest, read as on every front; the core checks its range.
    const { namespace, topic, queueId, autoAck, maxInflight } = subscribe.input(decodeJson(subscribe, fieldsOf(c, subscribe, { body: 'none' }, undefined)));
    const session = new SseSession({
      heartbeatMs: opts.sseHeartbeatMs,
      highWaterBytes: opts.sseHighWaterBytes ?? DEFAULT_SSE_HIGH_WATER,
      log,
      requestId,
      style: jsonStyle,
    });
    // Subscribe before the stream starts, so that an unknown topic or queue
    // is a plain 404 reply rather than an empty event stream. Anything the
    // broker pushes meanwhile waits in the session until the stream is there.
    session.subscription = broker.serving().subscribe(namespace, topic, queueId, session, { autoAck, maxInflight: autoAck ? undefined : (maxInflight ?? opts.sseMaxInflight) });
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
    // A cluster node serves only while it owns the broker: a standby is up, but not where requests go.
    const cluster = opts.metrics?.cluster?.();
    if (cluster !== undefined && cluster.role !== 'owner') {
      return { status: 503, body: JSON.stringify({ status: cluster.role, cluster: cluster.name, node: cluster.node, owner: cluster.owner?.node ?? null }) };
    }
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

  /** Extension: the figures of the process as JSON (the dashboard's server panel). */
  const serverInfo: RouteHandler = async () =>
    okData(await serverInfoJson(broker, { metrics: opts.metrics ?? {}, http: { connections: () => opts.connections?.(), sseStreams: () => sessions.size } }));

  /** The dashboard's files (ui/assets.ts); open, like /health: they hold no data. */
  const uiFile: RouteHandler = ({ c, requestId }) => {
    const asset = UI_ASSETS[c.req.path]!;
    return new Response(asset.body, { status: 200, headers: { ...UI_HEADERS, 'content-type': asset.type, 'x-request-id': requestId } });
  };

  const base = '/v1/namespaces';
  const topicPath = `${base}/:namespace/topics/:topic`;
  const queuePath = `${topicPath}/queues/:queueId`;
  const C = COMMANDS;
  const routes: readonly Route[] = [
    route('POST', base, C.create_namespace, { body: 'required', status: 201, namespaceInBody: true }),
    route('GET', base, C.list_namespaces, { body: 'none' }),
    route('DELETE', `${base}/:namespace`, C.delete_namespace, { body: 'none', rename: { namespace: 'name' } }),
    route('POST', `${base}/:namespace/topics`, C.create_topic, { body: 'required', status: 201 }),
    route('GET', `${base}/:namespace/topics`, C.list_topics, { body: 'none' }),
    route('DELETE', topicPath, C.delete_topic, { body: 'none', rename: { topic: 'name' } }),
    route('PUT', `${topicPath}/resize`, C.resize_topic, { body: 'required', rename: { topic: 'name' } }),
    route('POST', `${topicPath}/rebalance`, C.rebalance_topic, { body: 'none', rename: { topic: 'name' } }),
    route('POST', `${topicPath}/publish`, C.publish, { body: 'required' }),
    route('POST', `${queuePath}/consume`, C.consume, { body: 'optional' }),
    { method: 'GET', path: `${queuePath}/subscribe`, handler: subscribeSse, op: subscribe },
    route('POST', `${queuePath}/ack`, C.ack, { body: 'required' }),
    route('POST', `${topicPath}/publish-batch`, C.publish_batch, { body: 'required', data: batchResultsJson }),
    route('POST', `${queuePath}/nack`, C.nack, { body: 'required' }),
    route('POST', `${queuePath}/renew`, C.renew_lease, { body: 'required' }),
    route('GET', `${queuePath}/peek`, C.peek, { body: 'none', fixed: { dlq: false } }),
    route('GET', `${topicPath}/dlq`, C.peek, { body: 'none', fixed: { dlq: true } }),
    route('POST', `${topicPath}/dlq/consume`, C.consume_dlq, { body: 'optional' }),
    route('POST', `${topicPath}/dlq/redrive`, C.redrive_dlq, { body: 'optional' }),
    route('PUT', `${topicPath}/policy`, C.set_topic_policy, { body: 'required' }),
    route('GET', `${topicPath}/stats`, C.get_topic_stats, { body: 'none' }),
    route('POST', `${topicPath}/pause`, C.pause_topic, { body: 'none' }),
    route('POST', `${topicPath}/resume`, C.resume_topic, { body: 'none' }),
    route('POST', `${topicPath}/purge`, C.purge, { body: 'optional' }),
    { method: 'POST', path: '/v1/admin/aof/rewrite', handler: rewrite, op: rewriteAof },
    { method: 'GET', path: '/v1/server', handler: serverInfo, op: metricsAccess },
    ...Object.keys(UI_ASSETS).map((path): Route => ({ method: 'GET', path, handler: uiFile, op: 'open' })),
    { method: 'GET', path: '/health', handler: health, op: 'open', whileClosing: true },
    { method: 'GET', path: '/metrics', handler: metricsText, op: metricsAccess, whileClosing: true },
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
    // Successes at debug: an info line per publish would cost more than the publish. A 503 is a
    // state the broker logged once already (closing, a failed store, a cluster node standing by).
    const level = status >= 500 && status !== 503 ? 'error' : status >= 400 ? 'info' : 'debug';
    if (!log.isLevelEnabled(level)) return;
    const ms = Math.round((performance.now() - started) * 1000) / 1000;
    log[level]({ requestId, method: c.req.method, path: c.req.path, status, ms, err }, 'http request');
  }

  // ---- API keys (docs/DESIGN.md, "Authentication"): X-API-Key or Authorization: Bearer, checked before the handler ----

  function remoteOf(c: Ctx): string | undefined {
    return c.env?.incoming?.socket?.remoteAddress;
  }

  function presentedKey(c: Ctx): string | undefined {
    const h = c.env?.incoming?.headers;
    const header = (name: string): string | undefined => (h !== undefined ? (h[name] as string | undefined) : c.req.header(name));
    return header('x-api-key') ?? bearerToken(header('authorization'));
  }

  /** The request's principal, or throws UNAUTHENTICATED / PERMISSION_DENIED (counted and logged). */
  function authorize(c: Ctx, op: Access, namespaceInBody: boolean): Principal {
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
    routes: routes.map(({ method, path, op }) => ({ method, path, op: op === 'open' ? op : op.name })),
  };
}
