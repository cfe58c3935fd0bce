/**
 * What to do about a failed TLS connection: OpenSSL's reasons name the
 * failure but not the fix, so the clients append one for the cases a user
 * can fix (a missing CA, a missing or foreign client certificate, a name
 * not in the certificate, TLS against a plaintext port).
 */
const HINTS: readonly [RegExp, string][] = [
  [/certificate required/i, 'the broker requires a client certificate (mutual TLS): pass a cert and key signed by its server.tls.ca (mqlite-cli --tls-cert, --tls-key)'],
  [/unknown ca|bad certificate|certificate unknown|unsupported certificate/i, "the broker refused this client certificate: it must be signed by the broker's server.tls.ca"],
  [/self[- ]signed|unable to verify|unable to get local issuer/i, "the broker's certificate is not trusted: pass the CA that signed it (mqlite-cli --tls-ca)"],
  [/altnames|does not match certificate/i, 'connect by a name or address that the certificate carries, or set the expected server name'],
  [/wrong version number|packet length too long|unknown protocol/i, 'the port does not speak TLS: connect without TLS, or check that the broker has server.tls set'],
];

export function withTlsHint(message: string): string {
  // OpenSSL's reasons end with a newline.
  const reason = message.trimEnd();
  for (const [pattern, hint] of HINTS) if (pattern.test(reason)) return `${reason} (${hint})`;
  return message;
}
