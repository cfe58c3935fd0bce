/**
 * The TLS promises (docs/PROTOCOL.md, "TLS"), checked the same way on each front
 * over real sockets with the front's own client: a TLS client works end to
 * end (publish, consume, ack, a pushed subscription); a client that does not
 * trust the CA is refused; a plaintext client against the TLS port fails
 * cleanly and the server keeps serving, losing nothing; with `ca` set
 * (mutual TLS), a client without a certificate, or with one from another
 * CA, is refused and one with a certificate signed by the CA works.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { ClientError, type ClientMessage, type ClientTlsOptions, type MqliteClient } from '../../src/client/types.js';
import type { FrontHandle } from '../../src/server/front.js';
import { loadServerTls, type ServerTls } from '../../src/server/tls.js';
import { makePki, type Pki } from './certs.js';

export interface FrontUnderTest {
  name: string;
  /** `tls` undefined: the front in plaintext. */
  start(broker: Broker, tls: ServerTls | undefined, logger: Logger): Promise<FrontHandle>;
  /** The front's client; `tls` undefined: plaintext. */
  client(port: number, tls: ClientTlsOptions | undefined): Promise<MqliteClient>;
  /** Whether the front logs refused handshakes itself (grpc-js keeps them to its own tracer). */
  logsHandshakes: boolean;
}

/** Log lines of a pino logger, as objects. */
export function capture(): { lines: Record<string, unknown>[]; logger: Logger } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, sink) };
}

/** The ClientError of an operation that must fail (the test fails if it succeeds). */
export async function refusal(op: () => Promise<unknown>): Promise<ClientError> {
  let result: unknown;
  try {
    result = await op();
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    return err;
  }
  throw new Error(`expected a refusal, got ${JSON.stringify(result)}`);
}

/** Connects, makes one call, closes: what a refused client attempts. */
async function attempt(front: FrontUnderTest, port: number, tls: ClientTlsOptions | undefined): Promise<string[]> {
  const client = await front.client(port, tls);
  try {
    return await client.listNamespaces();
  } finally {
    await client.close().catch(() => undefined);
  }
}

function nextMessage(client: MqliteClient, ns: string, topic: string): Promise<{ first: Promise<ClientMessage>; close(): Promise<void> }> {
  let deliver!: (m: ClientMessage) => void;
  const first = new Promise<ClientMessage>((resolve) => (deliver = resolve));
  return client.subscribe(ns, topic, 0, { autoAck: true, onMessage: (m) => deliver(m) }).then((sub) => ({ first, close: () => sub.close() }));
}

