/**
 * The examples of docs/CLIENT.md run as written: examples/producer.mjs and
 * examples/worker.mjs, as plain `node` programs importing 'mqlite' (this
 * package, by its own name), against the broker process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect.js';
import { freePort, killAll, startServer } from './server-process.js';

const ROOT = resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
afterAll(() => {
  killAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('examples/', () => {
  it.each(['tcp', 'http'])('the producer publishes, the worker processes every order and stops cleanly on SIGINT (MQLITE_URL over %s)', async (scheme) => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-examples-'));
    dirs.push(dir);
    const ports = { tcp: await freePort(), http: await freePort(), grpc: await freePort() };
    const server = await startServer(dir, ports);
    const url = scheme === 'tcp' ? `tcp://127.0.0.1:${ports.tcp}` : `http://127.0.0.1:${ports.http}`;
    const env = { ...process.env, MQLITE_URL: url };

    const producer = spawnSync(process.execPath, ['examples/producer.mjs', '250'], { cwd: ROOT, env, encoding: 'utf8', timeout: 30_000 });
    expect(producer.stderr).toBe('');
    expect(producer.stdout).toContain(`published 250 orders to shop/orders over ${url}`);

    const worker = spawn(process.execPath, ['examples/worker.mjs'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    worker.stdout.on('data', (d: Buffer) => (out += d.toString()));
    worker.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!out.includes('200 orders processed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const mq = await connect(url);
    let stats = await mq.topicStats('shop', 'orders');
    while (stats.acked < 250 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      stats = await mq.topicStats('shop', 'orders');
    }
    worker.kill('SIGINT');
    const code = await new Promise((r) => worker.once('exit', r));
    await mq.close();
    server.kill('SIGTERM');
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('stopped after 250 orders');
    expect(stats.acked).toBe(250);
    expect(stats.pending + stats.inFlight).toBe(0);
  }, 60_000);
});
