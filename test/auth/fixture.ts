/**
 * One broker behind the three fronts on real ports (port 0), sharing one
 * ApiKeys, with the log captured as JSON lines so tests can show what was
 * logged (and that no key was).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { type ApiKeyConfig, ApiKeys } from '../../src/auth/api-keys.js';
import { Broker } from '../../src/broker/broker.js';
import type { FrontHandle } from '../../src/server/front.js';
import { startGrpcServer } from '../../src/server/grpc/index.js';
import { type HttpFrontHandle, startHttpServer } from '../../src/server/http/index.js';
import { startTcpServer } from '../../src/server/tcp/index.js';

export const ADMIN_KEY = 'admin-key-5f1c0e2d9a7b4c38';
export const SHOP_KEY = 'shop-rw-key-8d3e1a6b2c9f7e40';
export const READER_KEY = 'reader-key-0b9a8c7d6e5f4a31';
export const BILLING_ADMIN_KEY = 'billing-admin-key-7c2e9f0a1b3d';
/** Well formed, never configured. */
export const WRONG_KEY = 'wrong-key-000000000000000000';

export const KEYS: ApiKeyConfig[] = [
  { key: ADMIN_KEY },
  { key: SHOP_KEY, name: 'shop-rw', namespaces: ['shop'], permissions: ['read', 'write'] },
  { key: READER_KEY, name: 'reader', permissions: ['read'] },
  { key: BILLING_ADMIN_KEY, name: 'billing-admin', namespaces: ['billing'], permissions: ['admin', 'read'] },
];
export const ALL_KEYS = [ADMIN_KEY, SHOP_KEY, READER_KEY, BILLING_ADMIN_KEY, WRONG_KEY];

export interface Fixture {
  broker: Broker;
  tcp: FrontHandle;
  http: HttpFrontHandle;
  grpc: FrontHandle;
  apiKeys: ApiKeys;
  /** Every log record so far, parsed. */
  logs(): Record<string, unknown>[];
  /** The raw log text so far. */
  logText(): string;
  stop(): Promise<void>;
}

export async function startFixture(keys: ApiKeyConfig[] = KEYS): Promise<Fixture> {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  const log = pino({ level: 'info', base: undefined }, sink);
  const broker = new Broker({ logger: pino({ level: 'silent' }) });
  const apiKeys = new ApiKeys(keys);
  const tcp = await startTcpServer(broker, { host: '127.0.0.1', port: 0, maxFrameBytes: 1 << 20, logger: log.child({ front: 'tcp' }), apiKeys });
  const http = await startHttpServer(broker, {
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1 << 20,
    sseHeartbeatMs: 15_000,
    sseMaxInflight: 100,
    logger: log.child({ front: 'http' }),
    apiKeys,
  });
  const grpc = await startGrpcServer(broker, { host: '127.0.0.1', port: 0, maxMessageBytes: 1 << 20, logger: log.child({ front: 'grpc' }), apiKeys });
  await broker.createNamespace('shop');
  await broker.createNamespace('billing');
  await broker.createTopic('shop', 'orders', 1);
  await broker.createTopic('billing', 'invoices', 1);
  return {
    broker,
    tcp,
    http,
    grpc,
    apiKeys,
    logText: () => text,
    logs: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    async stop() {
      await Promise.all([tcp.close(), http.close(), grpc.close()]);
      await broker.close();
    },
  };
}

/** The value of `mqlite_auth_failures_total{front,reason}` in a /metrics text (0 when absent). */
export function authFailures(metrics: string, front: string, reason: string): number {
  const m = new RegExp(`^mqlite_auth_failures_total\\{front="${front}",reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) : 0;
}

/** GET /metrics with the admin key. */
export async function scrape(f: Fixture): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${f.http.port}/metrics`, { headers: { 'x-api-key': ADMIN_KEY } });
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return res.text();
}

/** No configured or wrong key appears anywhere in the log. */
export function expectNoKeyLogged(f: Fixture): void {
  const text = f.logText();
  for (const k of ALL_KEYS) if (text.includes(k)) throw new Error(`the log holds an API key: ${k.slice(0, 6)}...`);
}
