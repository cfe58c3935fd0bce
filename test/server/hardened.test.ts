/**
 * The hardening pieces together in one server process: TLS, API keys and
 * limits.max_connections on every front. Each was built and tested on its
 * own; this checks they compose (the connection limit counts TLS
 * connections, a refusal travels over TLS, the key is checked over TLS).
 * `npm test` builds first; run `npm run build` before running this file alone.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../../bench/server-process.js';
import { GrpcClient } from '../../src/client/grpc/index.js';
import { HttpClient } from '../../src/client/http/index.js';
import { TcpClient } from '../../src/client/tcp/index.js';
import { ClientError } from '../../src/client/types.js';
import { makePki, type Pki } from '../tls/certs.js';

const KEY = 'hardened-test-key-0123456789abcdef';
const MAX_CONNECTIONS = 2;

let pki: Pki;
let server: ServerProcess;
beforeAll(async () => {
  pki = makePki();
  server = await startServerProcess({
    persistence: false,
    extraConfig: {
      server: {
        host: '127.0.0.1',
        grpc: { port: 0 },
        http: { port: 0 },
        tcp: { port: 0 },
        tls: { cert: pki.paths.serverCert, key: pki.paths.serverKey },
      },
      limits: { max_connections: MAX_CONNECTIONS },
      security: { api_keys: [KEY] },
    },
  });
});
afterAll(async () => {
  await server?.stop();
  pki?.remove();
});

const tls = () => ({ ca: pki.ca });

/** A TLS connection that completed its handshake and stays open (it holds one of the front's connections). */
function holdTls(port: number, alpn?: string[]): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca, ALPNProtocols: alpn }, () => resolve(s));
    s.once('error', reject);
  });
}

async function failure(p: Promise<unknown>): Promise<ClientError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientError);
  return err as ClientError;
}

/** Holds the front's connections up to the limit, runs `fn`, then lets them go; returns once the broker has seen them close. */
async function atTheLimit(port: number, held: number, fn: () => Promise<void>, alpn?: string[]): Promise<void> {
  const sockets: TLSSocket[] = [];
  try {
    for (let i = 0; i < held; i++) sockets.push(await holdTls(port, alpn));
    await fn();
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('TLS + API keys + max_connections on one broker', () => {
  it('TCP: a TLS client with the key works; a wrong key is refused; past the limit the refusal frame comes over TLS', async () => {
    const c = await TcpClient.connect({ host: '127.0.0.1', port: server.ports.tcp, encoding: 'protobuf', timeoutMs: 5000, tls: tls(), apiKey: KEY });
    try {
      await c.createNamespace('tcp');
      await c.createTopic('tcp', 't', 1);
      const { messageId } = await c.publish('tcp', 't', 'over tls');
      const [m] = await c.consume('tcp', 't', 0, { autoAck: true });
      expect(m?.id).toBe(messageId);

      const wrong = await failure(TcpClient.connect({ host: '127.0.0.1', port: server.ports.tcp, encoding: 'json', timeoutMs: 5000, tls: tls(), apiKey: 'not-the-key-0123456789' }));
      expect(wrong.code).toBe('UNAUTHENTICATED');

      // `c` holds one connection; one more reaches the limit.
      await atTheLimit(server.ports.tcp, MAX_CONNECTIONS - 1, async () => {
        const over = await failure(TcpClient.connect({ host: '127.0.0.1', port: server.ports.tcp, encoding: 'json', timeoutMs: 5000, tls: tls(), apiKey: KEY }));
        expect(over.message).toContain('limits.max_connections');
        // The connection already served goes on.
        await c.publish('tcp', 't', 'still served');
      });
    } finally {
      await c.close();
    }
  });

  it('HTTP: HTTPS with the key works, without it 401; past the limit 503 naming the limit', async () => {
    const c = new HttpClient({ baseUrl: `https://127.0.0.1:${server.ports.http}`, timeoutMs: 5000, tls: tls(), apiKey: KEY });
    try {
      await c.createNamespace('http');
      const anonymous = new HttpClient({ baseUrl: `https://127.0.0.1:${server.ports.http}`, timeoutMs: 5000, tls: tls() });
      expect((await failure(anonymous.listNamespaces())).code).toBe('UNAUTHENTICATED');
      await anonymous.close();
    } finally {
      await c.close();
    }
    await new Promise((r) => setTimeout(r, 200));
    await atTheLimit(server.ports.http, MAX_CONNECTIONS, async () => {
      const late = new HttpClient({ baseUrl: `https://127.0.0.1:${server.ports.http}`, timeoutMs: 5000, tls: tls(), apiKey: KEY });
      const over = await failure(late.listNamespaces());
      expect(over.message).toContain('limits.max_connections');
      await late.close();
    });
  });

  it('gRPC: TLS with the key works, without it UNAUTHENTICATED; past the limit RESOURCE_EXHAUSTED naming the limit', async () => {
    const c = new GrpcClient({ host: '127.0.0.1', port: server.ports.grpc, timeoutMs: 5000, tls: tls(), apiKey: KEY });
    try {
      await c.createNamespace('grpc');
      expect(await c.listNamespaces()).toContain('grpc');
    } finally {
      await c.close();
    }
    const anonymous = new GrpcClient({ host: '127.0.0.1', port: server.ports.grpc, timeoutMs: 5000, tls: tls() });
    expect((await failure(anonymous.listNamespaces())).code).toBe('UNAUTHENTICATED');
    await anonymous.close();
    await new Promise((r) => setTimeout(r, 200));
    await atTheLimit(
      server.ports.grpc,
      MAX_CONNECTIONS,
      async () => {
        const late = new GrpcClient({ host: '127.0.0.1', port: server.ports.grpc, timeoutMs: 5000, tls: tls(), apiKey: KEY });
        const over = await failure(late.listNamespaces());
        expect(over.code).toBe('RESOURCE_EXHAUSTED');
        expect(over.message).toContain('limits.max_connections');
        await late.close();
      },
      ['h2'],
    );
  });
});
