/**
 * docs/DESIGN.md, "Durability contract (the AOF)", on a real full filesystem: the server process keeps its AOF on a small tmpfs;
 * the disk is filled; publishes are answered with a clear UNAVAILABLE on
 * every front (HTTP 503, gRPC UNAVAILABLE, TCP error frame) while reads go
 * on; once space is freed the broker rebuilds its AOF and accepts changes
 * again, and a restart recovers every answered publish.
 *
 * Mounting needs root (or CAP_SYS_ADMIN); elsewhere the suite is skipped
 * and says why.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startServerProcess } from '../../bench/server-process.js';
import { GrpcClient } from '../../src/client/grpc/index.js';
import { ClientError } from '../../src/client/types.js';

const TMPFS_BYTES = 4 * 1024 * 1024;
const root = fs.mkdtempSync(join(tmpdir(), 'mqlite-diskfull-'));
const mnt = join(root, 'mnt');
fs.mkdirSync(mnt);

/** Why the suite cannot run here, or undefined when the tmpfs is mounted. */
function mountTmpfs(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux tmpfs (platform is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs (run as root, or in a CI job that allows mount)';
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', mnt], { encoding: 'utf8' });
  if (r.error) return `mount could not run: ${r.error.message}`;
  if (r.status !== 0) return `mount -t tmpfs failed: ${r.stderr.trim() || `exit ${r.status}`}`;
  return undefined;
}
const skipReason = mountTmpfs();
if (skipReason) console.warn(`disk-full tests skipped: ${skipReason}`);

const servers: ServerProcess[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  if (!skipReason) spawnSync('umount', [mnt]);
  fs.rmSync(root, { recursive: true, force: true });
});

async function http(port: number, method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as { success?: boolean; message?: string; data?: unknown; status?: string; reason?: string } };
}

/** One JSON command over a fresh TCP connection; resolves with the reply frame's body. */
function tcp(port: number, command: unknown): Promise<{ status: string; error?: string; data?: unknown }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const body = Buffer.from(JSON.stringify(command));
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length + 1, 0);
    sock.write(Buffer.concat([head, body]));
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4 || buf.length < 4 + buf.readUInt32BE(0)) return;
      sock.end();
      resolve(JSON.parse(buf.subarray(5, 4 + buf.readUInt32BE(0)).toString()));
    });
    sock.on('error', reject);
  });
}

