/**
 * Hostile input on the TCP front (docs/PROTOCOL.md "TCP
 * framing", src/server/tcp/README.md "Edges"): random byte streams, frames
 * with any encoding byte and body, mutated JSON and protobuf commands of
 * every action, oversized and zero length prefixes, partial frames, long
 * pipelines and subscriptions. Where the framing is intact every frame
 * gets a well-formed reply (an error with a reason for bad input) and the
 * connection stays usable; where it is not, an error frame and a close.
 * The server process stays up, its RSS bounded, and the messages of the
 * secret namespace are untouched (harness.ts).
 */
import { create, type DescField, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TCPCommandSchema } from '../../gen/mqlite/v1/mqlite_pb.js';
import {
  type Frame,
  FrameConn,
  type FuzzServer,
  LIMITS,
  PLAY_NS,
  PLAY_TOPIC,
  checkReply,
  frame,
  messageInitArb,
  mutate,
  mutationsArb,
  nameArb,
  params,
  startFuzzServer,
} from './harness.js';
import { extremeOpArb, fieldPaths, jsonObjectArb, jsonOpArb, renderJson, textMutationsArb } from './json-commands.js';

const TIMEOUT = process.env.FUZZ_RUNS ? 3_600_000 : 60_000;

let server: FuzzServer;
beforeAll(async () => {
  server = await startFuzzServer();
});
afterAll(async () => {
  await server?.stop();
});

/** The `data` cases of TCPCommand: one per action, with its request message. */
const CASES: readonly DescField[] = TCPCommandSchema.oneofs[0]!.fields;
/** Subscribe is fuzzed on its own: its pushed frames would blur "one reply per frame". */
const COMMAND_CASES = CASES.filter((f) => f.name !== 'subscribe');
const SUBSCRIBE = CASES.find((f) => f.name === 'subscribe')!;

function pbCommandArb(cases: readonly DescField[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.constantFrom(...cases), fc.boolean(), fc.option(fc.string({ maxLength: 16 }), { nil: undefined }))
    .chain(([f, named, requestId]) =>
      messageInitArb(f.message!).map((init) =>
        toBinary(
          TCPCommandSchema,
          create(TCPCommandSchema, {
            // `action` may be left empty: then the data case names it (README "Worked example: protobuf")
            action: named ? f.name : '',
            requestId,
            data: { case: f.localName, value: create(f.message!, init as never) } as never,
          }),
        ),
      ),
    );
}

let sentinelSeq = 0;

/**
 * Writes `frames` then a sentinel request, and checks the answer: when
 * every frame fits the limit, each gets a well-formed reply before the
 * sentinel's (pushes may add frames, never remove any); when one does not,
 * the frames before it are answered, then an error frame naming the limit,
 * then the connection closes.
 */
async function exchange(frames: Buffer[]): Promise<Frame[]> {
  await server.ensurePlayground();
  const conn = await FrameConn.open(server.ports.tcp);
  try {
    const sentinel = `sentinel-${++sentinelSeq}-${Math.random()}`;
    const oversized = frames.findIndex((f) => f.readUInt32BE(0) > LIMITS.max_frame);
    conn.socket.write(Buffer.concat([...frames, frame(0, JSON.stringify({ action: 'list_namespaces', request_id: sentinel }))]));
    if (oversized < 0) {
      let sentinelAt = -1;
      await conn.until(() => {
        sentinelAt = conn.frames.findIndex((f) => f.encoding === 0 && f.body.includes(sentinel));
        return sentinelAt >= 0;
      });
      expect(conn.closed && sentinelAt < 0, 'the server closed a connection whose framing was intact').toBe(false);
      expect(sentinelAt).toBeGreaterThanOrEqual(frames.length);
      const replies = conn.frames.slice(0, sentinelAt + 1).map(checkReply);
      expect(replies.at(-1)!.status).toBe('ok');
    } else {
      await conn.untilClosed();
      expect(conn.leftover).toBe(0);
      expect(conn.frames.length).toBeGreaterThanOrEqual(oversized + 1);
      const replies = conn.frames.map(checkReply);
      expect(replies.at(-1)!.error).toMatch(/^INVALID_ARGUMENT: frame length \d+ exceeds the maximum/);
    }
    return conn.frames;
  } finally {
    conn.destroy();
    server.assertAlive();
  }
}

