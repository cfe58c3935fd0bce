/**
 * The library floors of the gRPC and HTTP publish (`node
 * dist/bench/floor-server.js grpc|http`): what grpc-js and Hono on
 * @hono/node-server cost per request with nothing of ours in the handler,
 * served in a child process of its own so that its CPU can be read apart.
 *
 * - grpc: one unary method on the broker's path `/mqlite.v1.MQLiteService/Publish`
 *   with the same protobuf-es codecs (src/protocol/grpc-definition.ts); the
 *   handler answers a fixed PublishResponse.
 * - http: one Hono route `POST /v1/namespaces/:namespace/topics/:topic/publish`
 *   that reads the JSON body (`c.req.json()`) and answers the envelope of a
 *   publish as JSON text.
 * - tcp: a `net` server that splits the length-prefixed frames
 *   (docs/PROTOCOL.md, "Frame layout") and answers each with the same protobuf
 *   publish reply, the replies of one read in one write: what Node's own
 *   sockets cost per request, the floor of any server written on them.
 *
 * - push: the same `net` server relaying: a `subscribe` frame makes its
 *   connection the subscriber (answered "subscribed"); each publish frame is
 *   answered, as the broker does for an idle queue, by a push frame to the
 *   subscriber and then the publish reply, each its own write. The frames
 *   are decoded with the broker's own protobuf decoder and the push is a
 *   fixed frame of a 1 KiB message: what a push costs in latency on Node's
 *   sockets with no queue behind it (bench/push.ts).
 *
 * All answer what the typed clients expect, so the same client drives the
 * floor and the broker. Prints `{"port": N}` once listening; on SIGUSR2
 * prints `{"gc_seconds": S}`, the time spent in GC so far (as the broker's
 * `nodejs_gc_duration_seconds` counts it); SIGTERM ends it.
 */
import { create } from '@bufbuild/protobuf';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createServer, type Socket } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import { PublishResponseSchema } from '../gen/mqlite/v1/mqlite_pb.js';
import { mqliteServiceDefinition } from '../src/protocol/grpc-definition.js';
import { ENCODING_PROTOBUF, FrameReader, FrameWriter, ReadResult } from '../src/protocol/frame.js';
import { publish, subscribe } from '../src/server/commands/messages.js';
import { decodePbCommand } from '../src/server/tcp/pb-codec.js';
import { writeOk, writePush } from '../src/server/tcp/reply.js';

const MESSAGE_ID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

/** The bytes of one frame written by `write`. */
function frameOf(write: (out: FrameWriter) => void): Buffer {
  const out = new FrameWriter();
  write(out);
  return Buffer.concat(out.take());
}

/** The protobuf reply to a publish, as the TCP and push floors answer every one. */
const PUBLISH_REPLY = frameOf((out) => writeOk(out, ENCODING_PROTOBUF, undefined, publish, { messageId: MESSAGE_ID, queueId: 0 }));

function ready(port: number): void {
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

async function grpcFloor(): Promise<void> {
  const server = new Server({ 'grpc.enable_channelz': 0 });
  const response = create(PublishResponseSchema, { messageId: MESSAGE_ID, queueId: 0 });
  server.addService(
    { publish: mqliteServiceDefinition.publish },
    { publish: (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => callback(null, response) },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  process.once('SIGTERM', () => server.forceShutdown());
  ready(port);
}

function httpFloor(): void {
  const app = new Hono();
  const reply = `{"success":true,"data":{"message_id":"${MESSAGE_ID}","queue_id":0}}`;
  app.post('/v1/namespaces/:namespace/topics/:topic/publish', async (c) => {
    const body = (await c.req.json()) as { payload?: unknown };
    if (body.payload === undefined) return c.body('{"success":false,"message":"payload is required"}', 400, { 'content-type': 'application/json' });
    return c.body(reply, 200, { 'content-type': 'application/json' });
  });
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => ready(info.port));
  process.once('SIGTERM', () => server.close());
}

function tcpFloor(): void {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    // Bytes of the frame being read that are still to come (its 4-byte length prefix included).
    let carry = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      let frames = 0;
      let pos = 0;
      while (buf.length - pos >= 4) {
        const len = buf.readUInt32BE(pos);
        if (buf.length - pos - 4 < len) break;
        pos += 4 + len;
        frames++;
      }
      carry = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
      if (frames === 1) socket.write(PUBLISH_REPLY);
      else if (frames > 1) socket.write(Buffer.concat(Array.from({ length: frames }, () => PUBLISH_REPLY)));
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => ready((server.address() as { port: number }).port));
  process.once('SIGTERM', () => server.close());
}

function pushFloor(): void {
  const message = { id: MESSAGE_ID, namespace: 'bench', topic: 'push', queueId: 0, payload: Buffer.alloc(1024, 'x'), timestampMs: Date.now(), headers: undefined, deliveryCount: 1 };
  let subscriber: { socket: Socket; push: Buffer } | undefined;
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const reader = new FrameReader(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      let r: ReadResult;
      while ((r = reader.next()) === ReadResult.Frame) {
        const req = decodePbCommand(reader.buf, reader.start, reader.end);
        if (req.op === subscribe) {
          subscriber = { socket, push: frameOf((out) => writePush(out, ENCODING_PROTOBUF, req.requestId, message)) };
          socket.write(frameOf((out) => writeOk(out, ENCODING_PROTOBUF, req.requestId, subscribe, undefined)));
        } else if (req.op === publish) {
          subscriber?.socket.write(subscriber.push);
          socket.write(PUBLISH_REPLY);
        } else socket.destroy(new Error('the push floor takes subscribe and publish frames only'));
      }
      if (r !== ReadResult.NeedMore) socket.destroy();
    });
    socket.on('close', () => {
      if (subscriber?.socket === socket) subscriber = undefined;
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => ready((server.address() as { port: number }).port));
  process.once('SIGTERM', () => server.close());
}

let gcSeconds = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcSeconds += e.duration / 1000;
}).observe({ entryTypes: ['gc'] });
process.on('SIGUSR2', () => process.stdout.write(`${JSON.stringify({ gc_seconds: gcSeconds })}\n`));

const mode = process.argv[2];
if (mode === 'grpc') await grpcFloor();
else if (mode === 'http') httpFloor();
else if (mode === 'tcp') tcpFloor();
else if (mode === 'push') pushFloor();
else {
  process.stderr.write(`floor-server: mode '${mode}' is unknown: give grpc, http, tcp or push\n`);
  process.exit(2);
}
