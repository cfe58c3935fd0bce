/** `mqlite-cli bench`: a small run per protocol family, its --json shape and its clean-up. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startBroker, type Running } from './harness.js';

const LATENCY = { p50: expect.any(Number), p90: expect.any(Number), p99: expect.any(Number), max: expect.any(Number) };

describe('bench', () => {
  let b: Running;
  beforeAll(async () => {
    b = await startBroker();
  });
  afterAll(async () => {
    await b?.stop();
  });

  it.each([['tcp'], ['http']] as const)('--json over %s reports publish and consume rates and latency percentiles', async (proto) => {
    const r = await runCli([...b.args(proto), '--json', 'bench', '--msgs', '300', '--size', '64', '--pub', '2', '--sub', '2'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const res = r.json();
    expect(res).toMatchObject({ proto, msgs: 300, size: 64, queues: 2, window: 32 });
    for (const phase of [res.publish, res.consume]) {
      expect(phase).toMatchObject({ msgs: 300, msgs_per_s: expect.any(Number), mb_per_s: expect.any(Number), latency_ms: LATENCY });
      expect(phase.msgs_per_s).toBeGreaterThan(0);
      const l = phase.latency_ms;
      expect(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max).toBe(true);
    }
    expect(res.publish.clients).toBe(2);
    expect(res.consume.clients).toBe(2);
    // The temporary topic and namespace are gone.
    expect(b.broker.listNamespaces()).not.toContain('bench');
  });

  it('prints a table when not asked for JSON; --sub 0 measures publishing only', async () => {
    const r = await runCli([...b.args('grpc'), 'bench', '--msgs', '100', '--sub', '0'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/MSGS\/S\tMB\/S\tP50 MS\tP90 MS\tP99 MS\tMAX MS/);
    expect(r.stdout).toMatch(/\npublish\t[\d,]+\t/);
    expect(r.stdout).not.toMatch(/\nconsume\t/);
  });
});
