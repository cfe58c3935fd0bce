/**
 * Broker URLs (docs/CLIENT.md, "Connecting"): the scheme picks the
 * protocol and TLS, a port left out is that front's default. Kept apart
 * from connect() so that the CLI reads a URL without loading every client.
 */
import { ClientError } from './types.js';

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
