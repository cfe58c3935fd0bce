/**
 * The gRPC front: `mqlite.v1.MQLiteService` on @grpc/grpc-js, with server
 * reflection (docs/PROTOCOL.md, "gRPC"). A codec over the command table
 * (src/server/commands/): the service definition decodes each request
 * message, the method's command (the one whose request is that message)
 * maps it to the Broker call and its result to the response message, and
 * errors.ts maps failures. `PublishStream` runs the `publish` command per
 * entry of its stream (publish-stream.ts).
 */
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { createServer as createNetServer, type Socket } from 'node:net';
import { create } from '@bufbuild/protobuf';
import { type Metadata, Server, ServerCredentials, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Access } from '../../auth/access.js';
import { type ApiKeys, bearerToken, FULL_ACCESS, NO_API_KEYS, type Principal, requestNamespace } from '../../auth/api-keys.js';
import type { Logger } from 'pino';
import { exhausted, isBrokerError } from '../../broker/errors.js';
import {
  type BrokerAccess,
  type ConnectionLimits,
  connectionLimitMessage,
  REFUSED_CONNECTION_GRACE_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION,
  type FrontHandle,
} from '../front.js';
import type { ServerTls } from '../tls.js';
import { MalformedRequest, MQLiteService, mqliteServiceDefinition } from '../../protocol/grpc-definition.js';
import type { AnyCommand, RequestOf } from '../commands/command.js';
import { operationOfRequest } from '../commands/table.js';
import { malformed, shuttingDown, statusOf } from './errors.js';
import { addReflection } from './reflection.js';
import { DEFAULT_MAX_UNANSWERED, publishStreamDefinition, publishStreamHandler } from './publish-stream.js';
import { subscribeHandler, type LiveStream } from './subscribe.js';

export interface GrpcServerOptions extends ConnectionLimits {
  host: string;
  port: number;
  /** Largest request accepted (grpc-js answers RESOURCE_EXHAUSTED above it). */
  maxMessageBytes: number;
  logger: Logger;
  /** How long close() waits for calls to finish before cutting them (default 5 s). */
  shutdownTimeoutMs?: number;
  /** API keys (docs/DESIGN.md, "Authentication"); absent or empty: no authentication. Reflection stays open. */
  apiKeys?: ApiKeys;
  /** Serve TLS (and require client certificates when it has a CA). */
  tls?: ServerTls;
  /** The compatibility mode for the original's clients (docs/PROTOCOL.md, "Compatibility mode"). */
  compat?: boolean;
  /** PublishStream: publishes read and not yet answered per stream before it stops reading (default 4096). */
  maxUnansweredPerStream?: number;
}

/** Codes the original answered as OK with `success: false`: the request's failures, not the broker's state or the caller's rights. */
const COMPAT_FAILURES: ReadonlySet<string> = new Set(['NOT_FOUND', 'ALREADY_EXISTS', 'INVALID_ARGUMENT', 'FAILED_PRECONDITION', 'RESOURCE_EXHAUSTED']);

/**
 * In the compatibility mode, a domain failure of a call whose response has
 * `success` (and `message`) is that response, `success: false` with the
 * reason, as the original answered; undefined otherwise (a status, as usual).
 */
function compatFailure(cmd: AnyCommand, err: unknown): object | undefined {
  if (!isBrokerError(err) || !COMPAT_FAILURES.has(err.code)) return undefined;
  const fields = cmd.response.fields;
  if (!fields.some((f) => f.name === 'success')) return undefined;
  const hasMessage = fields.some((f) => f.name === 'message');
  return create(cmd.response, (hasMessage ? { success: false, message: err.message } : { success: false }) as never);
}

/** TLS credentials when configured; with a CA, grpc-js requires and verifies a client certificate. */
function credentialsOf(tls: ServerTls | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(tls.ca ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.ca !== undefined);
}

/** A call as the API-key check sees it. */
export interface CallerInfo {
  readonly metadata: Metadata;
  getPeer(): string;
}

/**
 * Checks a call's API key (metadata `x-api-key`, or `authorization: Bearer`)
 * and its scope for `op` on the request's namespace; throws UNAUTHENTICATED
 * or PERMISSION_DENIED, counted and logged. A request that did not decode
 * is checked for the key alone (it is refused as malformed next), and so
 * is `undefined` (a stream's key, checked at open; its requests later).
 */
