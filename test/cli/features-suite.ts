/**
 * The queue-feature commands of mqlite-cli (dedup and delayed pub, pub-batch,
 * nack, renew, peek, dlq, topic policy, stats) over one protocol, spawned
 * as a user would run them against an in-process broker. Each protocol's
 * features-*.test.ts runs this suite. Delays are hours long: a test looks
 * at held messages, never waits for one.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startBroker, type Proto, type Running } from './harness.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const enc = (s: string): Buffer => Buffer.from(s);
/** The payload limit of this suite's broker: a longer line is refused, which makes a batch fail in part. */
const MAX_PAYLOAD = 64;

export function featuresSuite(proto: Proto): void {
  describe(`mqlite-cli queue-feature commands over ${proto}`, () => {
    let b: Running;
    let cli: (args: string[], opts?: Parameters<typeof runCli>[1]) => ReturnType<typeof runCli>;
    const ns = `feat-${proto}`;
    /** A fresh topic per test, so that one failure does not cascade. */
    let n = 0;
    const topic = async (queues = 1, policy?: Parameters<Running['broker']['createTopic']>[3]): Promise<string> => {
      const name = `t${n++}`;
      await b.broker.createTopic(ns, name, queues, policy);
      return name;
    };

    beforeAll(async () => {
      b = await startBroker({ ackTimeoutMs: 60_000, limits: { maxPayloadBytes: MAX_PAYLOAD } });
      cli = (args, opts) => runCli([...b.args(proto), ...args], opts);
      await b.broker.createNamespace(ns);
    });
    afterAll(async () => {
      await b?.stop();
    });

    describe('pub --dedup-id: a repeat within the window is answered with the original id, not enqueued', () => {
      it('says "duplicate of <id>" and leaves one message', async () => {
        const t = await topic();
        const first = await cli(['--json', 'pub', ns, t, '{"order":1}', '--dedup-id', 'order-1']);
        expect(first.code, first.stderr).toBe(0);
        expect(first.json()).toEqual({ message_id: expect.stringMatching(UUID), queue_id: 0, duplicate: false });
        const again = await cli(['pub', ns, t, '{"order":1}', '--dedup-id', 'order-1']);
        expect(again.code, again.stderr).toBe(0);
        expect(again.stdout).toBe(`duplicate of ${first.json().message_id} (${ns}/${t} queue 0): not enqueued again\n`);
        const repeated = await cli(['--json', 'pub', ns, t, '{"order":1}', '--dedup-id', 'order-1', '--count', '2']);
        expect(repeated.json()).toEqual([
          { message_id: first.json().message_id, queue_id: 0, duplicate: true },
          { message_id: first.json().message_id, queue_id: 0, duplicate: true },
        ]);
        expect(b.broker.topicStats(ns, t).pending).toBe(1);
      });
    });

    describe('pub --delay / --deliver-at: invisible until then', () => {
      it('holds the message (delayed, not pending) and says when it is delivered', async () => {
        const t = await topic();
        const delayed = await cli(['pub', ns, t, 'later', '--delay', '1h']);
        expect(delayed.code, delayed.stderr).toBe(0);
        expect(delayed.stdout).toMatch(new RegExp(`^published [0-9a-f-]{36} to ${ns}/${t} queue 0, delivered after 1h\\n$`));
        const at = new Date(Date.now() + 3_600_000).toISOString();
        const scheduled = await cli(['--json', 'pub', ns, t, 'at a time', '--deliver-at', at]);
        expect(scheduled.code, scheduled.stderr).toBe(0);
        expect(scheduled.json()).toMatchObject({ duplicate: false });
        expect(b.broker.topicStats(ns, t)).toMatchObject({ pending: 0, delayed: 2 });
        expect(await b.broker.consume(ns, t, 0, 10, true)).toEqual([]);
      });

      it('refuses --delay with --deliver-at, and a time that is not ISO 8601 (exit 2)', async () => {
        const t = await topic();
        const both = await cli(['pub', ns, t, 'x', '--delay', '1s', '--deliver-at', '2030-01-01T00:00:00Z']);
        expect(both.code).toBe(2);
        expect(both.stderr).toMatch(/cannot be used with/);
        const bad = await cli(['pub', ns, t, 'x', '--deliver-at', 'tomorrow']);
        expect(bad.code).toBe(2);
        expect(bad.stderr).toMatch(/ISO 8601/);
        expect(b.broker.topicStats(ns, t)).toMatchObject({ pending: 0, delayed: 0 });
      });
    });

    describe('pub-batch: one message a line in one call', () => {
      const tooLong = 'x'.repeat(MAX_PAYLOAD + 1);

      it('partial: publishes the good lines and reports each failure by index and line (exit 1)', async () => {
        const t = await topic();
        const r = await cli(['--json', 'pub-batch', ns, t], { input: `first\n\n${tooLong}\n{"n":3}\n` });
        expect(r.code).toBe(1);
        expect(r.json()).toEqual([
          { index: 0, line: 1, ok: true, message_id: expect.stringMatching(UUID), queue_id: 0, duplicate: false },
          { index: 1, line: 3, ok: false, code: 'INVALID_ARGUMENT', error: expect.stringMatching(/payload/) },
          { index: 2, line: 4, ok: true, message_id: expect.stringMatching(UUID), queue_id: 0, duplicate: false },
        ]);
        expect(JSON.parse(r.stderr)).toEqual({ error: { code: 'BATCH_PARTIAL', message: '1 of 3 messages were not published' } });
        const got = await b.broker.consume(ns, t, 0, 10, true);
        expect(got.map((m) => Buffer.from(m.payload).toString())).toEqual(proto === 'http' || proto === 'tcp-json' ? ['"first"', '{"n":3}'] : ['first', '{"n":3}']);

        const human = await cli(['pub-batch', ns, t], { input: `a\n${tooLong}\n` });
        expect(human.code).toBe(1);
        expect(human.stdout).toBe(`published 1 of 2 messages to ${ns}/${t} in one batch (queue 0: 1)\n`);
        expect(human.stderr).toMatch(/^message 1 \(line 2\): INVALID_ARGUMENT: .*payload/m);
      });

      it('--atomic: all or nothing', async () => {
        const t = await topic(2);
        const refused = await cli(['pub-batch', ns, t, '--atomic'], { input: `a\n${tooLong}\nc\n` });
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/INVALID_ARGUMENT: .*entry 1.*nothing was published/);
        expect(b.broker.topicStats(ns, t).pending).toBe(0);

        const dir = mkdtempSync(join(tmpdir(), 'mqlite-cli-batch-'));
        writeFileSync(join(dir, 'lines.ndjson'), '{"n":1}\n{"n":2}\n{"n":3}\n');
        const done = await cli(['pub-batch', ns, t, `@${join(dir, 'lines.ndjson')}`, '--atomic', '-H', 'src=batch']);
        expect(done.code, done.stderr).toBe(0);
        expect(done.stdout).toMatch(new RegExp(`^published 3 of 3 messages to ${ns}/${t} in one atomic batch \\(queue 0: \\d, queue 1: \\d\\)\\n$`));
        const stats = b.broker.topicStats(ns, t);
        expect(stats.pending).toBe(3);
        const peeked = b.broker.peek(ns, t, 0).messages;
        expect(peeked[0]?.headers).toEqual({ src: 'batch' });
      });

      it('--delay holds every message of the batch', async () => {
        const t = await topic();
        const r = await cli(['pub-batch', ns, t, '--delay', '2h'], { input: 'a\nb\n' });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain('delivered after 2h');
        expect(b.broker.topicStats(ns, t)).toMatchObject({ pending: 0, delayed: 2 });
      });
    });

    describe('nack: back after --delay or the backoff, dead-lettered past max_retries', () => {
      it('--delay 0 requeues at once, --delay 1h holds the message; ids not in flight are ignored', async () => {
        const t = await topic();
        await b.broker.publish(ns, t, enc('{"a":1}'));
        await b.broker.publish(ns, t, enc('{"b":2}'));
        const [a, c] = await b.broker.consume(ns, t, 0, 2, false);
        const now = await cli(['--json', 'nack', ns, t, '0', a!.id, '--delay', '0']);
        expect(now.code, now.stderr).toBe(0);
        expect(now.json()).toEqual({ ok: true, requeued: 1, delayed: 0, dead_lettered: 0 });
        const later = await cli(['nack', ns, t, '0', c!.id, 'not-in-flight', '--delay', '1h']);
        expect(later.code, later.stderr).toBe(0);
        expect(later.stdout).toBe(`nacked 1 message in ${ns}/${t}: 0 requeued now, 1 delayed (--delay 1h), 0 dead-lettered\n`);
        expect(later.stderr).toContain('1 id was not in flight');
        expect(b.broker.topicStats(ns, t)).toMatchObject({ pending: 1, inFlight: 0, delayed: 1 });
        const again = await b.broker.consume(ns, t, 0, 1, true);
        expect(again.map((m) => [m.id, m.deliveryCount])).toEqual([[a!.id, 2]]);
      });

      it("past the topic's max_retries the message goes to the dead-letter queue", async () => {
        const t = await topic(1, { retry: { maxRetries: 0 } });
        await b.broker.publish(ns, t, enc('{"doomed":true}'));
        const [m] = await b.broker.consume(ns, t, 0, 1, false);
        const r = await cli(['--json', 'nack', ns, t, '0', m!.id]);
        expect(r.json()).toEqual({ ok: true, requeued: 0, delayed: 0, dead_lettered: 1 });
        expect(b.broker.topicStats(ns, t).dlqDepth).toBe(1);
      });
    });

    describe('renew: extends the lease of in-flight messages', () => {
      it('renews a live lease; an acked message fails with FAILED_PRECONDITION (exit 1); --extend is required (exit 2)', async () => {
        const t = await topic();
        await b.broker.publish(ns, t, enc('{"slow":true}'));
        await b.broker.publish(ns, t, enc('{"done":true}'));
        const [slow, done] = await b.broker.consume(ns, t, 0, 2, false);
        const r = await cli(['renew', ns, t, '0', slow!.id, '--extend', '5m']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe(`renewed the lease of 1 message in ${ns}/${t}: ack within 5m\n`);
        const json = await cli(['--json', 'renew', ns, t, '0', slow!.id, '--extend', '90s']);
        expect(json.json()).toEqual({ ok: true, renewed: 1, extend_ms: 90_000 });

        await b.broker.ack(ns, t, 0, [done!.id]);
        const expired = await cli(['renew', ns, t, '0', done!.id, '--extend', '30s']);
        expect(expired.code).toBe(1);
        expect(expired.stdout).toBe('');
        expect(expired.stderr).toMatch(/FAILED_PRECONDITION: .*not in flight/);

        const missing = await cli(['renew', ns, t, '0', slow!.id]);
        expect(missing.code).toBe(2);
        expect(missing.stderr).toMatch(/--extend/);
      });
    });

    describe('peek: pending messages, not consumed, with a cursor, order and preview', () => {
      it('pages from the head with --limit and --cursor, from the tail with --desc, cuts payloads with --preview', async () => {
        const t = await topic();
        for (let i = 0; i < 5; i++) await b.broker.publish(ns, t, enc(`{"i":${i}}`));
        const first = await cli(['--json', 'peek', ns, t, '0', '--limit', '2']);
        expect(first.code, first.stderr).toBe(0);
        const page1 = first.json();
        expect(page1.messages.map((m: any) => m.payload)).toEqual([{ i: 0 }, { i: 1 }]);
        expect(page1.messages[0]).toMatchObject({ namespace: ns, topic: t, queue_id: 0, delivery_count: 0, payload_size: 7 });
        expect(page1.next_cursor).toEqual(expect.any(String));
        const page2 = (await cli(['--json', 'peek', ns, t, '0', '--limit', '2', '--cursor', page1.next_cursor])).json();
        expect(page2.messages.map((m: any) => m.payload)).toEqual([{ i: 2 }, { i: 3 }]);
        const desc = (await cli(['--json', 'peek', ns, t, '0', '--desc', '--limit', '5'])).json();
        expect(desc.messages.map((m: any) => m.payload)).toEqual([{ i: 4 }, { i: 3 }, { i: 2 }, { i: 1 }, { i: 0 }]);
        expect(desc.next_cursor).toBeUndefined();
        const cut = (await cli(['--json', 'peek', ns, t, '0', '--limit', '1', '--preview', '3'])).json();
        // '{"i' is not a JSON document: shown as base64 (docs/PROTOCOL.md, "JSON surfaces").
        expect(cut.messages[0]).toMatchObject({ payload: Buffer.from('{"i').toString('base64'), payload_encoding: 'base64', payload_size: 7 });
        expect(b.broker.topicStats(ns, t)).toMatchObject({ pending: 5, inFlight: 0 });
      });

      it('prints rows when piped and the command for the next page on stderr', async () => {
        const t = await topic();
        const a = await b.broker.publish(ns, t, enc('{"a":1}'));
        await b.broker.publish(ns, t, enc('{"b":2}'));
        const r = await cli(['peek', ns, t, '0', '--limit', '1']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^${a.messageId}\\t0\\t0\\t\\S+\\t-\\t7\\t\\{"a":1\\}\\n$`));
        expect(r.stderr).toMatch(new RegExp(`more: mqlite-cli peek ${ns} ${t} 0 --limit 1 --cursor \\S+`));
        const empty = await cli(['peek', ns, t, '0', '--cursor', 'garbage']);
        expect(empty.code).toBe(1);
        expect(empty.stderr).toMatch(/INVALID_ARGUMENT: .*cursor/);
      });
    });

    describe('dlq: list, peek, consume, redrive', () => {
      it('lists dead letters with their reason and deliveries, peeks them in full, consumes and redrives them', async () => {
        const t = await topic(2, { retry: { maxRetries: 0 } });
        for (let i = 0; i < 3; i++) await b.broker.publish(ns, t, enc(`{"dead":${i}}`), { queueId: 0 });
        const dead = await b.broker.consume(ns, t, 0, 3, false);
        await b.broker.nack(ns, t, 0, dead.map((m) => m.id));

        const list = await cli(['--json', 'dlq', 'list', ns, t]);
        expect(list.code, list.stderr).toBe(0);
        expect(list.json()).toEqual({
          messages: dead.map((m) => ({ id: m.id, reason: 'nacked', delivery_count: 1, timestamp: expect.stringMatching(/^\d{19}$/), payload_size: 10 })),
        });
        const rows = await cli(['dlq', 'ls', ns, t, '--limit', '1']);
        expect(rows.stdout).toMatch(new RegExp(`^${dead[0]!.id}\\tnacked\\t1\\t\\S+\\t10\\t\\{"dead":0\\}\\n$`));
        expect(rows.stderr).toMatch(new RegExp(`more: mqlite-cli dlq list ${ns} ${t} --limit 1 --cursor \\S+`));

        const peeked = (await cli(['--json', 'dlq', 'peek', ns, t, '--desc', '--limit', '1'])).json();
        expect(peeked.messages).toEqual([
          expect.objectContaining({ id: dead[2]!.id, queue_id: -1, payload: { dead: 2 }, headers: { _dlq_reason: 'nacked', _delivery_count: '1' }, payload_size: 10 }),
        ]);

        // Consumed from the dead-letter queue: in flight until acked with queue dlq.
        const consumed = await cli(['dlq', 'consume', ns, t, '--batch', '1']);
        expect(consumed.code, consumed.stderr).toBe(0);
        expect(consumed.stdout).toMatch(new RegExp(`^${dead[0]!.id}\\t-1\\t`));
        expect(consumed.stderr).toContain(`mqlite-cli ack ${ns} ${t} dlq ${dead[0]!.id}`);
        expect(b.broker.topicStats(ns, t)).toMatchObject({ dlqDepth: 2, inFlight: 1 });
        const acked = await cli(['ack', ns, t, 'dlq', dead[0]!.id]);
        expect(acked.code, acked.stderr).toBe(0);
        expect(b.broker.topicStats(ns, t)).toMatchObject({ dlqDepth: 2, inFlight: 0 });

        const one = await cli(['--json', 'dlq', 'redrive', ns, t, '--max', '1']);
        expect(one.json()).toEqual({ ok: true, moved: 1 });
        const rest = await cli(['dlq', 'redrive', ns, t]);
        expect(rest.stdout).toBe(`redrove 1 message from the dead-letter queue of ${ns}/${t} back to its queues\n`);
        expect(b.broker.topicStats(ns, t)).toMatchObject({ dlqDepth: 0, pending: 2 });
        const back = await b.broker.consume(ns, t, 0, 10, true);
        const back1 = await b.broker.consume(ns, t, 1, 10, true);
        expect([...back, ...back1].map((m) => [m.headers ?? {}, m.deliveryCount])).toEqual([
          [{}, 1],
          [{}, 1],
        ]);
      });

      it('an empty dead-letter queue is a note, not an error; --auto-ack takes messages for good', async () => {
        const t = await topic(1, { retry: { maxRetries: 0 } });
        const empty = await cli(['dlq', 'list', ns, t]);
        expect(empty.code, empty.stderr).toBe(0);
        expect(empty.stdout).toBe('');
        expect(empty.stderr).toContain('is empty');
        await b.broker.publish(ns, t, enc('{"x":1}'));
        const [m] = await b.broker.consume(ns, t, 0, 1, false);
        await b.broker.nack(ns, t, 0, [m!.id]);
        const taken = await cli(['--json', 'dlq', 'consume', ns, t, '--auto-ack', '--batch', '5']);
        expect(taken.json().map((x: any) => [x.id, x.payload])).toEqual([[m!.id, { x: 1 }]]);
        expect(b.broker.topicStats(ns, t)).toMatchObject({ dlqDepth: 0, inFlight: 0 });
      });
    });

    describe('topic policy: shows, or changes the values given', () => {
      it('shows the defaults, changes some values and keeps the others', async () => {
        const t = await topic();
        const shown = await cli(['--json', 'topic', 'policy', ns, t]);
        expect(shown.code, shown.stderr).toBe(0);
        expect(shown.json()).toEqual({ max_retries: -1, retry_base_ms: 1000, retry_cap_ms: 60_000, dedup_window_ms: 3_600_000, ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false });
        const set = await cli(['topic', 'policy', ns, t, '--max-retries', '5', '--retry-cap', '2m', '--dedup-window', 'off']);
        expect(set.code, set.stderr).toBe(0);
        expect(set.stdout).toBe('max_retries\t5\nretry_base\t1s\nretry_cap\t2m\ndedup_window\toff\nack_timeout\tbroker default\nmessage_ttl\toff\ndead_letter_expired\tfalse\n');
        expect(set.stderr).toContain(`policy of ${ns}/${t} updated`);
        expect(b.broker.listTopics(ns).find((x) => x.name === t)?.policy).toEqual({ retry: { maxRetries: 5, baseMs: 1000, capMs: 120_000 }, dedupWindowMs: 0, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
        const json = await cli(['--json', 'topic', 'policy', ns, t, '--retry-base', '250ms', '--dedup-window', '1h30m']);
        expect(json.json()).toEqual({ max_retries: 5, retry_base_ms: 250, retry_cap_ms: 120_000, dedup_window_ms: 5_400_000, ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false });
      });

      it("a value the broker refuses exits 1 with its reason; a malformed one exits 2", async () => {
        const t = await topic();
        const refused = await cli(['topic', 'policy', ns, t, '--max-retries', '-5']);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/INVALID_ARGUMENT: .*max_retries/);
        const malformed = await cli(['topic', 'policy', ns, t, '--retry-base', 'soon']);
        expect(malformed.code).toBe(2);
        expect(malformed.stderr).toMatch(/--retry-base/);
      });
    });

    describe('topic policy --ack-timeout / --message-ttl / --dead-letter-expired (docs/DESIGN.md, "Expiry")', () => {
      it('sets them with units, shows them, and off/default/false turn them back', async () => {
        const t = await topic();
        const set = await cli(['topic', 'policy', ns, t, '--ack-timeout', '2m', '--message-ttl', '1h30m', '--dead-letter-expired', 'true']);
        expect(set.code, set.stderr).toBe(0);
        expect(set.stdout).toContain('ack_timeout\t2m\nmessage_ttl\t1h30m\ndead_letter_expired\ttrue\n');
        expect(b.broker.listTopics(ns).find((x) => x.name === t)?.policy).toMatchObject({ ackTimeoutMs: 120_000, messageTtlMs: 5_400_000, deadLetterExpired: true });
        const json = await cli(['--json', 'topic', 'policy', ns, t]);
        expect(json.json()).toMatchObject({ ack_timeout_ms: 120_000, message_ttl_ms: 5_400_000, dead_letter_expired: true });
        const off = await cli(['--json', 'topic', 'policy', ns, t, '--ack-timeout', 'default', '--message-ttl', 'off', '--dead-letter-expired', 'false']);
        expect(off.json()).toMatchObject({ ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false });
      });

      it('a value out of range exits 1 with the broker\'s reason and changes nothing; a malformed one exits 2', async () => {
        const t = await topic();
        const tooLong = await cli(['topic', 'policy', ns, t, '--ack-timeout', '13h']);
        expect(tooLong.code).toBe(1);
        expect(tooLong.stderr).toMatch(/INVALID_ARGUMENT: .*ack_timeout_ms/);
        const ttl = await cli(['topic', 'policy', ns, t, '--message-ttl', '400d']);
        expect(ttl.code).toBe(2);
        expect(ttl.stderr).toMatch(/--message-ttl/);
        const flag = await cli(['topic', 'policy', ns, t, '--dead-letter-expired', 'maybe']);
        expect(flag.code).toBe(2);
        expect(flag.stderr).toMatch(/--dead-letter-expired.*true or false/);
        expect(b.broker.listTopics(ns).find((x) => x.name === t)?.policy).toMatchObject({ ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
      });
    });

    describe('pub --ttl: never delivered once expired', () => {
      it('publishes with an expiry and says so; the message expires unseen and is counted', async () => {
        const t = await topic();
        const r = await cli(['pub', ns, t, '{"offer":1}', '--ttl', '200ms']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^published \S+ to .* queue 0, expires after 200ms unless the topic's message TTL is shorter\n$/);
        await cli(['pub', ns, t, '{"offer":2}', '--ttl', '1h']);
        // At least 250 ms later the first has expired, however slow the machine.
        await new Promise((res) => setTimeout(res, 250));
        const got = await cli(['--json', 'consume', ns, t, '0', '--auto-ack', '--batch', '5']);
        expect(got.json().map((m: { payload: unknown }) => m.payload)).toEqual([{ offer: 2 }]);
        expect(b.broker.topicStats(ns, t).expired).toBe(1);
      });

      it('a ttl not longer than the delay, or malformed, is refused and nothing is published', async () => {
        const t = await topic();
        const refused = await cli(['pub', ns, t, '{"x":1}', '--ttl', '1s', '--delay', '1m']);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/INVALID_ARGUMENT: .*ttl_ms.*expire before it is visible/);
        const malformed = await cli(['pub', ns, t, '{"x":1}', '--ttl', 'forever']);
        expect(malformed.code).toBe(2);
        expect(malformed.stderr).toMatch(/--ttl/);
        const zero = await cli(['pub', ns, t, '{"x":1}', '--ttl', '0s']);
        expect(zero.code).toBe(2);
        expect(b.broker.topicStats(ns, t)).toMatchObject({ published: 0, pending: 0, delayed: 0 });
      });
    });

    describe('stats: per queue, the dead-letter queue and the topic', () => {
      it('prints a row a queue, a dlq row and a total row; --json has every counter', async () => {
        const t = await topic(2, { retry: { maxRetries: 0 } });
        await b.broker.publish(ns, t, enc('{"p":0}'), { queueId: 0 });
        await b.broker.publish(ns, t, enc('{"p":1}'), { queueId: 0 });
        await b.broker.publish(ns, t, enc('{"p":2}'), { queueId: 1, delayMs: 3_600_000 });
        const [inflight, dying] = await b.broker.consume(ns, t, 0, 2, false);
        await b.broker.nack(ns, t, 0, [dying!.id]);
        void inflight;
        const r = await cli(['stats', ns, t]);
        expect(r.code, r.stderr).toBe(0);
        const lines = r.stdout.trimEnd().split('\n').map((l) => l.split('\t'));
        expect(lines.map((l) => l.slice(0, 4))).toEqual([
          ['0', '0', '1', '0'],
          ['1', '0', '0', '1'],
          ['dlq', '1', '-', '-'],
          ['total', '0', '1', '1'],
        ]);
        // published, acked, redelivered, dead-lettered
        expect(lines[0]!.slice(4, 8)).toEqual([String(b.broker.topicStats(ns, t).queues[0]!.published), '0', '0', '1']);
        expect(lines.every((l) => l.length === 12)).toBe(true);

        const json = (await cli(['--json', 'stats', ns, t])).json();
        expect(json).toMatchObject({
          namespace: ns,
          topic: t,
          queue_count: 2,
          version: '0',
          draining: false,
          paused: false,
          purged: 0,
          dlq_depth: 1,
          policy: { max_retries: 0, retry_base_ms: 1000, retry_cap_ms: 60_000, dedup_window_ms: 3_600_000 },
          pending: 0,
          in_flight: 1,
          delayed: 1,
          dead_lettered: 1,
          expired: 0,
        });
        // The totals are the broker's own (a held message counts as published once it is visible).
        const s = b.broker.topicStats(ns, t);
        expect([json.published, json.acked, json.redelivered]).toEqual([s.published, s.acked, s.redelivered]);
        expect(json.queues).toEqual([
          expect.objectContaining({ queue_id: 0, pending: 0, in_flight: 1, delayed: 0, published: s.queues[0]!.published, dead_lettered: 1, publish_rate: expect.any(Number) }),
          expect.objectContaining({ queue_id: 1, pending: 0, in_flight: 0, delayed: 1, published: s.queues[1]!.published, oldest_pending_age_ms: 0 }),
        ]);
      });

      it('an unknown topic exits 1 with NOT_FOUND', async () => {
        const r = await cli(['stats', ns, 'no-such-topic']);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/NOT_FOUND/);
      });
    });

    describe('topic pause / resume: deliveries held, publishes accepted (docs/DESIGN.md, "Pause")', () => {
      it('pauses, consume gets nothing, resume delivers in order; an unknown topic fails with exit 1 and changes nothing', async () => {
        const t = await topic();
        const paused = await cli(['topic', 'pause', ns, t]);
        expect(paused.code, paused.stderr).toBe(0);
        expect(paused.stdout).toBe(`topic ${ns}/${t} paused: publishes are accepted, nothing is delivered until \`topic resume ${ns} ${t}\`\n`);
        expect((await cli(['--json', 'topic', 'pause', ns, t])).json()).toEqual({ ok: true, namespace: ns, topic: t, paused: true });
        expect((await cli(['pub', ns, t, '1'])).code).toBe(0);
        expect((await cli(['pub', ns, t, '2'])).code).toBe(0);
        expect(await b.broker.consume(ns, t, 0, 10, true)).toEqual([]);
        expect(b.broker.topicStats(ns, t)).toMatchObject({ paused: true, pending: 2 });
        expect((await cli(['--json', 'stats', ns, t])).json()).toMatchObject({ paused: true, purged: 0, pending: 2 });
        const resumed = await cli(['--json', 'topic', 'resume', ns, t]);
        expect(resumed.json()).toEqual({ ok: true, namespace: ns, topic: t, paused: false });
        expect((await b.broker.consume(ns, t, 0, 10, true)).map((m) => Buffer.from(m.payload).toString())).toEqual(['1', '2']);

        const missing = await cli(['topic', 'pause', ns, 'nope']);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toMatch(/nope/);
        expect(b.broker.listTopics(ns).every((x) => !x.paused)).toBe(true);
      });
    });

    describe('purge: a queue, every queue, or the dead-letter queue (docs/DESIGN.md, "Purge")', () => {
      it('answers the count, keeps in-flight messages, and refuses a queue out of range with nothing lost', async () => {
        const t = await topic(2, { retry: { maxRetries: 0 } });
        for (let i = 0; i < 2; i++) await b.broker.publish(ns, t, enc(`q0-${i}`), { queueId: 0 });
        for (let i = 0; i < 3; i++) await b.broker.publish(ns, t, enc(`q1-${i}`), { queueId: 1 });
        const [held] = await b.broker.consume(ns, t, 1, 1, false);

        const bad = await cli(['purge', ns, t, '5']);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toMatch(/queue 5/);
        expect(b.broker.topicStats(ns, t)).toMatchObject({ pending: 4, purged: 0 });

        const one = await cli(['purge', ns, t, '1']);
        expect(one.code, one.stderr).toBe(0);
        expect(one.stdout).toBe(`purged 2 messages from ${ns}/${t} queue 1 (in-flight messages are kept)\n`);
        expect((await cli(['--json', 'purge', ns, t])).json()).toEqual({ ok: true, purged: 2 });
        expect(b.broker.topicStats(ns, t)).toMatchObject({ pending: 0, inFlight: 1, purged: 4 });

        await b.broker.nack(ns, t, 1, [held!.id]);
        const dlq = await cli(['purge', ns, t, 'dlq']);
        expect(dlq.stdout).toBe(`purged 1 message from the dead-letter queue of ${ns}/${t} (in-flight messages are kept)\n`);
        expect(b.broker.topicStats(ns, t)).toMatchObject({ dlqDepth: 0, inFlight: 0, purged: 5 });
      });
    });
  });
}
