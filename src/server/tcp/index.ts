/**
 * The TCP framing front (docs/PROTOCOL.md, "TCP framing"): a `node:net` server
 * (`node:tls` when TLS is configured: the same connections, encrypted)
 * speaking `u32be L | u8 encoding | body` with JSON (0) and protobuf (1)
 * bodies. Each connection is a `Connection` (pipelined, ordered replies,
 * backpressure, pushed subscriptions); commands are the table in
 * handlers.ts, shared by both encodings.
 */
import { NATIVE_JSON, ORIGINAL_JSON } from '../json-payload.js';
import { type Server, type Socket, createServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { type ApiKeys, NO_API_KEYS } from '../../auth/api-keys.js';
import { type ConnectionLimits, type BrokerAccess, connectionLimitMessage, REFUSED_CONNECTION_GRACE_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION, type FrontHandle } from '../front.js';
import { logHandshakeFailures, tlsServerOptions, type ServerTls } from '../tls.js';
import { Connection } from './connection.js';
import { ENCODING_JSON } from '../../protocol/frame.js';

export interface TcpServerOptions extends ConnectionLimits {
  host: string;
  port: number;
  /** Largest accepted frame length `L` (encoding byte + body). */
  maxFrameBytes: number;
  logger: Logger;
  /** API keys (docs/PROTOCOL.md, "Authentication"); absent or empty: no authentication. */
  apiKeys?: ApiKeys;
  /** Serve TLS (and require client certificates when it has a CA). */
  tls?: ServerTls;
  /** The compatibility mode for the original's clients (docs/PROTOCOL.md, "Compatibility mode"). */
  compat?: boolean;
}

/** Socket buffer sizes: a client that never reads is cut off at about this much per connection. */
const SOCKET_HIGH_WATER = 256 * 1024;
/** How long close() waits for connections to flush their last replies. */
const CLOSE_GRACE_MS = 5000;

/**
 * The one frame a connection over limits.max_connections gets, before it is
 * closed: JSON (the client has sent nothing yet, so its encoding is unknown).
 */
function refusalFrame(reason: string): Buffer {
  const body = Buffer.from(JSON.stringify({ status: 'error', error: `RESOURCE_EXHAUSTED: ${reason}` }));
  const frame = Buffer.allocUnsafe(5 + body.length);
  frame.writeUInt32BE(body.length + 1, 0);
  frame[4] = ENCODING_JSON;
  body.copy(frame, 5);
  return frame;
}

export async function startTcpServer(broker: BrokerAccess, opts: TcpServerOptions): Promise<FrontHandle> {
  const log = opts.logger;
  const connections = new Set<Connection>();
  const apiKeys = opts.apiKeys ?? NO_API_KEYS;
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const maxSubscriptions = opts.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION;
  let refused = 0;
  // Over TLS, called once the handshake succeeded: the refusal frame goes over TLS too.
  const onConnection = (socket: Socket): void => {
    if (connections.size >= maxConnections) {
      // Accepted only to say why: one error frame, then close.
      if (refused++ % 1000 === 0) log.warn({ remote: socket.remoteAddress, maxConnections, refused }, 'tcp connection refused: limits.max_connections reached');
      socket.on('error', () => {});
      // Whatever it sent is discarded unread; reading lets its FIN close the socket.
      socket.resume();
      socket.end(refusalFrame(connectionLimitMessage('TCP', maxConnections)));
      setTimeout(() => socket.destroy(), REFUSED_CONNECTION_GRACE_MS).unref();
      return;
    }
    const conn = new Connection(broker, socket, opts.maxFrameBytes, log, apiKeys, maxSubscriptions, opts.compat ? ORIGINAL_JSON : NATIVE_JSON);
    connections.add(conn);
    void conn.closedPromise.then(() => connections.delete(conn));
  };
  const socketOptions = { allowHalfOpen: true, highWaterMark: SOCKET_HIGH_WATER, noDelay: true };
  let server: Server;
  if (opts.tls) {
    // A connection starts once its handshake succeeded ('secureConnection'),
    // and only then becomes half-open: during the handshake a peer that hangs
    // up (e.g. a client rejecting our certificate) must close the socket, as
    // nothing else would, and server.close() would wait for it.
    const tlsServer = createTlsServer({ ...socketOptions, allowHalfOpen: false, ...tlsServerOptions(opts.tls) }, (socket: Socket) => {
      socket.allowHalfOpen = true;
      onConnection(socket);
    });
    logHandshakeFailures(tlsServer, log);
    server = tlsServer;
  } else server = createServer(socketOptions, onConnection);
  server.on('error', (err) => log.error({ err }, 'tcp server error'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  log.debug({ host: opts.host, port, maxFrameBytes: opts.maxFrameBytes, tls: opts.tls !== undefined }, 'tcp listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    counts() {
      let subscriptions = 0;
      for (const c of connections) subscriptions += c.subscriptionCount;
      return { connections: connections.size, subscriptions };
    },
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of connections) c.shutdown();
        const all = Promise.all([...connections].map((c) => c.closedPromise));
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_GRACE_MS);
        });
        await Promise.race([all, grace]);
        clearTimeout(timer);
        for (const c of connections) c.destroy();
        await stopped;
        log.info({ port }, 'tcp closed');
      })();
      return closing;
    },
  };
}