export function tlsSuite(front: FrontUnderTest): void {
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki?.remove());

  const trusted = (): ClientTlsOptions => ({ ca: pki.ca });
  const withClientCert = (): ClientTlsOptions => ({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });

  describe(`${front.name} over TLS (server.tls.cert + key)`, () => {
    let broker: Broker;
    let handle: FrontHandle;
    let log: ReturnType<typeof capture>;
    beforeAll(async () => {
      broker = new Broker();
      log = capture();
      await broker.createNamespace('tls');
      await broker.createTopic('tls', 'orders', 1);
      const tls = loadServerTls({ cert: pki.paths.serverCert, key: pki.paths.serverKey });
      handle = await front.start(broker, tls!, log.logger);
    });
    afterAll(async () => {
      await handle?.close();
      await broker?.close();
    });

    it('serves a client that trusts the CA end to end: publish, consume, ack and a pushed subscription', async () => {
      const client = await front.client(handle.port, trusted());
      try {
        await client.createNamespace('tls-e2e');
        expect(await client.listNamespaces()).toEqual(['tls', 'tls-e2e']);
        await client.createTopic('tls-e2e', 'orders', 1);
        const pub = await client.publish('tls-e2e', 'orders', '{"n":1}');
        const got = await client.consume('tls-e2e', 'orders', 0, { batchSize: 10 });
        expect(got.map((m) => m.id)).toEqual([pub.messageId]);
        expect(JSON.parse(Buffer.from(got[0]!.payload).toString('utf8'))).toEqual({ n: 1 });
        await client.ack('tls-e2e', 'orders', 0, [pub.messageId]);

        const sub = await nextMessage(client, 'tls-e2e', 'orders');
        const pushed = await client.publish('tls-e2e', 'orders', '{"n":2}');
        const msg = await sub.first;
        await sub.close();
        expect(msg.id).toBe(pushed.messageId);
        expect(JSON.parse(Buffer.from(msg.payload).toString('utf8'))).toEqual({ n: 2 });
      } finally {
        await client.close();
      }
    });

    it('checks the server name: "localhost" is in the certificate, another name is refused', async () => {
      expect(await attempt(front, handle.port, { ca: pki.ca, servername: 'localhost' })).toContain('tls');
      const err = await refusal(() => attempt(front, handle.port, { ca: pki.ca, servername: 'broker.example' }));
      expect(err.code).toBe('TRANSPORT');
      expect(err.message).toMatch(/broker\.example/);
    });

    it('refuses a client that does not trust the CA, and keeps serving', async () => {
      for (const tls of [{}, { ca: pki.otherCa }]) {
        const err = await refusal(() => attempt(front, handle.port, tls));
        expect(err.code).toBe('TRANSPORT');
        expect(err.message).toMatch(/unable to verify the first certificate[\s\S]*certificate is not trusted: pass the CA that signed it/);
      }
      expect(await attempt(front, handle.port, trusted())).toContain('tls');
    });

    it('fails a plaintext client cleanly; the server keeps serving and loses nothing', async () => {
      const client = await front.client(handle.port, trusted());
      const kept = await client.publish('tls', 'orders', '{"kept":true}');
      const err = await refusal(() => attempt(front, handle.port, undefined));
      expect(err.code).toBe('TRANSPORT');
      // Refused at once, not left to run into the client's time limit.
      expect(err.message).not.toMatch(/timed out|within \d+ ms|DEADLINE/i);
      // ...saying what to do: a port with TLS on wants a TLS client.
      expect(err.message).toContain('if it has TLS on (server.tls), connect with TLS');
      const got = await client.consume('tls', 'orders', 0, { batchSize: 10, autoAck: true });
      await client.close();
      expect(got.map((m) => m.id)).toEqual([kept.messageId]);
      if (front.logsHandshakes) {
        expect(log.lines.some((l) => l.level === 40 && l.msg === 'tls handshake failed')).toBe(true);
        // Logged once, as a handshake failure: no other line (an HTTP access line, say) carries it.
        expect(log.lines.filter((l) => l.msg !== 'tls handshake failed' && /SSL routines/.test(JSON.stringify(l)))).toEqual([]);
      }
    });
  });

  describe(`${front.name} in plaintext (no server.tls)`, () => {
    it('refuses a TLS client with a reason that says the port does not speak TLS', async () => {
      const broker = new Broker();
      const handle = await front.start(broker, undefined, capture().logger);
      try {
        const err = await refusal(() => attempt(front, handle.port, trusted()));
        expect(err.code).toBe('TRANSPORT');
        expect(err.message).toMatch(/the port does not speak TLS/);
        expect(await attempt(front, handle.port, undefined)).toEqual([]);
      } finally {
        await handle.close();
        await broker.close();
      }
    });
  });

  describe(`${front.name} with mutual TLS (server.tls.ca)`, () => {
    let broker: Broker;
    let handle: FrontHandle;
    let log: ReturnType<typeof capture>;
    beforeAll(async () => {
      broker = new Broker();
      await broker.createNamespace('mtls');
      const tls = loadServerTls({ cert: pki.paths.serverCert, key: pki.paths.serverKey, ca: pki.paths.ca });
      log = capture();
      handle = await front.start(broker, tls!, log.logger);
    });
    afterAll(async () => {
      await handle?.close();
      await broker?.close();
    });

    it('serves a client whose certificate the CA signed, subscription included', async () => {
      const client = await front.client(handle.port, withClientCert());
      try {
        await client.createTopic('mtls', 'jobs', 1);
        const sub = await nextMessage(client, 'mtls', 'jobs');
        const pub = await client.publish('mtls', 'jobs', '"job"');
        expect((await sub.first).id).toBe(pub.messageId);
        await sub.close();
      } finally {
        await client.close();
      }
    });

    it('refuses a client without a certificate, and one whose certificate another CA signed; nothing is lost', async () => {
      const owner = await front.client(handle.port, withClientCert());
      await owner.createTopic('mtls', 'kept', 1);
      const kept = await owner.publish('mtls', 'kept', '"kept"');
      const none = await refusal(() => attempt(front, handle.port, trusted()));
      expect(none.code).toBe('TRANSPORT');
      expect(none.message).toMatch(/certificate required[\s\S]*requires a client certificate/);
      const foreign = await refusal(() => attempt(front, handle.port, { ca: pki.ca, cert: pki.otherClientCert, key: pki.otherClientKey }));
      expect(foreign.code).toBe('TRANSPORT');
      if (front.logsHandshakes) {
        const refusals = log.lines.filter((l) => l.level === 40 && l.msg === 'tls handshake failed');
        expect(refusals.map((l) => l.code)).toEqual(['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
        // Only as handshake failures (no HTTP access line for a connection that never spoke HTTP).
        expect(log.lines.filter((l) => (l.level as number) >= 30 && l.msg !== 'tls handshake failed')).toEqual([]);
      }
      const got = await owner.consume('mtls', 'kept', 0, { batchSize: 10, autoAck: true });
      await owner.close();
      expect(got.map((m) => m.id)).toEqual([kept.messageId]);
    });
  });
}

/** A front serving TLS (no client CA) to the tests of one describe block, with its own PKI and broker. */
export interface TlsFixture {
  readonly pki: Pki;
  readonly broker: Broker;
  readonly front: FrontHandle;
}

export function tlsFrontFixture(start: FrontUnderTest['start']): TlsFixture {
  const fixture = {} as { pki: Pki; broker: Broker; front: FrontHandle };
  beforeAll(async () => {
    fixture.pki = makePki();
    fixture.broker = new Broker();
    fixture.front = await start(fixture.broker, loadServerTls({ cert: fixture.pki.paths.serverCert, key: fixture.pki.paths.serverKey }), capture().logger);
  });
  afterAll(async () => {
    await fixture.front?.close();
    await fixture.broker?.close();
    fixture.pki?.remove();
  });
  return fixture;
}
