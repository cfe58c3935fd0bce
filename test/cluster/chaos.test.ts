/**
 * The short chaos run (bench/cluster/chaos.ts; `npm run chaos` is the long
 * one): one event of each kind against 3 nats-server nodes and 3 MQLite
 * nodes, with publishers and consumers running throughout. Nothing answered
 * ok may be lost, and nothing acked ok may be delivered again.
 */
import { expect, it } from 'vitest';
import { runChaos } from '../../bench/cluster/chaos.js';

it('kill -9 of the owner, kill -9 of the stream leader, SIGSTOP of the owner: 0 lost, 0 resurrected', async () => {
  const lines: string[] = [];
  const report = await runChaos({ durationMs: 0, events: 3, gapMs: [12_000, 14_000], log: (l) => lines.push(l) });
  const summary = JSON.stringify(report) + '\n' + lines.join('\n');
  expect(report.events.map((e) => e.kind), summary).toEqual(['kill-owner', 'kill-stream-leader', 'stop-owner']);
  expect(report.publishedOk, summary).toBeGreaterThan(100);
  expect(report.lost, summary).toBe(0);
  expect(report.resurrected, summary).toBe(0);
  expect(report.delivered, summary).toBeGreaterThanOrEqual(report.publishedOk);
}, 240_000);
