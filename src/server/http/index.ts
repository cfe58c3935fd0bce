/**
 * Starts the HTTP REST + SSE front (docs/PROTOCOL.md "HTTP (REST + SSE)") on a Node HTTP
 * server (HTTPS when TLS is configured) through @hono/node-server.
 *
 * Closing: new requests get 503, SSE streams are told and ended, idle
 * keep-alive connections are closed, and requests already being served are
 * answered; connections still open after a grace period are cut.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { getRequestListener, RequestError } from '@hono/node-server';
import type { ApiKeys } from '../../auth/api-keys.js';
import { type ConnectionLimits, type BrokerAccess, connectionLimitMessage, REFUSED_CONNECTION_GRACE_MS, DEFAULT_MAX_CONNECTIONS, type FrontHandle } from '../front.js';
import { logHandshakeFailures, tlsServerOptions, type ServerTls } from '../tls.js';
import { createApp, requestIdFrom } from './app.js';
import { tooLarge } from './body.js';
import { failure } from './envelope.js';
import type { MetricsSource } from '../../metrics/source.js';

export { createApp, type HttpApp, type HttpAppOptions } from './app.js';

export interface HttpServerOptions extends Pick<ConnectionLimits, 'maxConnections'> {
  host: string;
  port: number;
  maxBodyBytes: number;
  sseHeartbeatMs: number;
  sseMaxInflight: number;
  logger: Logger;
  /**
   * What `GET /metrics` reports beyond the broker and this front: the AOF's
   * counters and fsync timings, the other fronts' connections (metrics.ts).
   */
  metrics?: MetricsSource;
  /** API keys (docs/PROTOCOL.md, "Authentication"); absent or empty: no authentication. */
  apiKeys?: ApiKeys;
  /** Serve HTTPS (and require client certificates when it has a CA). */
  tls?: ServerTls;
  /** The compatibility mode for the original's clients (docs/PROTOCOL.md, "Compatibility mode"). */
  compat?: boolean;
}

export interface HttpFrontHandle extends FrontHandle {
  /** SSE streams open now (for metrics and tests). */
  readonly sseStreams: number;
  /** HTTP connections open now. */
  readonly connections: number;
}

/** How long close() lets requests in progress finish before cutting connections. */
const CLOSE_GRACE_MS = 5_000;
/** Marks a socket accepted over limits.max_connections: its request gets the 503 and the connection closes. */
const OVER_LIMIT = Symbol('mqlite.overConnectionLimit');