describe('TCP front under hostile input', () => {
  it(
    'random byte streams, sent in random pieces and half-closed: well-formed replies, then the server closes',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.array(fc.integer({ min: 1, max: 512 }), { maxLength: 8 }), async (bytes, cuts) => {
          const conn = await FrameConn.open(server.ports.tcp);
          try {
            let at = 0;
            for (const n of cuts) {
              conn.socket.write(bytes.subarray(at, at + n));
              at += n;
            }
            conn.socket.end(bytes.subarray(at));
            await conn.untilClosed();
            expect(conn.leftover).toBe(0);
            conn.frames.forEach(checkReply);
          } finally {
            conn.destroy();
          }
          server.assertAlive();
        }),
        params(60),
      );
    },
    TIMEOUT,
  );

  it(
    'frames with a valid length, any encoding byte and a random body, pipelined: one reply each, connection usable',
    async () => {
      const bodyArb = fc.record({
        encoding: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0, 1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
        body: fc.uint8Array({ maxLength: 300 }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(bodyArb, { minLength: 1, maxLength: 20 }), async (items) => {
          const frames = await exchange(items.map((i) => frame(i.encoding, i.body)));
          // An unknown encoding byte is answered in JSON; 0 and 1 in their own encoding.
          items.forEach((item, i) => expect(frames[i]!.encoding).toBe(item.encoding === 1 ? 1 : 0));
        }),
        params(60),
      );
    },
    TIMEOUT,
  );

  it(
    'mutated JSON commands of every action (wrong types, missing and extra fields, deep nesting, huge numbers, damaged text)',
    async () => {
      const itemArb = fc.constantFrom(...COMMAND_CASES).chain((f) =>
        fc.record({
          cmd: jsonObjectArb(f.message!).map((data) => ({ action: f.name, data }) as Record<string, unknown>),
          ops: fc.array(jsonOpArb(fieldPaths(f.message!)), { maxLength: 3 }),
          text: textMutationsArb,
        }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(itemArb, { minLength: 1, maxLength: 8 }), async (items) => {
          await exchange(items.map((i) => frame(0, renderJson(i.cmd, i.ops, i.text))));
        }),
        params(80),
      );
    },
    TIMEOUT,
  );

  it(
    'JSON commands of every action with one field nested tens of thousands deep or a number of hundreds of digits',
    async () => {
      const itemArb = fc.constantFrom(...COMMAND_CASES).chain((f) =>
        fc.record({
          cmd: jsonObjectArb(f.message!).map((data) => ({ action: f.name, data }) as Record<string, unknown>),
          op: extremeOpArb(fieldPaths(f.message!)),
        }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(itemArb, { minLength: 1, maxLength: 4 }), async (items) => {
          await exchange(items.map((i) => frame(0, renderJson(i.cmd, [i.op], []))));
        }),
        params(60),
      );
    },
    TIMEOUT,
  );

  it(
    'mutated protobuf TCPCommands of every action (flipped, inserted, deleted bytes; random fields and wire types; overlong varints; lengths past the end)',
    async () => {
      const itemArb = fc.record({ bytes: pbCommandArb(COMMAND_CASES), muts: fc.oneof(fc.constant([]), mutationsArb) });
      await fc.assert(
        fc.asyncProperty(fc.array(itemArb, { minLength: 1, maxLength: 8 }), async (items) => {
          await exchange(items.map((i) => frame(1, mutate(i.bytes, i.muts))));
        }),
        params(100),
      );
    },
    TIMEOUT,
  );

  it(
    'an oversized or zero length prefix after good frames: their replies, one error frame in the encoding given, then a close',
    async () => {
      const arb = fc.record({
        before: fc.integer({ min: 0, max: 5 }),
        length: fc.oneof(fc.constant(0), fc.integer({ min: LIMITS.max_frame + 1, max: 2 ** 32 - 1 })),
        encoding: fc.integer({ min: 0, max: 255 }),
        tail: fc.uint8Array({ maxLength: 64 }),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ before, length, encoding, tail }) => {
          const conn = await FrameConn.open(server.ports.tcp);
          try {
            const good = Array.from({ length: before }, (_, i) => frame(0, JSON.stringify({ action: 'list_namespaces', request_id: `b${i}` })));
            const head = Buffer.alloc(5);
            head.writeUInt32BE(length, 0);
            head[4] = encoding;
            conn.socket.write(Buffer.concat([...good, head, tail]));
            await conn.untilClosed();
            expect(conn.leftover).toBe(0);
            expect(conn.frames).toHaveLength(before + 1);
            const replies = conn.frames.map(checkReply);
            replies.slice(0, before).forEach((r, i) => expect(r).toMatchObject({ status: 'ok', requestId: `b${i}` }));
            expect(conn.frames[before]!.encoding).toBe(encoding === 1 ? 1 : 0);
            expect(replies[before]!.error).toMatch(/^INVALID_ARGUMENT: frame length \d+(:| exceeds the maximum)/);
          } finally {
            conn.destroy();
          }
          server.assertAlive();
        }),
        params(40),
      );
    },
    TIMEOUT,
  );

  it(
    'a partial frame, then a half-close (every whole frame answered, then closed) or a reset',
    async () => {
      const arb = fc.record({
        whole: fc.integer({ min: 0, max: 5 }),
        partial: pbCommandArb(COMMAND_CASES),
        cut: fc.nat(),
        reset: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ whole, partial, cut, reset }) => {
          const conn = await FrameConn.open(server.ports.tcp);
          try {
            const good = Array.from({ length: whole }, (_, i) =>
              frame(0, JSON.stringify({ action: 'consume', request_id: `w${i}`, data: { namespace: 'nope', topic: 'nope' } })),
            );
            const torn = frame(1, partial);
            conn.socket.write(Buffer.concat([...good, torn.subarray(0, 1 + (cut % (torn.length - 1)))]));
            if (reset) {
              conn.socket.resetAndDestroy();
              return;
            }
            conn.socket.end();
            await conn.untilClosed();
            expect(conn.leftover).toBe(0);
            expect(conn.frames).toHaveLength(whole);
            conn.frames.map(checkReply).forEach((r, i) => expect(r).toMatchObject({ status: 'error', requestId: `w${i}`, error: expect.stringMatching(/^NOT_FOUND/) }));
          } finally {
            conn.destroy();
          }
          server.assertAlive();
        }),
        params(40),
      );
    },
    TIMEOUT,
  );

  it(
    'long pipelines of good and bad commands in one write: one reply per frame, in request order',
    async () => {
      const kindArb = fc.constantFrom('publish', 'consume', 'bad-json', 'unknown-action', 'wrong-type', 'bad-encoding');
      await fc.assert(
        fc.asyncProperty(fc.array(kindArb, { minLength: 100, maxLength: 1500 }), async (kinds) => {
          const frames = kinds.map((k, i) => {
            const rid = `p${i}`;
            const at = { namespace: PLAY_NS, topic: PLAY_TOPIC };
            switch (k) {
              case 'publish':
                return frame(0, JSON.stringify({ action: 'publish', request_id: rid, data: { ...at, payload: { i } } }));
              case 'consume':
                return frame(0, JSON.stringify({ action: 'consume', request_id: rid, data: { ...at, queue_id: i % 2, batch_size: 3, auto_ack: true } }));
              case 'bad-json':
                return frame(0, `{"action":"publish","request_id":"${rid}","data":{`);
              case 'unknown-action':
                return frame(0, JSON.stringify({ action: 'explode', request_id: rid }));
              case 'wrong-type':
                return frame(0, JSON.stringify({ action: 'ack', request_id: rid, data: { ...at, message_ids: [1, 2] } }));
              default:
                return frame(7, 'x');
            }
          });
          const got = await exchange(frames);
          expect(got).toHaveLength(frames.length + 1);
          const replies = got.map(checkReply);
          kinds.forEach((k, i) => {
            const r = replies[i]!;
            // Replies without a readable request id (malformed JSON, unknown encoding) still hold their place.
            if (k !== 'bad-json' && k !== 'bad-encoding') expect(r.requestId).toBe(`p${i}`);
            // Publish and consume on the playground may fail only if the fuzzer deleted it meanwhile.
            if (k === 'publish' || k === 'consume') expect(r.status === 'ok' || /^NOT_FOUND/.test(r.error)).toBe(true);
            else expect(r.status).toBe('error');
          });
        }),
        params(6),
      );
    },
    TIMEOUT,
  );

  it(
    'subscribe commands with random fields, in either encoding, then a close',
    async () => {
      const jsonSub = fc
        .record({ data: jsonObjectArb(SUBSCRIBE.message!), ops: fc.array(jsonOpArb(['namespace', 'topic', 'queue_id', 'auto_ack']), { maxLength: 2 }) })
        .map(({ data, ops }) => frame(0, renderJson({ action: 'subscribe', request_id: 's', data }, ops, [])));
      const pbSub = fc.record({ bytes: pbCommandArb([SUBSCRIBE]), muts: fc.oneof(fc.constant([]), mutationsArb) }).map(({ bytes, muts }) => frame(1, mutate(bytes, muts)));
      const playSub = fc
        .record({ queue: fc.integer({ min: -1, max: 3 }), autoAck: fc.boolean(), ns: nameArb })
        .map(({ queue, autoAck, ns }) => frame(0, JSON.stringify({ action: 'subscribe', data: { namespace: ns === '' ? PLAY_NS : ns, topic: PLAY_TOPIC, queue_id: queue, auto_ack: autoAck } })));
      await fc.assert(
        fc.asyncProperty(fc.oneof(jsonSub, pbSub, playSub), fc.boolean(), async (sub, reset) => {
          const conn = await FrameConn.open(server.ports.tcp);
          try {
            conn.socket.write(sub);
            await conn.until(() => conn.frames.length >= 1);
            expect(conn.frames.length).toBeGreaterThanOrEqual(1);
            conn.frames.forEach(checkReply);
            if (reset) conn.socket.resetAndDestroy();
          } finally {
            conn.destroy();
          }
          server.assertAlive();
        }),
        params(40),
      );
    },
    TIMEOUT,
  );

  it('after fuzzing: the server is up, every front answers, RSS stayed bounded, no pending message lost, no acked one back', async () => {
    await server.verifyAfter();
  });
});