const metric = async (port: number, name: string): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Fills the filesystem; returns the filler's path. */
function fill(dir: string): string {
  const p = join(dir, 'filler');
  const fd = fs.openSync(p, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return p;
}

describe.skipIf(skipReason !== undefined)(`a real full filesystem (tmpfs)${skipReason ? `: skipped, ${skipReason}` : ''}`, () => {
  it('refuses changes on every front while the disk is full, serves reads, recovers when space is freed, and a restart keeps every answered publish', async () => {
    const aofDir = join(mnt, 'aof');
    const dataDir = join(root, 'data');
    fs.mkdirSync(dataDir);
    const config = {
      persistence: { enabled: true, aof: { fsync: 'always', dir: aofDir, rewrite_min_size: '1gb', retry_interval: '100ms' } },
    };
    const logs: Record<string, unknown>[] = [];
    const server = await startServerProcess({ dataDir, extraConfig: config, onLog: (r) => logs.push(r) });
    servers.push(server);
    const port = server.ports.http;
    const pub = '/v1/namespaces/shop/topics/orders/publish';
    expect((await http(port, 'POST', '/v1/namespaces', { name: 'shop' })).status).toBe(201);
    expect((await http(port, 'POST', '/v1/namespaces/shop/topics', { name: 'orders', queue_count: 2 })).status).toBe(201);

    const answered = new Set<string>();
    const inDoubt = new Set<string>();
    const pad = 'x'.repeat(2000);
    for (let i = 0; i < 50; i++) {
      expect((await http(port, 'POST', pub, { payload: `before-${i}` })).status).toBe(200);
      answered.add(`before-${i}`);
    }

    const filler = fill(mnt);
    // The incr's last page may still take a record or two: publish until the disk says no.
    let failure: { status: number; body: { message?: string } } | undefined;
    for (let i = 0; i < 200 && failure === undefined; i++) {
      const payload = `${pad}-${i}`;
      const r = await http(port, 'POST', pub, { payload });
      if (r.status === 200) answered.add(payload);
      else {
        failure = r;
        inDoubt.add(payload);
      }
    }
    expect(failure?.status).toBe(503);
    expect(failure!.body.message).toMatch(/AOF write of \S+appendonly\.aof\.\d+\.incr\.aof failed \(ENOSPC/);
    expect(failure!.body.message).toContain('may or may not survive a restart');

    // Every front refuses changes with UNAVAILABLE naming the cause.
    const refusal = /persistence failed: AOF write of \S+\.incr\.aof failed \(ENOSPC.*retrying every .*reads are still served/;
    const h = await http(port, 'POST', pub, { payload: 'refused-http' });
    expect(h.status).toBe(503);
    expect(h.body.message).toMatch(refusal);
    const t = await tcp(server.ports.tcp, { action: 'publish', data: { namespace: 'shop', topic: 'orders', payload: 'refused-tcp' } });
    expect(t.status).toBe('error');
    expect(t.error).toMatch(refusal);
    const grpc = new GrpcClient({ host: '127.0.0.1', port: server.ports.grpc, timeoutMs: 10_000 });
    try {
      const err = await grpc.publish('shop', 'orders', Buffer.from('"refused-grpc"')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ClientError);
      expect((err as ClientError).code).toBe('UNAVAILABLE');
      expect((err as ClientError).message).toMatch(refusal);
    } finally {
      await grpc.close();
    }

    // Reads go on, and the state shows in /health and /metrics.
    const topics = await http(port, 'GET', '/v1/namespaces/shop/topics');
    expect(topics.status).toBe(200);
    const peek = await http(port, 'GET', '/v1/namespaces/shop/topics/orders/queues/0/peek?limit=5');
    expect(peek.status).toBe(200);
    const health = await http(port, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'degraded', persistence: 'failed', reason: expect.stringContaining('ENOSPC') });
    expect(await metric(port, 'mqlite_aof_failed')).toBe(1);
    expect(await metric(port, 'mqlite_aof_failures_total')).toBeGreaterThanOrEqual(1);

    // Retries go on while the disk stays full, each logged with the code and the path.
    for (let i = 0; i < 400 && !((await metric(port, 'mqlite_aof_recovery_failures_total')) >= 2); i++) await sleep(10);
    expect(await metric(port, 'mqlite_aof_recovery_failures_total')).toBeGreaterThanOrEqual(2);
    const attempt = logs.find((l) => l.msg === 'AOF rebuild failed: changes stay refused; retrying');
    expect(attempt).toMatchObject({ level: 40, code: 'ENOSPC', file: expect.stringContaining(aofDir) });

    // Space freed: the broker rebuilds its AOF and accepts changes again.
    fs.unlinkSync(filler);
    for (let i = 0; i < 600 && (await http(port, 'GET', '/health')).body.status !== 'ok'; i++) await sleep(10);
    expect((await http(port, 'GET', '/health')).body).toEqual({ status: 'ok' });
    expect(await metric(port, 'mqlite_aof_failed')).toBe(0);
    expect(await metric(port, 'mqlite_aof_recoveries_total')).toBe(1);
    expect(logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('AOF rebuilt from memory'))).toMatchObject({ level: 30, cause: expect.stringContaining('ENOSPC') });
    for (let i = 0; i < 10; i++) {
      expect((await http(port, 'POST', pub, { payload: `after-${i}` })).status).toBe(200);
      answered.add(`after-${i}`);
    }
    expect((await tcp(server.ports.tcp, { action: 'publish', data: { namespace: 'shop', topic: 'orders', payload: 'after-tcp' } })).status).toBe('ok');
    answered.add('after-tcp');
    await server.stop();
    expect(await server.exitCode).toBe(0);

    // A restart from the tmpfs finds every answered publish, and the in-doubt one the rebuild kept.
    const again = await startServerProcess({ dataDir, extraConfig: config });
    servers.push(again);
    const got: string[] = [];
    for (const q of [0, 1]) {
      const r = await http(again.ports.http, 'POST', `/v1/namespaces/shop/topics/orders/queues/${q}/consume`, { batch_size: 1000, auto_ack: false });
      got.push(...(r.body.data as { payload: string }[]).map((m) => m.payload));
    }
    expect(got.sort()).toEqual([...answered, ...inDoubt].sort());
  }, 60_000);
});
