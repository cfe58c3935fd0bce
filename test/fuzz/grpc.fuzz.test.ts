/**
 * Hostile input on the gRPC front (docs/PROTOCOL.md "gRPC",
 * src/server/grpc/README.md): every method of mqlite.v1.MQLiteService
 * called through a generic grpc-js client with raw bytes (random bytes,
 * and valid requests encoded with the gen/ types then mutated), the
 * Subscribe stream likewise, unknown methods, and raw HTTP/2 requests
 * whose gRPC message framing lies. A bad request ends with a status such
 * as INVALID_ARGUMENT or NOT_FOUND and a message, never INTERNAL or
 * UNKNOWN, never a hang; the server process stays up, its RSS bounded,
 * and the messages of the secret namespace are untouched (harness.ts).
 */
import { type DescMethod, fromBinary } from '@bufbuild/protobuf';
import { type Client, Metadata, status } from '@grpc/grpc-js';
import { connect as h2connect, constants as h2 } from 'node:http2';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MQLiteService } from '../../gen/mqlite/v1/mqlite_pb.js';
import { type FuzzServer, LIMITS, encodedArb, mutate, mutationsArb, params, startFuzzServer, rawGrpcClient, unaryRaw } from './harness.js';

const TIMEOUT = process.env.FUZZ_RUNS ? 3_600_000 : 60_000;

let server: FuzzServer;
let client: Client;
beforeAll(async () => {
  server = await startFuzzServer();
  client = rawGrpcClient(server.ports.grpc);
});
afterAll(async () => {
  client?.close();
  await server?.stop();
});

const UNARY = MQLiteService.methods.filter((m) => m.methodKind === 'unary');
const SUBSCRIBE = MQLiteService.methods.find((m) => m.name === 'Subscribe')!;
const pathOf = (m: DescMethod): string => `/${MQLiteService.typeName}/${m.name}`;

/** Statuses a bad request may end with: the broker's table (docs/PROTOCOL.md) and grpc-js's size limit. */
const CLIENT_ERRORS = new Set([
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.FAILED_PRECONDITION,
  status.RESOURCE_EXHAUSTED,
  status.OUT_OF_RANGE,
]);

/** The request's bytes: random, a valid request of the method, or a mutated one; sometimes over the size limit. */
function requestBytesArb(m: DescMethod): fc.Arbitrary<Buffer> {
  return fc
    .oneof(
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }) },
      { weight: 4, arbitrary: encodedArb(m.input) },
      { weight: 4, arbitrary: fc.tuple(encodedArb(m.input), mutationsArb).map(([b, muts]) => mutate(b, muts)) },
      { weight: 1, arbitrary: fc.integer({ min: LIMITS.max_frame + 1, max: LIMITS.max_frame * 2 }).map((n) => new Uint8Array(n)) },
    )
    .map((b) => Buffer.from(b));
}

/** A unary call's outcome must be a decodable response or a client-error status with a message. */
async function callAndCheck(m: DescMethod, body: Buffer): Promise<void> {
  const r = await unaryRaw(client, pathOf(m), body);
  if (r.err === null) {
    expect(() => fromBinary(m.output, r.body!)).not.toThrow();
    return;
  }
  expect(CLIENT_ERRORS.has(r.err.code), `${m.name} ended with ${status[r.err.code]}: ${r.err.details}`).toBe(true);
  expect(r.err.details.length, `${m.name}: a status with a message`).toBeGreaterThan(0);
}