export async function startHttpServer(broker: BrokerAccess, opts: HttpServerOptions): Promise<HttpFrontHandle> {
  const log = opts.logger;
  let connections = 0;
  const front = createApp(broker, {
    maxBodyBytes: opts.maxBodyBytes,
    sseHeartbeatMs: opts.sseHeartbeatMs,
    sseMaxInflight: opts.sseMaxInflight,
    logger: log,
    metrics: opts.metrics,
    connections: () => connections,
    apiKeys: opts.apiKeys,
    compat: opts.compat,
  });
  // What createAdaptorServer builds, plus an errorHandler (which it does not
  // pass on): a request @hono/node-server cannot turn into a URL (a
  // backslash in the path, a bad or missing Host) never reaches the app,
  // and would get a bare 400 with no body; it gets the envelope instead.
  // (Node's own Host check would also answer a bare 400: it is left to this one.)
  const appListener = getRequestListener(front.app.fetch, {
    errorHandler: (err) => {
      const requestId = requestIdFrom(undefined);
      const bad = err instanceof RequestError;
      const status = bad ? 400 : 500;
      log[bad ? 'info' : 'error']({ requestId, status, err }, 'http request');
      const reply = failure(status, bad ? `malformed HTTP request: ${err.message}` : 'internal error');
      return new Response(reply.body, { status, headers: { 'content-type': 'application/json', 'x-request-id': requestId } });
    },
  });
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  // The app runs behind the connection limit's mark (set below): one property read per request.
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if ((req.socket as { [OVER_LIMIT]?: true })[OVER_LIMIT] === undefined) {
      appListener(req, res);
      return;
    }
    const requestId = requestIdFrom(req.headers['x-request-id']);
    log.info({ requestId, method: req.method, path: req.url, status: 503 }, 'http request');
    res.shouldKeepAlive = false;
    res.writeHead(503, { 'content-type': 'application/json', 'x-request-id': requestId, connection: 'close', 'retry-after': '1' });
    res.end(failure(503, connectionLimitMessage('HTTP', maxConnections)).body);
  };
  let server: Server;
  // Over TLS: the sockets whose handshake succeeded (the others' errors are handshake failures).
  let secured: WeakSet<Duplex> | undefined;
  if (opts.tls) {
    const https = createHttpsServer({ ...tlsServerOptions(opts.tls), requireHostHeader: false }, listener);
    logHandshakeFailures(https as ReturnType<typeof createHttpsServer>, log);
    const handshaken = new WeakSet<Duplex>();
    https.on('secureConnection', (socket: Duplex) => handshaken.add(socket));
    secured = handshaken;
    // The https server has every node:http server API used below.
    server = https as unknown as Server;
  } else server = createServer({ requireHostHeader: false }, listener);
  let refused = 0;
  // Over TLS the request's socket is the TLS socket, known once its handshake succeeded.
  server.on(opts.tls ? 'secureConnection' : 'connection', (socket: Duplex) => {
    if (connections >= maxConnections) {
      // Answered once its request is read (a reply before it confuses
      // clients), then closed; not counted, as it serves nothing.
      (socket as Duplex & { [OVER_LIMIT]?: true })[OVER_LIMIT] = true;
      if (refused++ % 1000 === 0) log.warn({ maxConnections, refused }, 'http connection refused: limits.max_connections reached');
      setTimeout(() => socket.destroy(), REFUSED_CONNECTION_GRACE_MS).unref();
      return;
    }
    connections++;
    socket.once('close', () => connections--);
  });
  // `Expect: 100-continue` (curl sends it for large bodies): refuse a body
  // declared over the limit before the client sends it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (Number(req.headers['content-length']) > opts.maxBodyBytes) {
      const requestId = requestIdFrom(req.headers['x-request-id']);
      const reply = failure(413, tooLarge(opts.maxBodyBytes).message, true);
      log.info({ requestId, method: req.method, path: req.url, status: 413 }, 'http request');
      res.writeHead(413, { 'content-type': 'application/json', 'x-request-id': requestId, connection: 'close' });
      res.end(reply.body);
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
  // CONNECT never reaches the app either: without this Node drops the
  // connection with no answer at all.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    log.info({ requestId, method: req.method, path: req.url, status: 405 }, 'http request');
    const body = failure(405, 'method CONNECT is not supported: this server is no proxy').body;
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nX-Request-ID: ${requestId}\r\n` +
        `Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  // A request Node's parser rejects never reaches the app: answer it here,
  // with the envelope and a request id like every other reply.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The https server passes failed handshakes here too: there is no HTTP
    // to answer, and logHandshakeFailures has logged them.
    if (secured !== undefined && !secured.has(socket)) {
      socket.destroy();
      return;
    }
    const requestId = requestIdFrom(undefined);
    const tooBig = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooBig ? 431 : 400;
    log.info({ requestId, status, err: err.message }, 'http request');
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const body = failure(status, tooBig ? 'request headers are too large' : `malformed HTTP request: ${err.message}`).body;
    socket.end(
      `HTTP/1.1 ${status} ${tooBig ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json\r\n` +
        `X-Request-ID: ${requestId}\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  server.on('error', (err) => log.error({ err }, 'http server error'));
  log.debug({ host: opts.host, port, tls: opts.tls !== undefined }, 'http listening');

  let closed: Promise<void> | undefined;
  return {
    port,
    get sseStreams(): number {
      return front.sseStreams;
    },
    get connections(): number {
      return connections;
    },
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        front.shutdown();
        const cut = setTimeout(() => {
          log.warn('http connections still open after the grace period: closing them');
          server.closeAllConnections();
        }, CLOSE_GRACE_MS);
        cut.unref();
        // Keep-alive connections with no request in progress would hold close()
        // open; connections become idle as their last reply (or SSE stream) ends.
        const reap = setInterval(() => server.closeIdleConnections(), 25);
        server.close(() => {
          clearTimeout(cut);
          clearInterval(reap);
          log.debug({ port }, 'http closed');
          resolve();
        });
      });
      return closed;
    },
  };
}
