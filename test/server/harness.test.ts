// The process harness that tests and benchmarks start brokers with: when a
// broker exits before it is ready, the error says why (what the broker
// printed), so a failure in CI can be read from its log alone.
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';
import { startServerProcess } from '../../bench/server-process.js';

const held: Server[] = [];
afterAll(() => held.forEach((s) => s.close()));

describe('startServerProcess', () => {
  it('rejects with the broker\'s own reason when it exits before it is ready (a port in use)', async () => {
    const port = await freePort();
    const s = createServer();
    held.push(s);
    await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
    const stderr: string[] = [];
    const started = startServerProcess({ persistence: false, extraConfig: { server: { host: '127.0.0.1', tcp: { port }, http: { port: 0 }, grpc: { port: 0 } } }, onStderr: (l) => stderr.push(l) });
    await expect(started).rejects.toThrow(new RegExp(`broker exited with code 1 before it was ready: .*port ${port} on 127\\.0\\.0\\.1 is in use \\(server\\.tcp\\.port`));
    expect(stderr.join('\n')).toMatch(/is in use/);
  });

  it('hands out ports below the ephemeral range, never twice', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(20);
    for (const p of ports) expect(p).toBeLessThan(32_768);
  });
});
