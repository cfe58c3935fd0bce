/**
 * What to do about a failure, appended to the message of every ClientError
 * (types.ts), so that the clients and mqlite-cli say it alike: the
 * transports' and OpenSSL's reasons name what failed but not the fix. The
 * cases are the ones a user can fix: no broker at the address, a port of
 * another front (or protocol), TLS on one side only, a missing or wrong API
 * key, a frame above the broker's limit.
 */

const DEFAULT_PORTS = 'TCP 7070, HTTP 8080, gRPC 9090 by default';

const HINTS: readonly [RegExp, string][] = [
  [/ECONNREFUSED/, `no broker listens there: start one (\`mqlite\`, or \`npm start\` in its repository), or point --url / MQLITE_URL (the client's url) at the broker`],
  [/certificate required/i, 'the broker requires a client certificate (mutual TLS): pass a cert and key signed by its server.tls.ca (mqlite-cli --tls-cert, --tls-key)'],
  [/unknown ca|bad certificate|certificate unknown|unsupported certificate/i, "the broker refused this client certificate: it must be signed by the broker's server.tls.ca"],
  [/self[- ]signed|unable to verify|unable to get local issuer/i, "the broker's certificate is not trusted: pass the CA that signed it (mqlite-cli --tls-ca)"],
  [/altnames|does not match certificate/i, 'connect by a name or address that the certificate carries, or set the expected server name'],
  [/wrong version number|packet length too long|unknown protocol/i, 'the port does not speak TLS: connect without TLS (tcp://, http://, grpc://), or check that the broker has server.tls set'],
  [/\bwrite EPIPE|\bECONNRESET/, 'the broker closed the connection while the request was sent: it refuses a body above limits.max_body (16mb by default) this way, or it stopped'],
  [/socket hang up|connection closed before the (reply|response)|closed by the server before any reply/, 'the broker closed the connection without answering: if it has TLS on (server.tls), connect with TLS (tls:// or https:// urls, mqlite-cli --tls or --tls-ca); else see its log'],
  [/Parse Error: Expected HTTP/, `the port does not answer in HTTP/1.1: it is likely MQLite's TCP or gRPC port (${DEFAULT_PORTS}): use --proto tcp / grpc (tcp:// or grpc:// urls), or the HTTP port`],
  [/UNAVAILABLE: Protocol error|Received HTTP\/1|http2: Protocol error/i, `the port does not answer in HTTP/2 (gRPC): it is likely MQLite's TCP or HTTP port (${DEFAULT_PORTS}): use --proto tcp / http, or the gRPC port`],
];

/** `message` with the hint that fits it, if any (once: a message hinted before is left as it is). */
export function withHint(code: string, message: string): string {
  // OpenSSL's reasons end with a newline.
  const reason = message.trimEnd();
  if (code === 'UNAUTHENTICATED') {
    const hint = 'give the key with mqlite-cli --api-key <key> or MQLITE_API_KEY, or connect(url, { apiKey }) in code';
    if (reason.includes(hint)) return reason;
    // The broker's words explain the wire (a header, a first frame): a client user wants the option.
    if (/API key is required/.test(reason)) return `the broker requires an API key: ${hint}`;
    if (/invalid API key/.test(reason)) return `the broker refused this API key: check it; ${hint}`;
    return reason;
  }
  for (const [pattern, hint] of HINTS) if (pattern.test(reason)) return reason.includes(hint) ? reason : `${reason} (${hint})`;
  return message;
}

/**
 * The first bytes a TCP client read, when they are no MQLite frame: what
 * spoke instead. Undefined when they look like nothing known.
 */
export function sniffWrongProtocol(head: Uint8Array, address: string): string | undefined {
  const ascii = Buffer.from(head.subarray(0, 5)).toString('latin1');
  if (ascii.startsWith('HTTP/')) {
    return `the server at ${address} answered in HTTP/1.1: it is an HTTP port (MQLite's HTTP front?): use --proto http (an http:// url) there, or MQLite's TCP port (${DEFAULT_PORTS})`;
  }
  // An HTTP/2 server starts with a SETTINGS frame: length(3) type 4, flags 0 or 1, stream 0.
  if (head.length >= 9 && head[3] === 0x04 && (head[4] === 0 || head[4] === 1) && head[5] === 0 && head[6] === 0 && head[7] === 0 && head[8] === 0) {
    return `the server at ${address} answered in HTTP/2: it is likely MQLite's gRPC port: use --proto grpc (a grpc:// url) there, or the TCP port (${DEFAULT_PORTS})`;
  }
  // A TLS record: alert (21) or handshake (22), version 3.x.
  if (head.length >= 2 && (head[0] === 0x15 || head[0] === 0x16) && head[1] === 0x03) {
    return `the server at ${address} answered in TLS: the broker has TLS on: connect with TLS (a tls:// url, or mqlite-cli --tls and --tls-ca)`;
  }
  return undefined;
}
