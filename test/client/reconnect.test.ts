/**
 * Reconnect (docs/CLIENT.md, "Reconnect"): the broker process is killed
 * with SIGKILL and started again on the same ports and AOF under a running
 * worker and a publisher. Both clients come back by themselves; every
 * publish that was answered is processed at least once (a publish retried
 * after an unanswered attempt carries its dedup id, so it is stored once);
 * duplicates from redelivery are counted and printed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect.js';
import { ClientError } from '../../src/client/types.js';
import { type Ports, freePort, killAll, startServer } from './server-process.js';

const dirs: string[] = [];
afterAll(() => {
  killAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const SCHEMES: [string, (p: Ports) => string][] = [
  ['tcp', (p) => `tcp://127.0.0.1:${p.tcp}`],
  ['http', (p) => `http://127.0.0.1:${p.http}`],
  ['grpc', (p) => `grpc://127.0.0.1:${p.grpc}`],
];

describe.each(SCHEMES)('a worker over %s across kill -9 and restart of the broker', (scheme, urlOf) => {
  it('reconnects by itself, and every answered publish is processed at least once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-reconnect-'));
    dirs.push(dir);
    const ports = { tcp: await freePort(), http: await freePort(), grpc: await freePort() };
    let server = await startServer(dir, ports);
    const url = urlOf(ports);
    const reconnect = { initialDelayMs: 50, maxDelayMs: 500 };
    const pub = await connect(url, { reconnect, timeoutMs: 20_000 });
    const sub = await connect(url, { reconnect, timeoutMs: 20_000 });
    await pub.createNamespace('rc');
    await pub.createTopic('rc', 'jobs', 3);

    const N = 1500;
    const processed = new Map<number, number>();
    const worker = sub.worker(
      'rc',
      'jobs',
      async (job) => {
        const i = Number(job.text());
        processed.set(i, (processed.get(i) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 1));
      },
      { concurrency: 8 },
    );
    const workerErrors: Error[] = [];
    worker.on('error', (e: Error) => workerErrors.push(e));
    await worker.ready;
    let reconnects = 0;
    sub.on('reconnect', () => reconnects++);
    pub.on('reconnect', () => reconnects++);

    // The publisher retries a publish that failed retryably, with the same dedup id.
    let retries = 0;
    let killed = false;
    const published = (async () => {
      for (let i = 0; i < N; i++) {
        for (;;) {
          try {
            await pub.publishEx('rc', 'jobs', String(i), { dedupId: `m${i}` });
            break;
          } catch (err) {
            if (!(err instanceof ClientError && err.retryable)) throw err;
            retries++;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
        if (i === N / 3 && !killed) {
          killed = true;
          server.kill('SIGKILL');
          await new Promise((r) => server.once('exit', r));
          // The clients notice while the broker is away, then it comes back.
          setTimeout(() => {
            void startServer(dir, ports).then((s) => (server = s));
          }, 300);
        }
      }
    })();
    await published;
    const deadline = Date.now() + 60_000;
    while (processed.size < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const missing = [];
    for (let i = 0; i < N; i++) if (!processed.has(i)) missing.push(i);
    const duplicates = [...processed.values()].reduce((a, n) => a + n - 1, 0);
    console.log(`reconnect over ${scheme}: ${N} published (${retries} publish retries), ${processed.size} processed, ${duplicates} duplicates, ${reconnects} reconnects, ${workerErrors.length} worker errors reported`);
    await worker.close();
    await pub.close();
    await sub.close();
    server.kill('SIGTERM');
    expect(missing).toEqual([]);
    expect(reconnects).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
