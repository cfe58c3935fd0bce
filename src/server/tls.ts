/**
 * TLS for every front (docs/PROTOCOL.md, "TLS"): `server.tls.cert` and
 * `server.tls.key` turn it on; `server.tls.ca` also requires a client
 * certificate signed by that CA (mutual TLS). The files are read and
 * checked once at startup, so a wrong path or a broken PEM stops the broker
 * with a ConfigError naming the key and the file instead of failing at the
 * first handshake.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server as TlsServer, TlsOptions, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.js';

/** The PEM material of the server, read and checked. */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  /** Set: clients must present a certificate signed by it. */
  ca?: Buffer;
  /** For the startup log. */
  certSubject: string;
  certValidTo: string;
}

function readPem(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`'${key}': cannot read ${path}: ${(err as Error).message}`);
  }
}

function certificate(key: string, path: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(`'${key}': ${path} is not a PEM certificate (${(err as Error).message})`);
  }
}

/** Reads and checks the TLS files of the config; undefined when TLS is off. */
export function loadServerTls(tls: Config['server']['tls']): ServerTls | undefined {
  const { cert: certPath, key: keyPath, ca: caPath } = tls;
  if (certPath === undefined && keyPath === undefined) {
    if (caPath !== undefined) {
      throw new ConfigError(`'server.tls.ca' is set (${caPath}) but TLS is off: set 'server.tls.cert' and 'server.tls.key' too, or remove 'server.tls.ca'`);
    }
    return undefined;
  }
  if (certPath === undefined || keyPath === undefined) {
    const [set, missing] = certPath === undefined ? ['key', 'cert'] : ['cert', 'key'];
    throw new ConfigError(
      `'server.tls.${set}' is set (${certPath ?? keyPath}) but 'server.tls.${missing}' is not: TLS needs both the certificate and its private key`,
    );
  }
  const cert = readPem('server.tls.cert', certPath);
  const x509 = certificate('server.tls.cert', certPath, cert);
  const key = readPem('server.tls.key', keyPath);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(`'server.tls.key': ${keyPath} is not an unencrypted PEM private key (${(err as Error).message})`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new ConfigError(`'server.tls.key': ${keyPath} is not the private key of the certificate in 'server.tls.cert' (${certPath})`);
  }
  let ca: Buffer | undefined;
  if (caPath !== undefined) {
    ca = readPem('server.tls.ca', caPath);
    certificate('server.tls.ca', caPath, ca);
  }
  return { cert, key, ca, certSubject: x509.subject.replace(/\n/g, ', '), certValidTo: x509.validTo };
}

/** node:tls server options (TCP and HTTPS fronts): with a CA, a client certificate is required and verified. */
export function tlsServerOptions(tls: ServerTls): TlsOptions {
  return { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.ca !== undefined, rejectUnauthorized: tls.ca !== undefined };
}

/**
 * Logs failed handshakes (a plaintext client, an untrusted or missing client
 * certificate): node:tls then destroys the socket, and the server goes on.
 */
export function logHandshakeFailures(server: TlsServer, log: Logger): void {
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    // node:tls checks a client certificate after the handshake and, when it
    // does not verify, closes the socket, which reports as a hang-up
    // (ECONNRESET): its authorizationError tells the two apart.
    const refused = socket.authorizationError;
    if (refused !== undefined && refused !== null) {
      log.warn({ remote: socket.remoteAddress, code: String(refused), reason: 'client certificate does not verify against server.tls.ca' }, 'tls handshake failed');
      return;
    }
    const fields = { remote: socket.remoteAddress, code: err.code, reason: err.message.trimEnd() };
    // A client that hangs up mid-handshake is routine; anything else is a misconfigured or hostile client.
    if (err.code === 'ECONNRESET') log.debug(fields, 'tls handshake aborted by the client');
    else log.warn(fields, 'tls handshake failed');
  });
}
