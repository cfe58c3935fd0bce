/**
 * Limits in the server process (docs/DESIGN.md, "Limits") (cmd/mqlite.ts): the config keys
 * reach the core and the fronts, and a memory high-water mark below the
 * process's RSS refuses publishes over every front with a clear error while
 * the process stays up, serves reads and acks, and stops cleanly.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startServerProcess } from '../../bench/server-process.js';
import { defaultMemoryHighWater, loadConfig } from '../../src/config.js';

async function http(port: number, method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.status, body: (await res.json()) as { success: boolean; message?: string; data?: any } };
}

/** Sends JSON frames on a new TCP connection and returns the first `n` replies. */
function tcpJson(port: number, cmds: unknown[], n = cmds.length): Promise<{ status: string; error?: string; data?: unknown }[]> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const out: { status: string; error?: string }[] = [];
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0);
        out.push(JSON.parse(buf.subarray(5, 4 + len).toString()));
        buf = buf.subarray(4 + len);
      }
      if (out.length >= n) {
        s.destroy();
        resolve(out);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(out));
    for (const c of cmds) {
      const body = Buffer.from(JSON.stringify(c));
      const h = Buffer.alloc(5);
      h.writeUInt32BE(body.length + 1, 0);
      s.write(Buffer.concat([h, body]));
    }
  });
}

describe('limits config keys', () => {
  it('have defaults (memory_high_water derived from the memory available), and 0 disables the memory mark', () => {
    const c = loadConfig(undefined, { env: {} });
    expect(c.limits).toMatchObject({ max_connections: 10_000, max_subscriptions_per_connection: 100, max_namespaces: 10_000, max_topics_per_namespace: 10_000 });
    expect(c.limits.memory_high_water).toBe(defaultMemoryHighWater());
    expect(c.limits.memory_high_water).toBeGreaterThan(64 * 1024 * 1024);
  });
});

describe('limits in the server process', () => {
  it('a memory mark below RSS refuses publishes on HTTP and TCP with the reason; reads, consumes and acks go on; the process stays up and stops cleanly', async () => {
    const logs: Record<string, unknown>[] = [];
    const server = await startServerProcess({
      extraConfig: { limits: { memory_high_water: '1mb', max_connections: 3 } },
      onLog: (r) => logs.push(r),
    });
    try {
      const port = server.ports.http;
      expect((await http(port, 'POST', '/v1/namespaces', { name: 'n' })).status).toBe(201);
      expect((await http(port, 'POST', '/v1/namespaces/n/topics', { name: 't', queue_count: 1 })).status).toBe(201);
      // RSS is sampled off the publish path (every 200 ms): wait until the broker has seen it.
      let refused: Awaited<ReturnType<typeof http>> | undefined;
      for (let i = 0; i < 100 && refused === undefined; i++) {
        const r = await http(port, 'POST', '/v1/namespaces/n/topics/t/publish', { payload: { i } });
        if (r.status === 429) refused = r;
        else await new Promise((res) => setTimeout(res, 50));
      }
      expect(refused?.body).toEqual({
        success: false,
        message: expect.stringMatching(/^memory high-water mark reached \(\d.* MiB of 1\.0 MiB; publishing resumes below .*\): consume and ack messages, or raise limits\.memory_high_water$/),
      });
      const tcp = await tcpJson(server.ports.tcp, [
        { action: 'publish', data: { namespace: 'n', topic: 't', payload: 'x' } },
        { action: 'consume', data: { namespace: 'n', topic: 't', queue_id: 0, batch_size: 100 } },
      ]);
      expect(tcp[0]!.error).toMatch(/^RESOURCE_EXHAUSTED: memory high-water mark reached/);
      // Consume and ack go on while publishes are refused (they free memory).
      const got = tcp[1]!.data as { id: string }[];
      expect(tcp[1]!.status).toBe('ok');
      const ack = await http(port, 'POST', '/v1/namespaces/n/topics/t/queues/0/ack', { message_ids: got.map((m) => m.id) });
      expect(ack.status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^mqlite_memory_publishes_refused 1$/m);
      expect(metrics).toMatch(/^mqlite_memory_high_water_bytes 1048576$/m);
      expect(Number(/^mqlite_memory_sampled_bytes (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(1048576);
      expect(logs.find((l) => l.msg === 'memory high-water mark reached: refusing publishes until consumers free memory')).toMatchObject({ highWaterBytes: 1048576 });
      expect((await http(port, 'GET', '/health')).status).toBe(200);
      // max_connections from the config reaches the TCP front.
      const { Socket } = await import('node:net');
      const held = await Promise.all(
        [0, 1, 2].map(
          () =>
            new Promise<InstanceType<typeof Socket>>((resolve) => {
              const s = connect(server.ports.tcp, '127.0.0.1', () => resolve(s));
            }),
        ),
      );
      const over = await tcpJson(server.ports.tcp, [], 1);
      expect(over[0]!.error).toMatch(/^RESOURCE_EXHAUSTED: connection refused: the TCP front already holds 3 connections \(limits\.max_connections\)/);
      for (const s of held) s.destroy();
    } finally {
      await server.stop();
    }
    expect(await server.exitCode).toBe(0);
  });
});
