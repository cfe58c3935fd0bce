/**
 * The gRPC front: `mqlite.v1.MQLiteService` on @grpc/grpc-js, with server
 * reflection (PROTOCOL.md, "gRPC"). A thin adapter: the service definition
 * decodes, the handler table calls the broker, errors.ts maps failures.
 */
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Broker } from '../../broker/broker.js';
import type { FrontHandle } from '../front.js';
import type { ServerTls } from '../tls.js';
import {
  MalformedRequest,
  MQLiteService,
  mqliteServiceDefinition,
  response,
  type RequestOf,
  type ResponseOf,
  type UnaryMethodName,
} from './definition.js';
import { malformed, shuttingDown, statusOf } from './errors.js';
import { unaryHandlers } from './handlers.js';
import { addReflection } from './reflection.js';
import { subscribeHandler, type LiveStream } from './subscribe.js';

export interface GrpcServerOptions {
  host: string;
  port: number;
  /** Largest request accepted (grpc-js answers RESOURCE_EXHAUSTED above it). */
  maxMessageBytes: number;
  logger: Logger;
  /** How long close() waits for calls to finish before cutting them (default 5 s). */
  shutdownTimeoutMs?: number;
  /** Serve TLS (and require client certificates when it has a CA). */
  tls?: ServerTls;
}

/** TLS credentials when configured; with a CA, grpc-js requires and verifies a client certificate. */
function credentialsOf(tls: ServerTls | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(tls.ca ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.ca !== undefined);
}

function bindAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startGrpcServer(broker: Broker, opts: GrpcServerOptions): Promise<FrontHandle> {
  const log = opts.logger;
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes,
    // Channelz keeps per-call statistics nobody reads here: cost on the hot path.
    'grpc.enable_channelz': 0,
    // A subscriber that vanished without closing its connection is found by
    // a ping within 40 s, and its subscription closed (its in-flight
    // messages then follow the ack rules) instead of lingering.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
  });
  const live = new Set<LiveStream>();

  const handlers = unaryHandlers(broker);
  const implementation: UntypedServiceImplementation = {
    subscribe: subscribeHandler(broker, live, log),
  };
  for (const name of Object.keys(handlers) as UnaryMethodName[]) {
    const handle = handlers[name] as (req: RequestOf<typeof name>) => Promise<object>;
    const method = MQLiteService.method[name].name;
    implementation[name] = (call: ServerUnaryCall<RequestOf<typeof name>, ResponseOf<typeof name>>, callback: sendUnaryData<ResponseOf<typeof name>>) => {
      const req: RequestOf<typeof name> | MalformedRequest = call.request;
      if (req instanceof MalformedRequest) {
        callback(statusOf(malformed(req), log, method));
        return;
      }
      handle(req).then(
        (init) => callback(null, response(name, init as never)),
        (err: unknown) => callback(statusOf(err, log, method)),
      );
    };
  }
  server.addService(mqliteServiceDefinition, implementation);
  addReflection(server, [MQLiteService]);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(bindAddress(opts.host, opts.port), credentialsOf(opts.tls), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  log.debug({ host: opts.host, port, tls: opts.tls !== undefined }, 'grpc listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        log.warn({ streams: live.size }, 'grpc calls still open at shutdown timeout: cutting them');
        server.forceShutdown();
        resolve();
      }, opts.shutdownTimeoutMs ?? 5000);
      timer.unref();
      // Stop accepting calls first, then end the streams, which never end on their own.
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
      for (const stream of [...live]) stream.end(shuttingDown());
    }).then(() => log.info({ port }, 'grpc closed'));
    return closing;
  };
  // grpc-js does not expose its HTTP/2 sessions: only the streams are counted.
  return { port, close, counts: () => ({ subscriptions: live.size }) };
}