describe('gRPC front under hostile input', () => {
  it(
    'every unary method with random, valid and mutated request bytes, several calls at once: a response or a client-error status with a message',
    async () => {
      const callArb = fc.constantFrom(...UNARY).chain((m) => requestBytesArb(m).map((body) => ({ method: m.name, body })));
      const byName = new Map(UNARY.map((m) => [m.name, m]));
      await fc.assert(
        fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 8 }), async (calls) => {
          await server.ensurePlayground();
          await Promise.all(calls.map((c) => callAndCheck(byName.get(c.method)!, c.body)));
          server.assertAlive();
        }),
        params(100),
      );
    },
    TIMEOUT,
  );

  it(
    'Subscribe with random, valid and mutated request bytes: a client-error status, or a stream that ends cleanly when cancelled',
    async () => {
      await fc.assert(
        fc.asyncProperty(requestBytesArb(SUBSCRIBE), async (body) => {
          await server.ensurePlayground();
          const identity = (b: Buffer): Buffer => b;
          const call = client.makeServerStreamRequest(pathOf(SUBSCRIBE), identity, identity, body, new Metadata(), { deadline: Date.now() + 15_000 });
          const outcome = await new Promise<{ code: number; details: string; data: number }>((resolve) => {
            let data = 0;
            call.on('data', (b: Buffer) => {
              expect(() => fromBinary(SUBSCRIBE.output, b)).not.toThrow();
              data++;
            });
            call.on('error', () => {});
            call.on('status', (s) => resolve({ code: s.code, details: s.details, data }));
            // A subscription that was accepted stays open: let it run a moment, then leave.
            setTimeout(() => call.cancel(), 200);
          });
          if (outcome.code !== status.CANCELLED) {
            expect(CLIENT_ERRORS.has(outcome.code), `Subscribe ended with ${status[outcome.code]}: ${outcome.details}`).toBe(true);
            expect(outcome.details.length).toBeGreaterThan(0);
          }
          server.assertAlive();
        }),
        params(60),
      );
    },
    TIMEOUT,
  );

  it(
    'unknown methods and services: UNIMPLEMENTED with a message',
    async () => {
      const pathArb = fc.oneof(
        fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }).map((s) => `/${MQLiteService.typeName}/${s.replace(/[^A-Za-z0-9]/g, 'x')}`),
        fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }).map((s) => `/x.${s.replace(/[^A-Za-z0-9]/g, 'y')}/Publish`),
      );
      await fc.assert(
        fc.asyncProperty(pathArb, fc.uint8Array({ maxLength: 64 }), async (path, body) => {
          fc.pre(!MQLiteService.methods.some((m) => pathOf(m) === path));
          const r = await unaryRaw(client, path, Buffer.from(body));
          expect(r.err?.code).toBe(status.UNIMPLEMENTED);
          expect(r.err!.details.length).toBeGreaterThan(0);
          server.assertAlive();
        }),
        params(30),
      );
    },
    TIMEOUT,
  );

  it(
    'raw HTTP/2 requests whose gRPC message framing lies (length prefix, compression flag, extra bytes): a status in the trailers, never a hang',
    async () => {
      const arb = fc.record({
        method: fc.constantFrom(...MQLiteService.methods),
        compressed: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }) }),
        declared: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
        body: fc.uint8Array({ maxLength: 256 }),
        trailing: fc.uint8Array({ maxLength: 8 }),
        contentType: fc.constantFrom('application/grpc', 'application/grpc+proto', 'application/json', 'text/plain'),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ method, compressed, declared, body, trailing, contentType }) => {
          const prefix = Buffer.alloc(5);
          prefix[0] = compressed;
          prefix.writeUInt32BE(declared === -1 ? body.length : declared, 1);
          const session = h2connect(`http://127.0.0.1:${server.ports.grpc}`);
          session.on('error', () => {});
          try {
            const outcome = await new Promise<{ httpStatus: number; grpcStatus: string | undefined; message: string | undefined; reset: boolean }>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error('server hung: no status within 15 s')), 15_000);
              const req = session.request({
                [h2.HTTP2_HEADER_METHOD]: 'POST',
                [h2.HTTP2_HEADER_PATH]: pathOf(method),
                [h2.HTTP2_HEADER_CONTENT_TYPE]: contentType,
                te: 'trailers',
              });
              let httpStatus = 0;
              let grpcStatus: string | undefined;
              let message: string | undefined;
              const take = (h: Record<string, unknown>): void => {
                if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
                if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
              };
              req.on('response', (h) => {
                httpStatus = Number(h[':status']);
                take(h);
              });
              req.on('trailers', take);
              req.on('data', () => {});
              const done = (reset: boolean): void => {
                clearTimeout(timer);
                resolve({ httpStatus, grpcStatus, message, reset });
              };
              req.on('end', () => done(false));
              req.on('error', () => done(true));
              req.on('close', () => done(req.rstCode !== h2.NGHTTP2_NO_ERROR));
              // A subscription that was accepted stays open: end the request body, and cancel if nothing came back.
              req.end(Buffer.concat([prefix, body, trailing]));
              if (method.methodKind === 'server_streaming') setTimeout(() => req.close(h2.NGHTTP2_CANCEL), 200);
            });
            server.assertAlive();
            if (outcome.reset && outcome.grpcStatus === undefined) return; // a stream reset by either side (our cancel)
            // Not gRPC at all: grpc-js answers HTTP 415 Unsupported Media Type, as the gRPC spec allows.
            if (!contentType.startsWith('application/grpc')) {
              expect(outcome.httpStatus).toBe(415);
              return;
            }
            expect(outcome.grpcStatus, `HTTP ${outcome.httpStatus}: no grpc-status`).toBeDefined();
            const code = Number(outcome.grpcStatus);
            if (code !== status.OK) expect(outcome.message?.length ?? 0, `${status[code]} without a message`).toBeGreaterThan(0);
            expect(code, `${method.name} ended with ${status[code]}: ${outcome.message}`).not.toBe(status.UNKNOWN);
            // grpc-js answers a set compression flag without an agreed encoding with INTERNAL (gRPC's spec says so);
            // everything else that reaches the service must be a client error.
            if (compressed === 0 && contentType.startsWith('application/grpc')) expect(code, `${method.name}: ${outcome.message}`).not.toBe(status.INTERNAL);
          } finally {
            session.destroy();
          }
        }),
        params(60),
      );
    },
    TIMEOUT,
  );

  it('after fuzzing: the server is up, every front answers, RSS stayed bounded, no pending message lost, no acked one back', async () => {
    await server.verifyAfter();
  });
});
