/**
 * Every one-shot command of mqlite-cli over one protocol, spawned as a user
 * would run it, against an in-process broker. Each protocol's test file runs
 * this suite, so every command is proven on every protocol with one text.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startBroker, type Proto, type Running } from './harness.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The JSON surfaces carry non-JSON bytes as base64 (docs/PROTOCOL.md, "JSON surfaces"). */
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

export function protocolSuite(proto: Proto): void {
  describe(`mqlite-cli over ${proto}`, () => {
    let b: Running;
    let cli: (args: string[], opts?: Parameters<typeof runCli>[1]) => ReturnType<typeof runCli>;
    const ns = `ns-${proto}`;

    beforeAll(async () => {
      b = await startBroker({ ackTimeoutMs: 60_000 });
      cli = (args, opts) => runCli([...b.args(proto), ...args], opts);
      // Each test makes its own topics in this namespace, so that one failure does not cascade.
      await b.broker.createNamespace(ns);
    });
    afterAll(async () => {
      await b?.stop();
    });

    describe('namespaces and topics', () => {
      it('ns create, topic create, topic list show what was created', async () => {
        const made = `${ns}-made`;
        const created = await cli(['--json', 'ns', 'create', made]);
        expect(created.code, created.stderr).toBe(0);
        expect(created.json()).toEqual({ ok: true, namespace: made });
        expect(b.broker.listNamespaces()).toContain(made);

        const topic = await cli(['topic', 'create', made, 'orders', '--queues', '2']);
        expect(topic.code, topic.stderr).toBe(0);
        expect(topic.stdout).toBe(`topic ${made}/orders created with 2 queues\n`);
        const topics = await cli(['--json', 'topic', 'list', made]);
        expect(topics.json()).toEqual([{ name: 'orders', queue_count: 2, version: '0', paused: false }]);
      });

      it('ns list and topic list print plain rows when piped, without --json', async () => {
        await b.broker.createNamespace(`${ns}-rows`);
        await b.broker.createTopic(`${ns}-rows`, 'b', 3);
        await b.broker.createTopic(`${ns}-rows`, 'a', 1);
        const names = await cli(['ns', 'list']);
        expect(names.stdout.split('\n')).toContain(`${ns}-rows`);
        // Tab-separated, no header, sorted by name.
        expect((await cli(['topic', 'ls', `${ns}-rows`])).stdout).toBe('a\t1\t0\nb\t3\t0\n');
      });

      it('topic resize and rebalance answer with the new shape', async () => {
        await b.broker.createTopic(ns, 'sized', 1);
        const grown = await cli(['--json', 'topic', 'resize', ns, 'sized', '3']);
        expect(grown.code, grown.stderr).toBe(0);
        expect(grown.json()).toEqual({ ok: true, new_queue_count: 3, version: '1', draining: false });
        const rebalanced = await cli(['topic', 'rebalance', ns, 'sized']);
        expect(rebalanced.code, rebalanced.stderr).toBe(0);
        expect(rebalanced.stdout).toContain('rebalanced');
        expect(b.broker.listTopics(ns).find((t) => t.name === 'sized')?.queueCount).toBe(3);
      });

      it('topic delete and ns delete remove them', async () => {
        await b.broker.createNamespace(`${ns}-gone`);
        await b.broker.createTopic(`${ns}-gone`, 't', 1);
        expect((await cli(['topic', 'delete', `${ns}-gone`, 't'])).code).toBe(0);
        expect(b.broker.listTopics(`${ns}-gone`)).toEqual([]);
        const deleted = await cli(['ns', 'delete', `${ns}-gone`]);
        expect(deleted.code, deleted.stderr).toBe(0);
        expect(deleted.stdout).toBe(`namespace ${ns}-gone deleted\n`);
        expect(b.broker.listNamespaces()).not.toContain(`${ns}-gone`);
      });

      it('a server error exits 1 with the reason on stderr and nothing on stdout', async () => {
        const again = await cli(['ns', 'delete', `${ns}-never`]);
        expect(again.code).toBe(1);
        expect(again.stdout).toBe('');
        expect(again.stderr).toMatch(/NOT_FOUND: .*not found/);
      });

      it('a server error with --json is a JSON error object on stderr', async () => {
        const r = await cli(['--json', 'topic', 'list', 'no-such-ns']);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        expect(JSON.parse(r.stderr)).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringMatching(/not found/) } });
      });
    });

    describe('pub, consume, ack', () => {
      it('pub takes the payload from the argument, with headers, routing key and an explicit queue', async () => {
        await b.broker.createTopic(ns, 'args', 2);
        const r = await cli(['--json', 'pub', ns, 'args', '{"sku":"A1","qty":2}', '-H', 'source=cli', '-H', 'trace=t1', '--queue', '1']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.json()).toEqual({ message_id: expect.stringMatching(UUID), queue_id: 1 });
        const keyed = await cli(['--json', 'pub', ns, 'args', 'k', '--key', 'customer-42', '--count', '3']);
        const queues = (keyed.json() as { queue_id: number }[]).map((x) => x.queue_id);
        expect(queues).toHaveLength(3);
        expect(new Set(queues).size).toBe(1);

        const got = await cli(['--json', 'consume', ns, 'args', '1', '--batch', '1', '--auto-ack']);
        expect(got.json()).toEqual([
          {
            id: r.json().message_id,
            namespace: ns,
            topic: 'args',
            queue_id: 1,
            payload: { sku: 'A1', qty: 2 },
            timestamp: expect.stringMatching(/^\d{19}$/),
            headers: { source: 'cli', trace: 't1' },
            delivery_count: 1,
          },
        ]);
      });

      it('pub reads @file as bytes and stdin line by line with --lines; consume shows them in order', async () => {
        await b.broker.createTopic(ns, 'sources', 1);
        const dir = mkdtempSync(join(tmpdir(), 'mqlite-cli-'));
        const file = join(dir, 'payload.txt');
        writeFileSync(file, 'not json');
        const fromFile = await cli(['pub', ns, 'sources', `@${file}`]);
        expect(fromFile.code, fromFile.stderr).toBe(0);
        expect(fromFile.stdout).toMatch(/^published [0-9a-f-]{36} to .*queue 0\n$/);
        const fromLines = await cli(['--json', 'pub', ns, 'sources', '--lines'], { input: 'first\n{"n":2}\n\nthird\n' });
        expect(fromLines.code, fromLines.stderr).toBe(0);
        expect(fromLines.json()).toHaveLength(3);
        const whole = await cli(['--json', 'pub', ns, 'sources'], { input: '{"whole":"stdin"}' });
        expect(whole.json()).toEqual({ message_id: expect.stringMatching(UUID), queue_id: 0 });

        const got = (await cli(['--json', 'consume', ns, 'sources', '0', '-b', '10'])).json() as any[];
        // A file's and stdin's bytes are stored as they are whatever the protocol (docs/PROTOCOL.md, "JSON surfaces"):
        // text that is not JSON is shown as base64 on every JSON front.
        expect(got.map((m) => [m.payload, m.payload_encoding])).toEqual([
          [b64('not json'), 'base64'],
          [b64('first'), 'base64'],
          [{ n: 2 }, undefined],
          [b64('third'), 'base64'],
          [{ whole: 'stdin' }, undefined],
        ]);
        // Not auto-acked: in flight until the ack below, which reads the ids from stdin.
        const inflight = b.broker.stats().inflight;
        expect(inflight).toBeGreaterThanOrEqual(5);
        const acked = await cli(['ack', ns, 'sources', '0', '-'], { input: got.map((m) => m.id).join('\n') + '\n' });
        expect(acked.code, acked.stderr).toBe(0);
        expect(acked.stdout).toBe(`acked 5 messages in ${ns}/sources\n`);
        expect(b.broker.stats().inflight).toBe(inflight - 5);
      });

      it('binary payloads travel as the same bytes over every protocol (base64 on the JSON ones)', async () => {
        await b.broker.createTopic(ns, 'binary', 1);
        const dir = mkdtempSync(join(tmpdir(), 'mqlite-cli-'));
        const file = join(dir, 'payload.bin');
        const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe]);
        writeFileSync(file, bytes);
        const r = await cli(['pub', ns, 'binary', `@${file}`, '--count', '2']);
        expect(r.code, r.stderr).toBe(0);
        const got = (await cli(['--json', 'consume', ns, 'binary', '0', '--auto-ack', '--batch', '2'])).json();
        expect(got.map((m: any) => [m.payload, m.payload_encoding])).toEqual([
          [b64(bytes), 'base64'],
          [b64(bytes), 'base64'],
        ]);
      });

      it('pub @file stores the file\'s exact bytes, trailing newline and spacing included', async () => {
        await b.broker.createTopic(ns, 'file-bytes', 1);
        const dir = mkdtempSync(join(tmpdir(), 'mqlite-cli-'));
        const file = join(dir, 'order.json');
        const bytes = Buffer.from('{"sku": "A1",\n "qty": 2}\n');
        writeFileSync(file, bytes);
        const r = await cli(['pub', ns, 'file-bytes', `@${file}`]);
        expect(r.code, r.stderr).toBe(0);
        const [m] = await b.broker.consume(ns, 'file-bytes', 0, 1, true);
        expect(Buffer.from(m!.payload)).toEqual(bytes);
      });

      it('consume without auto-ack prints the ids to ack; ack by id takes them', async () => {
        await b.broker.createTopic(ns, 'manual', 1);
        const a = await b.broker.publish(ns, 'manual', Buffer.from('{"a":1}'));
        const c = await b.broker.publish(ns, 'manual', Buffer.from('{"c":3}'));
        const r = await cli(['consume', ns, 'manual', '0', '--batch', '5']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.split('\n')[0]).toMatch(new RegExp(`^${a.messageId}\\t0\\t1\\t\\S+\\t-\\t\\{"a":1\\}$`));
        expect(r.stderr).toContain(`mqlite-cli ack ${ns} manual 0 ${a.messageId} ${c.messageId}`);
        const before = b.broker.stats().inflight;
        const acked = await cli(['--json', 'ack', ns, 'manual', '0', a.messageId, c.messageId]);
        expect(acked.json()).toEqual({ ok: true, acked: 2 });
        expect(b.broker.stats().inflight).toBe(before - 2);
      });

    });

    describe('sub', () => {
      it('streams pending messages and stops after --count, acking what it printed', async () => {
        await b.broker.createTopic(ns, 'stream', 1);
        for (let i = 0; i < 5; i++) await b.broker.publish(ns, 'stream', Buffer.from(JSON.stringify({ i })));
        const inflightBefore = b.broker.stats().inflight;
        const r = await cli(['--json', 'sub', ns, 'stream', '0', '--count', '3']);
        expect(r.code, r.stderr).toBe(0);
        // One JSON array, an element a line.
        expect(r.stdout.split('\n')).toHaveLength(6);
        const messages = r.json() as any[];
        expect(messages.map((m) => m.payload)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
        expect(messages[0]).toMatchObject({ namespace: ns, topic: 'stream', queue_id: 0, headers: {}, delivery_count: 1 });
        // The printed ones are acked before the CLI exits, and on every
        // protocol the in-flight bound (max_inflight = count, docs/PROTOCOL.md
        // "Subscribe") kept the other two queued: pending, not in flight.
        expect(b.broker.stats().inflight).toBe(inflightBefore);
        expect(b.broker.topicStats(ns, 'stream')).toMatchObject({ pending: 2, inFlight: 0, acked: 3 });
        const rest = (await cli(['--json', 'consume', ns, 'stream', '0', '-b', '10', '--auto-ack'])).json();
        expect(rest.map((m: any) => [m.payload, m.delivery_count])).toEqual([
          [{ i: 3 }, 1],
          [{ i: 4 }, 1],
        ]);
      });

      it('takes exactly --count messages, even past a batch of acks', async () => {
        await b.broker.createTopic(ns, 'exact', 1);
        for (let i = 0; i < 150; i++) await b.broker.publish(ns, 'exact', Buffer.from(`{"i":${i}}`));
        const inflightBefore = b.broker.stats().inflight;
        const r = await cli(['--json', 'sub', ns, 'exact', '0', '--count', '120', '--auto-ack']);
        expect(r.code, r.stderr).toBe(0);
        expect((r.json() as any[]).map((m) => m.payload.i)).toEqual([...Array(120).keys()]);
        expect(b.broker.stats().inflight).toBe(inflightBefore);
        const rest = await b.broker.consume(ns, 'exact', 0, 1000, true);
        expect(rest.map((m) => m.deliveryCount)).toEqual(Array(30).fill(1));
      });

      it('is pushed messages published while it waits (auto-ack)', async () => {
        await b.broker.createTopic(ns, 'live', 1);
        let exited = false;
        const run = cli(['sub', ns, 'live', '0', '--auto-ack', '--count', '1'], {
          onSpawn: (child) => child.on('exit', () => (exited = true)),
        });
        // Publish until the subscriber has one; no timing assumption about when it subscribed.
        let n = 0;
        while (!exited) {
          await b.broker.publish(ns, 'live', Buffer.from(`{"live":${n++}}`));
          await new Promise((r) => setTimeout(r, 100));
        }
        const r = await run;
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/ q0 [0-9a-f-]{36} \{"live":\d+\}\n$/);
        expect(r.stderr).toContain('received 1 message');
      });

      it('Ctrl-C (SIGINT) ends it with exit 0, after acking what it printed', async () => {
        await b.broker.createTopic(ns, 'interrupted', 1);
        for (let i = 0; i < 3; i++) await b.broker.publish(ns, 'interrupted', Buffer.from(`{"i":${i}}`));
        const inflightBefore = b.broker.stats().inflight;
        let printed = '';
        const r = await cli(['sub', ns, 'interrupted', '0', '--ndjson'], {
          onSpawn: (child) =>
            child.stdout!.on('data', (d: Buffer) => {
              printed += d.toString();
              if (printed.split('\n').length > 3) child.kill('SIGINT');
            }),
        });
        expect(r.code, r.stderr).toBe(0);
        // JSON Lines: one message object a line.
        expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).payload)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
        expect(b.broker.stats().inflight).toBe(inflightBefore);
      });

      it('shows a resize of the topic as a notice, neither counted nor acked', async () => {
        await b.broker.createTopic(ns, 'growing', 1);
        let printed = '';
        let exited = false;
        const run = cli(['sub', ns, 'growing', '0', '--count', '1'], {
          onSpawn: (child) => {
            child.stdout!.on('data', (d: Buffer) => (printed += d.toString()));
            child.on('exit', () => (exited = true));
          },
        });
        // Grow the topic until the subscriber shows a notice (no assumption on when it subscribed).
        let queues = 1;
        while (!printed.includes('resized') && !exited) {
          await b.broker.resizeTopic(ns, 'growing', ++queues);
          await new Promise((r) => setTimeout(r, 100));
        }
        await b.broker.publish(ns, 'growing', Buffer.from('{"after":"resize"}'), { queueId: 0 });
        const r = await run;
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^-- topic ${ns}/growing resized: \\d+ queues, version \\d+$`, 'm'));
        expect(r.stdout.trim().split('\n').at(-1)).toMatch(/\{"after":"resize"\}$/);
        expect(r.stderr).toContain('received 1 message');
      });

      it('an unknown queue exits 1 with the reason', async () => {
        await b.broker.createTopic(ns, 'two', 2);
        const r = await cli(['sub', ns, 'two', '99', '--count', '1']);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/NOT_FOUND|not found|queue/i);
      });
    });

    describe('health', () => {
      it('answers ok with the protocol and address', async () => {
        const r = await cli(['--json', 'health']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.json()).toEqual({ status: 'ok', proto, address: expect.stringMatching(/^127\.0\.0\.1:\d+$/), latency_ms: expect.any(Number) });
      });
    });
  });
}
