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
import { ClientError, type ClientTlsOptions } from './types.js';

export type Protocol = 'tcp' | 'http' | 'grpc';

/** Where a URL points: the protocol, the address, and whether to speak TLS. */
export interface Endpoint {
  readonly protocol: Protocol;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** TCP only: the frame encoding (`?encoding=json|protobuf`, default protobuf). */
  readonly encoding: 'json' | 'protobuf';
  /** The URL as given, without credentials, for messages. */
  readonly url: string;
}

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
}

/** The URL used when none is given: `MQLITE_URL`, else the TCP front on this machine. */
export const DEFAULT_URL = 'tcp://127.0.0.1:7070';

const SCHEMES: Readonly<Record<string, { protocol: Protocol; tls: boolean; port: number }>> = {
  'tcp:': { protocol: 'tcp', tls: false, port: 7070 },
  'tls:': { protocol: 'tcp', tls: true, port: 7070 },
  'http:': { protocol: 'http', tls: false, port: 8080 },
  'https:': { protocol: 'http', tls: true, port: 8080 },
  'grpc:': { protocol: 'grpc', tls: false, port: 9090 },
  'grpcs:': { protocol: 'grpc', tls: true, port: 9090 },
};

/** Reads a broker URL; throws INVALID_ARGUMENT naming what is wrong and the accepted forms. */
export function parseUrl(text: string): Endpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ClientError('INVALID_ARGUMENT', `broker URL '${text}' is not a URL: write it as tcp://host:7070, http://host:8080 or grpc://host:9090`);
  }
  const scheme = SCHEMES[url.protocol];
  if (scheme === undefined) {
    throw new ClientError('INVALID_ARGUMENT', `broker URL '${text}': unknown scheme '${url.protocol}' (use tcp, tls, http, https, grpc or grpcs)`);
  }
  if (url.hostname === '') throw new ClientError('INVALID_ARGUMENT', `broker URL '${text}' names no host`);
  const encoding = url.searchParams.get('encoding') ?? 'protobuf';
  if (encoding !== 'json' && encoding !== 'protobuf') {
    throw new ClientError('INVALID_ARGUMENT', `broker URL '${text}': encoding must be json or protobuf, not '${encoding}'`);
  }
  if (encoding === 'json' && scheme.protocol !== 'tcp') {
    throw new ClientError('INVALID_ARGUMENT', `broker URL '${text}': ?encoding applies to tcp:// and tls:// only`);
  }
  // IPv6 literals come bracketed from URL; net and http2 want them bare.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    protocol: scheme.protocol,
    host,
    port: url.port === '' ? scheme.port : Number(url.port),
    tls: scheme.tls,
    encoding,
    url: `${url.protocol}//${url.host}${url.search}`,
  };
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
      return new GrpcClient({ host: ep.host, port: ep.port, ...common });
  }
}

/**
 * Connects to a broker. Resolves once the broker answered (TCP: the
 * connection and its `auth`; HTTP and gRPC: a first request), so a wrong
 * address, key or protocol fails here with a message that says so.
 */
export async function connect(url?: string, opts: ConnectOptions = {}): Promise<Client> {
  const ep = parseUrl(url ?? process.env['MQLITE_URL'] ?? DEFAULT_URL);
  return Client.open(ep, () => openTransport(ep, opts), opts.reconnect, opts.timeoutMs);
}
