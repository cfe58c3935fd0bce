/**
 * What the CLI set up survives a restart of the
 * broker over its AOF (a FileStore in a temporary directory): a delayed
 * message, a nacked message waiting for its retry, a dead letter, the dedup
 * window and the policy, as `stats`, `dlq list`, `topic policy` and `pub
 * --dedup-id` show them after the restart.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/aof/file-store.js';
import { runCli, startBroker, type Running } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'mqlite-cli-restart-'));
const open = async (): Promise<Running> =>
  startBroker({ ackTimeoutMs: 60_000, store: await FileStore.open({ dir, fsync: 'always', rewriteMinSize: 1 << 30, rewritePercentage: 0 }) });

describe('queue-feature state set up with mqlite-cli survives a broker restart', () => {
  let b: Running | undefined;
  afterEach(async () => {
    await b?.stop();
  });

  it('delayed, retry-waiting and dead-lettered messages, the dedup window and the policy', async () => {
    b = await open();
    const cli = (args: string[], input?: string) => runCli([...b!.args('http'), ...args], { input });
    expect((await cli(['ns', 'create', 'shop'])).code).toBe(0);
    expect((await cli(['topic', 'create', 'shop', 'orders', '--queues', '2'])).code).toBe(0);
    const policy = await cli(['topic', 'policy', 'shop', 'orders', '--max-retries', '1', '--retry-base', '2s', '--retry-cap', '30s', '--dedup-window', '2h']);
    expect(policy.code, policy.stderr).toBe(0);

    const original = (await cli(['--json', 'pub', 'shop', 'orders', '{"order":7}', '--dedup-id', 'order-7', '--queue', '0'])).json();
    expect((await cli(['pub', 'shop', 'orders', '{"later":true}', '--delay', '1h', '--queue', '1'])).code).toBe(0);
    // Consumed and nacked: the first nack waits for its retry, the second (past max_retries 1) dead-letters.
    expect((await cli(['pub-batch', 'shop', 'orders', '--queue', '0'], '{"retry":1}\n{"dead":1}\n')).code).toBe(0);
    const taken = (await cli(['--json', 'consume', 'shop', 'orders', '0', '--batch', '3'])).json() as { id: string; payload: unknown }[];
    const retry = taken.find((m) => JSON.stringify(m.payload) === '{"retry":1}')!;
    const dead = taken.find((m) => JSON.stringify(m.payload) === '{"dead":1}')!;
    const order = taken.find((m) => m.id === original.message_id)!;
    expect((await cli(['ack', 'shop', 'orders', '0', order.id])).code).toBe(0);
    expect((await cli(['nack', 'shop', 'orders', '0', retry.id, '--delay', '1h'])).code).toBe(0);
    expect((await cli(['nack', 'shop', 'orders', '0', dead.id, '--delay', '0'])).code).toBe(0);
    const again = (await cli(['--json', 'consume', 'shop', 'orders', '0'])).json();
    expect(again.map((m: { id: string }) => m.id)).toEqual([dead.id]);
    expect((await cli(['--json', 'nack', 'shop', 'orders', '0', dead.id])).json()).toMatchObject({ dead_lettered: 1 });

    await b.stop();
    b = await open();

    const stats = (await cli(['--json', 'stats', 'shop', 'orders'])).json();
    expect(stats).toMatchObject({ pending: 0, in_flight: 0, delayed: 2, dlq_depth: 1 });
    expect(stats.queues.map((q: { delayed: number }) => q.delayed)).toEqual([1, 1]);
    expect((await cli(['--json', 'topic', 'policy', 'shop', 'orders'])).json()).toEqual({
      max_retries: 1,
      retry_base_ms: 2000,
      retry_cap_ms: 30_000,
      dedup_window_ms: 7_200_000,
      ack_timeout_ms: 0,
      message_ttl_ms: 0,
      dead_letter_expired: false,
    });
    const list = (await cli(['--json', 'dlq', 'list', 'shop', 'orders'])).json();
    expect(list.messages).toEqual([expect.objectContaining({ id: dead.id, reason: 'nacked', delivery_count: 2 })]);
    // Acked before the restart, still inside the window: answered with the original id.
    const repeat = await cli(['pub', 'shop', 'orders', '{"order":7}', '--dedup-id', 'order-7']);
    expect(repeat.stdout).toBe(`duplicate of ${original.message_id} (shop/orders queue 0): not enqueued again\n`);
    expect((await cli(['--json', 'dlq', 'redrive', 'shop', 'orders'])).json()).toEqual({ ok: true, moved: 1 });
  });
});