export type CallAuthorizer = (call: CallerInfo, op: Access, request: object | undefined) => Principal;

function metadataString(metadata: Metadata, key: string): string | undefined {
  const v = metadata.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

function callAuthorizer(apiKeys: ApiKeys, log: Logger): CallAuthorizer | undefined {
  if (!apiKeys.enabled) return undefined;
  return (call, op, request) => {
    const presented = metadataString(call.metadata, 'x-api-key') ?? bearerToken(metadataString(call.metadata, 'authorization'));
    const remote = call.getPeer();
    const principal = apiKeys.require(presented, 'grpc', remote, log);
    if (request !== undefined && !(request instanceof MalformedRequest)) apiKeys.authorize(principal, op, requestNamespace(request), 'grpc', remote, log);
    return principal;
  };
}

const SERVER_OPTIONS = {
  // Channelz keeps per-call statistics nobody reads here: cost on the hot path.
  'grpc.enable_channelz': 0,
  // A subscriber that vanished without closing its connection is found by
  // a ping within 40 s, and its subscription closed (its in-flight
  // messages then follow the ack rules) instead of lingering.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
};

/**
 * The HTTP/2 flow-control window this server grants each connection, and
 * each stream on it, for what it receives (docs/PROTOCOL.md, "gRPC"):
 * HTTP/2's default, 64 KiB, lets a client have no more than that sent and
 * unread, so a stream of publishes waited for the server's window updates
 * (measured: PublishStream at 70-76k msgs/s of 1 KiB; 91-92k with 1 MiB,
 * 93-96k with 16 MiB). A stream part-way through a message holds up to
 * limits.max_frame anyway, so 1 MiB adds little to what a connection can
 * make the server hold.
 */
export const FLOW_CONTROL_WINDOW = 1 << 20;

/**
 * Grants FLOW_CONTROL_WINDOW on every session of `server`'s HTTP/2
 * servers. grpc-js has no server option for it (its clients have
 * `grpc-node.flow_control_window`), nor a public handle on its HTTP/2
 * servers: they are the private `http2Servers`. If a release of grpc-js
 * renames it, this throws at startup rather than quietly serving with the
 * small window (test/grpc/flow-control.test.ts reads the window a client
 * is granted).
 */
function widenFlowControlWindows(server: Server): void {
  const http2Servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(http2Servers instanceof Map)) throw new Error('@grpc/grpc-js has no http2Servers map any more: the gRPC front cannot set its flow-control window (src/server/grpc/index.ts, widenFlowControlWindows)');
  for (const h2 of http2Servers.keys() as IterableIterator<Http2Server>) {
    h2.on('session', (session: ServerHttp2Session) => {
      session.settings({ initialWindowSize: FLOW_CONTROL_WINDOW });
      session.setLocalWindowSize(FLOW_CONTROL_WINDOW);
    });
  }
}

/**
 * The server that connections over limits.max_connections are handed to:
 * every call on them ends with RESOURCE_EXHAUSTED naming the limit. grpc-js
 * has no connection limit of its own, so the front owns the listening
 * socket and hands each connection to this server or the real one
 * (`createConnectionInjector`); the real one's call path is unchanged.
 */
