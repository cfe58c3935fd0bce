/**
 * One broker per AOF directory (docs/DESIGN.md, "One broker per AOF
 * directory"), with real broker processes: a second broker on a held
 * directory stops before it reads anything, a killed broker's lock is taken
 * over, `aof check|fix` leave a live directory alone, and busy ports fail
 * before the replay.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/aof/dir-lock.js';
import { freePort, killAll, type Ports, startServer } from '../client/server-process.js';

const SERVER = join(import.meta.dirname, '../../dist/cmd/mqlite.js');
const CLI = join(import.meta.dirname, '../../dist/cmd/mqlite-cli.js');

afterAll(killAll);

async function ports(): Promise<Ports> {
  return { tcp: await freePort(), http: await freePort(), grpc: await freePort() };
}

/** Runs the broker until it exits by itself (it is expected to refuse to start). */
function runToExit(dir: string, p: Ports): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child: ChildProcess = spawn(process.execPath, [SERVER], {
    env: {
      ...process.env,
      MQLITE_TCP_PORT: String(p.tcp),
      MQLITE_HTTP_PORT: String(p.http),
      MQLITE_GRPC_PORT: String(p.grpc),
      MQLITE_AOF_DIR: dir,
      MQLITE_LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000); // it started after all: the assertions say so
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr, stdout });
    }),
  );
}

async function api(port: number, path: string, body?: unknown): Promise<{ status: number; json: { success: boolean; data?: unknown; message?: string } }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as { success: boolean; data?: unknown } };
}

async function publish(port: number, n: number, from: number): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const r = await api(port, '/v1/namespaces/shop/topics/orders/publish', { payload: { i }, queue_id: 0 });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
  }
}

async function consumeAll(port: number): Promise<number[]> {
  const r = await api(port, '/v1/namespaces/shop/topics/orders/queues/0/consume', { batch_size: 1000, auto_ack: true });
  expect(r.status).toBe(200);
  return (r.json.data as { payload: { i: number } }[]).map((m) => m.payload.i);
}

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('one broker per AOF directory', () => {
  it('a second broker on a held directory stops before reading it, naming the directory and the holder; the first loses nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-lock-'));
    const pa = await ports();
    const a = await startServer(dir, pa);
    await api(pa.http, '/v1/namespaces', { name: 'shop' });
    await api(pa.http, '/v1/namespaces/shop/topics', { name: 'orders', queue_count: 1 });
    await publish(pa.http, 5, 0);

    const second = await runToExit(dir, await ports());
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`AOF directory ${dir} is in use by another MQLite process (pid ${a.pid}`);
    expect(second.stderr).toContain('persistence.aof.dir');
    // It stopped before the replay: it never logged one, never listened.
    expect(second.stdout).not.toContain('recovered state from the AOF');
    expect(second.stdout).not.toContain('listening');

    // The first broker still serves, and everything it acknowledged is there, before and after a restart.
    await publish(pa.http, 5, 5);
    a.kill('SIGTERM');
    await new Promise((r) => a.once('exit', r));
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false); // released at a clean exit
    const pb = await ports();
    await startServer(dir, pb);
    expect(await consumeAll(pb.http)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('the lock of a killed broker is taken over at the next start, without cleanup', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-lock-'));
    const pa = await ports();
    const a = await startServer(dir, pa);
    await api(pa.http, '/v1/namespaces', { name: 'shop' });
    await api(pa.http, '/v1/namespaces/shop/topics', { name: 'orders', queue_count: 1 });
    await publish(pa.http, 3, 0);
    a.kill('SIGKILL');
    await new Promise((r) => a.once('exit', r));
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: a.pid });

    const pb = await ports();
    const b = await startServer(dir, pb);
    expect(await consumeAll(pb.http)).toEqual([0, 1, 2]);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: b.pid });
  });

  it('aof check and aof fix refuse a running broker\'s directory unless --force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-lock-'));
    const pa = await ports();
    const a = await startServer(dir, pa);
    await api(pa.http, '/v1/namespaces', { name: 'shop' });

    const check = cli(['aof', 'check', dir]);
    expect(check.code).not.toBe(0);
    expect(check.stderr).toContain(`${dir} belongs to a running broker (pid ${a.pid}`);
    expect(check.stderr).toContain('--force');
    const fix = cli(['aof', 'fix', '--yes', dir]);
    expect(fix.code).not.toBe(0);
    expect(fix.stderr).toContain(`belongs to a running broker (pid ${a.pid}`);

    const forced = cli(['aof', 'check', '--force', dir]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('AOF ok');
    // The broker was not disturbed.
    expect((await api(pa.http, '/v1/namespaces')).json.data).toEqual(['shop']);
  });

  it('a busy port stops the start before the AOF is read, naming the port and its setting', async () => {
    // An AOF directory that would stop the start on its own (files but no manifest): the port must be reported first.
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-lock-'));
    writeFileSync(join(dir, 'appendonly.aof.1.incr.aof'), 'not an aof');
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const p = { ...(await ports()), http: port };
      const r = await runToExit(dir, p);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is in use (server.http.port, env MQLITE_HTTP_PORT)`);
      expect(r.stderr).not.toContain('manifest');
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    } finally {
      busy.close();
    }
  });
});
