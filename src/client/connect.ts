/**
 * One way to connect (docs/CLIENT.md, "Connecting"): a URL picks the
 * protocol, and every protocol takes the same options and returns the same
 * client. `MQLITE_URL` is the default URL, as `NATS_URL` is for NATS tools.
 *
 *   tcp://host:7070    framed TCP, protobuf (`?encoding=json` for JSON)
 *   tls://host:7070    the same over TLS
 *   http://host:8080   HTTP REST and SSE; https:// over TLS
 *   grpc://host:9090   gRPC; grpcs:// over TLS
 *
 * A port left out is the broker's default port of that front.
 */
import { GrpcClient } from './grpc/index.js';
import { HttpClient } from './http/index.js';
import { TcpClient } from './tcp/index.js';
import { Client, type ReconnectOptions, type Transport } from './client.js';
import { openOwner } from './cluster.js';
import type { ClientTlsOptions } from './types.js';
import { type Endpoint, parseUrl } from './url.js';

export { type Endpoint, type Protocol, parseUrl } from './url.js';

/** The URL used when none is given: `MQLITE_URL`, else the TCP front on this machine. */
export const DEFAULT_URL = 'tcp://127.0.0.1:7070';

/** Options every protocol takes alike. */
export interface ConnectOptions {
  /** The broker's API key (`security.api_keys`): `auth` frame, `X-API-Key` or `x-api-key` metadata. */
  apiKey?: string;
  /** TLS material; TLS itself is chosen by the URL's scheme (tls://, https://, grpcs://). */
  tls?: ClientTlsOptions;
  /** Connect timeout and per-request time limit; default 30 s. */
  timeoutMs?: number;
  /** Reconnect with backoff and jitter when the connection drops (default on); `false` to fail instead. */
  reconnect?: ReconnectOptions | false;
  /**
   * gRPC only: `publish` and `publishEx` go over one PublishStream, many in
   * flight on one HTTP/2 stream (docs/CLIENT.md, "Publishing over a gRPC
   * stream"); the other protocols ignore it. Default off.
   */
  publishStream?: boolean;
}

/** Opens one protocol client for an endpoint (a reconnect calls it again). */
export async function openTransport(ep: Endpoint, opts: ConnectOptions): Promise<Transport> {
  const tls = ep.tls ? (opts.tls ?? {}) : undefined;
  const common = { timeoutMs: opts.timeoutMs, apiKey: opts.apiKey, tls };
  switch (ep.protocol) {
    case 'tcp':
      return TcpClient.connect({ host: ep.host, port: ep.port, encoding: ep.encoding, ...common });
    case 'http': {
      const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
      return new HttpClient({ baseUrl: `${ep.tls ? 'https' : 'http'}://${host}:${ep.port}`, ...common });
    }
    case 'grpc':
      return new GrpcClient({ host: ep.host, port: ep.port, ...common, publishStream: opts.publishStream });
  }
}

/**
 * Connects to a broker. Resolves once the broker answered (TCP: the
 * connection and its `auth`; HTTP and gRPC: a first request), so a wrong
 * address, key or protocol fails here with a message that says so.
 */
export async function connect(url?: string, opts: ConnectOptions = {}): Promise<Client> {
  const eps = (url ?? process.env['MQLITE_URL'] ?? DEFAULT_URL).split(',').map((u) => parseUrl(u.trim()));
  if (eps.length === 1) return Client.open(eps[0]!, () => openTransport(eps[0]!, opts), opts.reconnect, opts.timeoutMs);
  return Client.open(eps[0]!, clusterOpener(eps, opts), opts.reconnect, opts.timeoutMs, true);
}

/**
 * The nodes of a cluster (docs/CLIENT.md, "Clusters"): the first that
 * answers as the owner, starting with the one that answered last. A
 * standby answers UNAVAILABLE naming the owner, and is passed over.
 */
function clusterOpener(eps: readonly Endpoint[], opts: ConnectOptions): () => Promise<Transport> {
  let next = 0;
  return async () => {
    const { conn, index } = await openOwner(eps.length, (i) => openTransport(eps[i]!, opts), next);
    next = index;
    return conn;
  };
}