function refusingServer(maxConnections: number, log: Logger): Server {
  const server = new Server(SERVER_OPTIONS);
  const refusal = () => statusOf(exhausted(connectionLimitMessage('gRPC', maxConnections)), log, 'refused');
  const implementation: UntypedServiceImplementation = {};
  for (const m of MQLiteService.methods) {
    implementation[m.localName] =
      m.methodKind === 'unary'
        ? (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => callback(refusal())
        : (call: ServerWritableStream<unknown, unknown>) => call.emit('error', refusal());
  }
  server.addService(mqliteServiceDefinition, implementation);
  return server;
}

export async function startGrpcServer(broker: BrokerAccess, opts: GrpcServerOptions): Promise<FrontHandle> {
  const log = opts.logger;
  const server = new Server({ ...SERVER_OPTIONS, 'grpc.max_receive_message_length': opts.maxMessageBytes });
  const live = new Set<LiveStream>();
  const publishing = new Set<LiveStream>();
  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const maxSubscriptions = opts.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION;

  const authorize = callAuthorizer(opts.apiKeys ?? NO_API_KEYS, log);
  const implementation: UntypedServiceImplementation = {
    subscribe: subscribeHandler(broker, live, log, maxSubscriptions, authorize),
    publishStream: publishStreamHandler(broker, publishing, log, opts.maxUnansweredPerStream ?? DEFAULT_MAX_UNANSWERED, authorize),
  };
  for (const m of MQLiteService.methods) {
    if (m.methodKind !== 'unary') continue;
    const cmd = operationOfRequest(m.input) as AnyCommand;
    const fail = (err: unknown, callback: sendUnaryData<object>): void => {
      const compatAnswer = opts.compat ? compatFailure(cmd, err) : undefined;
      if (compatAnswer !== undefined) callback(null, compatAnswer);
      else callback(statusOf(err, log, m.name));
    };
    /** The response message of `out`, or the failure when building it throws. */
    const answer = (out: unknown, callback: sendUnaryData<object>): void => {
      let res: object;
      try {
        res = create(cmd.response, cmd.reply.pb(out));
      } catch (err) {
        fail(err, callback);
        return;
      }
      callback(null, res);
    };
    implementation[m.localName] = (call: ServerUnaryCall<RequestOf<typeof m.input> | MalformedRequest, object>, callback: sendUnaryData<object>) => {
      const req = call.request;
      let principal = FULL_ACCESS;
      if (authorize !== undefined) {
        try {
          principal = authorize(call, cmd, req);
        } catch (err) {
          callback(statusOf(err, log, m.name));
          return;
        }
      }
      if (req instanceof MalformedRequest) {
        callback(statusOf(malformed(req), log, m.name));
        return;
      }
      // The command's result straight to the callback: no async wrapper, one promise hop (the broker's own).
      let out: unknown;
      try {
        out = cmd.run(broker.serving(), cmd.input(req), principal);
      } catch (err) {
        fail(err, callback);
        return;
      }
      if (out instanceof Promise) out.then((res: unknown) => answer(res, callback), (err: unknown) => fail(err, callback));
      else answer(out, callback);
    };
  }
  // PublishStream's messages go through its own codec (publish-stream-codec.ts).
  server.addService({ ...mqliteServiceDefinition, publishStream: publishStreamDefinition }, implementation);
  addReflection(server, [MQLiteService]);

  const credentials = credentialsOf(opts.tls);
  const accept = server.createConnectionInjector(credentials);
  widenFlowControlWindows(server);
  const refuser = refusingServer(maxConnections, log);
  const refuse = refuser.createConnectionInjector(credentials);
  const sockets = new Set<Socket>();
  let refused = 0;
  const listener = createNetServer({ noDelay: true }, (socket) => {
    if (sockets.size >= maxConnections) {
      if (refused++ % 1000 === 0) log.warn({ remote: socket.remoteAddress, maxConnections, refused }, 'grpc connection refused: limits.max_connections reached');
      socket.on('error', () => {});
      refuse.injectConnection(socket);
      setTimeout(() => socket.destroy(), REFUSED_CONNECTION_GRACE_MS).unref();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    accept.injectConnection(socket);
  });
  listener.on('error', (err) => log.error({ err }, 'grpc listener error'));
  const port = await new Promise<number>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(opts.port, opts.host, () => {
      listener.off('error', reject);
      const address = listener.address();
      resolve(typeof address === 'object' && address !== null ? address.port : opts.port);
    });
  });
  log.debug({ host: opts.host, port, maxConnections, tls: opts.tls !== undefined }, 'grpc listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      listener.close();
      refuser.forceShutdown();
      const timer = setTimeout(() => {
        log.warn({ streams: live.size + publishing.size }, 'grpc calls still open at shutdown timeout: cutting them');
        server.forceShutdown();
        for (const socket of sockets) socket.destroy();
        resolve();
      }, opts.shutdownTimeoutMs ?? 5000);
      timer.unref();
      // Stop accepting calls first, then end the streams, which never end on their own.
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
      for (const stream of [...live, ...publishing]) stream.end(shuttingDown());
    }).then(() => log.info({ port }, 'grpc closed'));
    return closing;
  };
  return { port, close, counts: () => ({ connections: sockets.size, subscriptions: live.size }) };
}
