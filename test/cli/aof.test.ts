/**
 * `aof check|fix` on a real AOF written by the FileStore and then damaged,
 * and `aof rewrite` against an HTTP server answering the admin route's
 * documented envelope.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/aof/file-store.js';
import { Broker } from '../../src/broker/broker.js';
import { runCli, startBroker } from './harness.js';

async function writeAof(dir: string, messages: number): Promise<void> {
  const store = await FileStore.open({ dir, fsync: 'always', rewriteMinSize: 1 << 30, rewritePercentage: 0 });
  const { broker } = await Broker.open({ store });
  await broker.createNamespace('shop');
  await broker.createTopic('shop', 'orders', 2);
  for (let i = 0; i < messages; i++) await broker.publish('shop', 'orders', Buffer.from(JSON.stringify({ i })));
  await broker.close();
}

/** Flips one byte in the middle of the (single) incr file: a checksum failure there. */
function damage(dir: string): string {
  const name = readdirSync(dir).find((f) => f.endsWith('.incr.aof'))!;
  const file = join(dir, name);
  const bytes = readFileSync(file);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(file, bytes);
  return file;
}

describe('aof check and fix (offline)', () => {
  it('check reports a good AOF with exit 0 and its record count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-cli-aof-'));
    await writeAof(dir, 20);
    const r = await runCli(['--json', 'aof', 'check', dir]);
    expect(r.code, r.stderr).toBe(0);
    const report = r.json();
    // 2 records for the namespace and the topic, one per publish.
    expect(report).toMatchObject({ ok: true, dir, records: 22, files: [{ type: 'incr', records: 22 }] });
    expect(report.first_bad).toBeNull();
    const human = await runCli(['aof', 'check', dir]);
    expect(human.stdout).toContain('AOF ok: 22 records in 1 file');
  });

  it('check finds the first bad record of a damaged copy (exit 1); fix asks, then cuts there with --yes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-cli-aof-'));
    await writeAof(dir, 20);
    const file = damage(dir);
    const size = readFileSync(file).length;

    const checked = await runCli(['--json', 'aof', 'check', dir]);
    expect(checked.code).toBe(1);
    const report = checked.json();
    expect(report.ok).toBe(false);
    expect(report.first_bad).toMatchObject({ file, offset: expect.any(Number), reason: expect.stringMatching(/checksum/), torn_tail: false });
    const offset: number = report.first_bad.offset;
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(size);
    expect(JSON.parse(checked.stderr).error.code).toBe('AOF_DAMAGED');

    // Nobody at a terminal to confirm: nothing changes, usage exit.
    const unconfirmed = await runCli(['aof', 'fix', dir]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/--yes/);
    expect(readFileSync(file).length).toBe(size);

    const fixed = await runCli(['--json', 'aof', 'fix', dir, '--yes']);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.json()).toMatchObject({ ok: true, records: report.records, repaired: { file, truncated_at: offset, dropped_bytes: size - offset } });
    expect(readFileSync(file).length).toBe(offset);

    const after = await runCli(['aof', 'check', dir]);
    expect(after.code).toBe(0);
    // The repaired AOF loads: every record before the damage is there.
    const store = await FileStore.open({ dir, fsync: 'no', rewriteMinSize: 1 << 30, rewritePercentage: 0 });
    const { broker } = await Broker.open({ store });
    expect(broker.stats().pending).toBe(report.records - 2);
    await broker.close();
  });

  it('a directory without an AOF exits 1 naming the manifest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-cli-aof-'));
    const r = await runCli(['aof', 'check', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(dir, 'appendonly.aof.manifest'));
    expect(existsSync(join(dir, 'appendonly.aof.manifest'))).toBe(false);
  });
});

describe('aof rewrite (online, over the HTTP admin route)', () => {
  let server: Server;
  let port: number;
  const calls: string[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: { success: true, data: { records: 42, bytes: 4096, seconds: 0.25 } } };

  beforeAll(async () => {
    server = createServer((req, res) => {
      calls.push(`${req.method} ${req.url}`);
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('posts to /v1/admin/aof/rewrite on --http-port whatever --proto is, and prints the figures', async () => {
    const r = await runCli(['--proto', 'grpc', '--http-port', String(port), '--json', 'aof', 'rewrite']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toEqual({ ok: true, records: 42, bytes: 4096, seconds: 0.25 });
    expect(calls).toContain('POST /v1/admin/aof/rewrite');
    const human = await runCli(['--proto', 'http', '--port', String(port), 'aof', 'rewrite']);
    expect(human.stdout).toBe('AOF rewritten: 42 records, 4096 bytes in 0.250 s\n');
  });

  it("a refusal exits 1 with the server's reason", async () => {
    answer = { status: 503, body: { success: false, message: 'persistence failed' } };
    const r = await runCli(['--http-port', String(port), 'aof', 'rewrite']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('UNAVAILABLE: persistence failed');
  });
});

describe("aof rewrite against the broker's own HTTP front", () => {
  it('compacts the AOF of a running broker, which stays loadable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-cli-aof-'));
    const store = await FileStore.open({ dir, fsync: 'always', rewriteMinSize: 1 << 30, rewritePercentage: 0 });
    const b = await startBroker({ store });
    try {
      await b.broker.createNamespace('shop');
      await b.broker.createTopic('shop', 'orders', 1);
      for (let i = 0; i < 10; i++) await b.broker.publish('shop', 'orders', Buffer.from(`{"i":${i}}`));
      await b.broker.consume('shop', 'orders', 0, 4, true);
      const r = await runCli(['--proto', 'grpc', '--port', String(b.ports.grpc), '--http-port', String(b.ports.http), '--json', 'aof', 'rewrite']);
      expect(r.code, r.stderr).toBe(0);
      const res = r.json();
      expect(res).toMatchObject({ ok: true, records: expect.any(Number), bytes: expect.any(Number), seconds: expect.any(Number) });
      // At least the namespace, the topic and the 6 messages still pending.
      expect(res.records).toBeGreaterThanOrEqual(8);
    } finally {
      await b.stop();
    }
    const checked = await runCli(['--json', 'aof', 'check', dir]);
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.json().files.map((f: { type: string }) => f.type)).toContain('base');
    // What the rewritten AOF replays to: the 6 messages not consumed.
    const reopened = await FileStore.open({ dir, fsync: 'no', rewriteMinSize: 1 << 30, rewritePercentage: 0 });
    const { broker } = await Broker.open({ store: reopened });
    expect(broker.stats().pending).toBe(6);
    await broker.close();
  });
});
