/**
 * The server process (cmd/mqlite.ts): config errors stop startup naming the
 * key, it logs what it recovered and where it listens, and SIGTERM flushes
 * the AOF and exits 0 without losing an answered publish.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serverEntry, startServerProcess } from '../../bench/server-process.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'mqlite-entry-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function http(port: number, method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.status, body: (await res.json()) as { success: boolean; data?: unknown } };
}

describe('server entry', () => {
  it('stops on a wrong config key with exit code 2 and a message naming it', () => {
    const cfg = join(tempDir(), 'bad.yaml');
    writeFileSync(cfg, 'persistence:\n  aof:\n    fsyncc: always\n');
    const r = spawnSync(process.execPath, [serverEntry, '--config', cfg], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown key 'persistence.aof.fsyncc'");
  });

  it('stops when an explicit config file does not exist', () => {
    const r = spawnSync(process.execPath, [serverEntry, '--config', '/no/such.yaml'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('/no/such.yaml does not exist');
  });

  it('serves, and after SIGTERM (exit 0) a restart recovers every answered publish, logging what it recovered', async () => {
    const dataDir = tempDir();
    const first = await startServerProcess({ dataDir, fsync: 'everysec' });
    const port = first.ports.http;
    expect((await http(port, 'GET', '/health')).body).toEqual({ status: 'ok' });
    expect((await http(port, 'POST', '/v1/namespaces', { name: 'shop' })).status).toBe(201);
    expect((await http(port, 'POST', '/v1/namespaces/shop/topics', { name: 'orders', queue_count: 2 })).status).toBe(201);
    const published = await Promise.all(
      Array.from({ length: 200 }, (_, i) => http(port, 'POST', '/v1/namespaces/shop/topics/orders/publish', { payload: { n: i } })),
    );
    expect(published.every((r) => r.status === 200)).toBe(true);
    // Compaction on demand (mqlite-cli aof rewrite): a base file replaces what came before.
    const rewrite = await http(port, 'POST', '/v1/admin/aof/rewrite');
    expect(rewrite.status).toBe(200);
    expect(rewrite.body.data).toMatchObject({ records: expect.any(Number), bytes: expect.any(Number) });
    expect((rewrite.body.data as { records: number }).records).toBeGreaterThanOrEqual(202);
    expect(readFileSync(join(dataDir, 'aof', 'appendonly.aof.manifest'), 'utf8')).toMatch(/base/);
    // The entry hands the AOF's figures to GET /metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^mqlite_aof_size_bytes \d+/m);
    expect(metrics).toMatch(/^mqlite_aof_records_total [1-9]/m);
    expect(metrics).toContain('mqlite_aof_fsync_duration_seconds_bucket');
    expect(metrics).toMatch(/^mqlite_front_connections\{front="tcp"\} 0$/m);
    expect(metrics).toMatch(/^mqlite_front_subscriptions\{front="grpc"\} 0$/m);
    await first.stop();
    expect(await first.exitCode).toBe(0);

    const logs: Record<string, unknown>[] = [];
    const second = await startServerProcess({ dataDir, onLog: (r) => logs.push(r) });
    try {
      expect(logs.find((l) => l.msg === 'recovered state from the AOF')).toMatchObject({ namespaces: 1, topics: 1, pending: 200 });
      expect(logs.filter((l) => l.msg === 'listening').map((l) => l.front).sort()).toEqual(['grpc', 'http', 'tcp']);
      const got = [];
      for (const q of [0, 1]) {
        const r = await http(second.ports.http, 'POST', `/v1/namespaces/shop/topics/orders/queues/${q}/consume`, { batch_size: 1000, auto_ack: true });
        got.push(...(r.body.data as { payload: { n: number } }[]).map((m) => m.payload.n));
      }
      expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    } finally {
      await second.stop();
    }
  });

  it('starts with every default when given no config file (ports from the environment)', async () => {
    const cwd = tempDir();
    const r = spawnSync(process.execPath, ['-e', `
      const { spawn } = require('node:child_process');
      const p = spawn(process.execPath, [${JSON.stringify(serverEntry)}], { cwd: ${JSON.stringify(cwd)}, env: { ...process.env, MQLITE_GRPC_PORT: '0', MQLITE_HTTP_PORT: '0', MQLITE_TCP_PORT: '0' } });
      let out = '';
      let signalled = false;
      p.stdout.on('data', (d) => { out += d; if (!signalled && out.includes('mqlite ready')) { signalled = true; p.kill('SIGTERM'); } });
      p.on('exit', (code) => { process.stdout.write(out); process.exit(code); });
    `], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('mqlite ready');
    expect(r.stdout).toContain('"dir":"./data"');
    expect(r.stdout).toContain('"fsync":"everysec"');
  });
});
