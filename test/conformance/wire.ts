/**
 * The conformance suite's four wire adapters: one broker with its three
 * fronts on port 0, and a way to send one neutral step (an operation and
 * its arguments in the proto's snake_case shape) over TCP JSON, TCP
 * protobuf, HTTP or gRPC, reading the answer back into one neutral
 * outcome. Each adapter builds its request at the wire (raw frames,
 * `fetch`, a generic grpc-js client over protobuf-es messages), never
 * through `src/client`, so that no client papers over a front's answer.
 *
 * Contracts: docs/PROTOCOL.md, "TCP framing", "HTTP (REST + SSE)" and
 * "gRPC"; the per-front READMEs; `proto/mqlite/v1/mqlite.proto`.
 */
import {
  type DescField,
  type DescMessage,
  type DescMethod,
  type JsonValue,
  ScalarType,
  create,
  fromBinary,
  toBinary,
  toJson,
} from '@bufbuild/protobuf';
import { type Client, type ServiceError, status as grpcStatus } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Broker, type Limits } from '../../src/broker/broker.js';
import type { FrontHandle } from '../../src/server/front.js';
import { startGrpcServer } from '../../src/server/grpc/index.js';
import { startHttpServer } from '../../src/server/http/index.js';
import { startTcpServer } from '../../src/server/tcp/index.js';
import { MQLiteService, TCPCommandSchema, TCPResponseSchema } from '../../gen/mqlite/v1/mqlite_pb.js';
import { rawGrpcClient } from '../fuzz/harness.js';
import { RawClient, frame } from '../tcp/helpers.js';

export type Encoding = 'tcp-json' | 'tcp-protobuf' | 'http' | 'grpc';
export const ENCODINGS: readonly Encoding[] = ['tcp-json', 'tcp-protobuf', 'http', 'grpc'];

/** Every unary operation, by its TCP action name (the gRPC method is its PascalCase). */
export type Op =
  | 'create_namespace'
  | 'delete_namespace'
  | 'list_namespaces'
  | 'create_topic'
  | 'delete_topic'
  | 'list_topics'
  | 'resize_topic'
  | 'rebalance_topic'
  | 'publish'
  | 'consume'
  | 'ack'
  | 'publish_batch'
  | 'nack'
  | 'renew_lease'
  | 'peek'
  | 'consume_dlq'
  | 'redrive_dlq'
  | 'set_topic_policy'
  | 'get_topic_stats'
  | 'pause_topic'
  | 'resume_topic'
  | 'purge'
  /**
   * A subscription read for its first `take` messages, then closed: args
   * `{ namespace, topic, queue_id, auto_ack, take }`; the answer is
   * `{ messages }`, or the error that refused it.
   */
  | 'subscribe';

export type Args = Record<string, unknown>;

/**
 * A raw answer, before normalization: `ok` with the reply's data in
 * snake_case (JSON fronts: the `data` as sent; protobuf fronts: the response
 * message through `toJson` with proto field names and defaults), or the
 * broker's error code and message. HTTP cannot tell ALREADY_EXISTS from
 * FAILED_PRECONDITION (both 409), so its `codes` lists every code its
 * status stands for.
 */
export type Raw = { ok: true; data: unknown } | { ok: false; codes: string[]; message: string; wire: string };

/** The limits of the broker under test: small, so that max and max+1 are cheap to reach. */
export const LIMITS = { maxBatch: 5, maxQueuesPerTopic: 8, maxHeaders: 4 } satisfies Partial<Limits>;

const silent = pino({ level: 'silent' });

export interface Fronts {
  broker: Broker;
  send(enc: Encoding, op: Op, args: Args): Promise<Raw>;
  stop(): Promise<void>;
}

/** One broker, its three fronts on port 0, and one connection per encoding. */
export async function startFronts(): Promise<Fronts> {
  const broker = new Broker({ ackTimeoutMs: 30_000, limits: LIMITS, logger: silent });
  const tcp = await startTcpServer(broker, { host: '127.0.0.1', port: 0, maxFrameBytes: 1024 * 1024, logger: silent });
  const http = await startHttpServer(broker, {
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1024 * 1024,
    sseHeartbeatMs: 15_000,
    sseMaxInflight: 100,
    logger: silent,
  });
  const grpc = await startGrpcServer(broker, { host: '127.0.0.1', port: 0, maxMessageBytes: 1024 * 1024, logger: silent });
  const jsonSocket = await RawClient.open(tcp.port);
  const pbSocket = await RawClient.open(tcp.port);
  const grpcClient = rawGrpcClient(grpc.port);
  const base = `http://127.0.0.1:${http.port}`;
  const fronts: FrontHandle[] = [tcp, http, grpc];
  return {
    broker,
    send(enc, op, args) {
      if (op === 'subscribe') {
        const { take, ...rest } = args;
        const n = Number(take ?? 1);
        switch (enc) {
          case 'tcp-json':
            return subscribeTcpJson(tcp.port, rest, n);
          case 'tcp-protobuf':
            return subscribeTcpProtobuf(tcp.port, rest, n);
          case 'http':
            return subscribeSse(base, rest, n);
          case 'grpc':
            return subscribeGrpc(grpcClient, rest, n);
        }
      }
      switch (enc) {
        case 'tcp-json':
          return sendTcpJson(jsonSocket, op, args);
        case 'tcp-protobuf':
          return sendTcpProtobuf(pbSocket, op, args);
        case 'http':
          return sendHttp(base, op, args);
        case 'grpc':
          return sendGrpc(grpcClient, op, args);
      }
    },
    async stop() {
      jsonSocket.close();
      pbSocket.close();
      grpcClient.close();
      for (const f of fronts) await f.close();
      await broker.close();
    },
  };
}

// ---------------------------------------------------------------- neutral values

/**
 * A payload is written as a JSON value: the JSON fronts send it as is (they
 * store its JSON text), the protobuf fronts send the bytes of
 * `JSON.stringify(value)`, so every front stores the same bytes.
 */
export function payloadBytes(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** JSON `null` is the same as absent (the edge-value rule: src/server/tcp/README.md, "Queue features"): the protobuf fronts leave it out. */
function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

// ---------------------------------------------------------------- TCP JSON

function tcpCode(reason: string): { codes: string[]; message: string } {
  const m = /^([A-Z_]+): ([\s\S]*)$/.exec(reason);
  return m ? { codes: [m[1]!], message: m[2]! } : { codes: ['NO_CODE'], message: reason };
}

async function sendTcpJson(c: RawClient, op: Op, args: Args): Promise<Raw> {
  const data: Args = {};
  for (const [k, v] of Object.entries(args)) if (v !== undefined) data[k] = v;
  const reply = await c.jsonCall({ action: op, data });
  if (reply.status === 'ok') return { ok: true, data: reply.data };
  return { ok: false, ...tcpCode(String(reply.error)), wire: JSON.stringify(reply) };
}

// ---------------------------------------------------------------- protobuf (TCP and gRPC)

const pascal = (op: string): string => op.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
const camel = (op: string): string => op.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function methodOf(op: Op): DescMethod {
  const m = MQLiteService.methods.find((x) => x.name === pascal(op));
  if (!m) throw new Error(`no gRPC method for ${op}`);
  return m;
}

function enumValue(f: DescField & { fieldKind: 'enum' }, v: unknown): number {
  if (typeof v === 'number') return v;
  const name = String(v).toUpperCase();
  const value = f.enum.values.find((e) => e.name.endsWith(`_${name}`));
  if (!value) throw new Error(`enum ${f.enum.typeName} has no value ${String(v)}`);
  return value.number;
}

function scalarInit(t: ScalarType, v: unknown, what: string): unknown {
  switch (t) {
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return BigInt(v as number);
    case ScalarType.BYTES:
      return payloadBytes(v);
    default:
      if (typeof v === 'object') throw new Error(`${what}: a scalar field given ${JSON.stringify(v)}`);
      return v;
  }
}

/** The protobuf-es init of `schema` from neutral snake_case args; unknown keys are a scenario bug. */
export function pbInit(schema: DescMessage, args: Args): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    const f = schema.fields.find((x) => x.name === k);
    if (!f) throw new Error(`${schema.typeName} has no field ${k}`);
    if (!present(v)) continue;
    const what = `${schema.typeName}.${k}`;
    switch (f.fieldKind) {
      case 'scalar':
        init[f.localName] = scalarInit(f.scalar, v, what);
        break;
      case 'enum':
        init[f.localName] = enumValue(f, v);
        break;
      case 'message':
        init[f.localName] = pbInit(f.message, v as Args);
        break;
      case 'list':
        init[f.localName] = (v as unknown[]).map((x) =>
          f.listKind === 'message' ? pbInit(f.message, x as Args) : f.listKind === 'scalar' ? scalarInit(f.scalar, x, what) : x,
        );
        break;
      case 'map':
        init[f.localName] = v;
        break;
    }
  }
  return init;
}

/** A protobuf response as the JSON fronts' snake_case shape: proto names, defaults shown, int64 as numbers. */
function pbData(schema: DescMessage, msg: unknown): unknown {
  const json = toJson(schema, msg as never, { useProtoFieldName: true, alwaysEmitImplicit: true });
  return numbersAndBytes(json, schema);
}

/**
 * `toJson` writes int64 as strings and bytes as base64. The neutral form
 * takes int64 as numbers and a payload as the JSON value its bytes hold (as
 * the JSON fronts show it), or `{ $base64 }` when they hold no JSON.
 */
function numbersAndBytes(v: JsonValue, schema: DescMessage | undefined): unknown {
  if (Array.isArray(v)) return v.map((x) => numbersAndBytes(x, schema));
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const f = schema?.fields.find((y) => y.name === k);
    if (!f) {
      out[k] = x;
      continue;
    }
    if ((f.fieldKind === 'scalar' || f.fieldKind === 'list') && f.scalar !== undefined && f.scalar === ScalarType.BYTES) {
      out[k] = bytesAsShown(Buffer.from(x as string, 'base64'));
    } else if ((f.fieldKind === 'scalar' || f.fieldKind === 'list') && typeof x === 'string' && isInt64(f.scalar)) {
      out[k] = Number(x);
    } else if (f.fieldKind === 'list' && f.listKind === 'scalar' && isInt64(f.scalar)) {
      out[k] = (x as string[]).map(Number);
    } else if (f.fieldKind === 'message' || (f.fieldKind === 'list' && f.listKind === 'message')) {
      out[k] = numbersAndBytes(x, f.message);
    } else {
      out[k] = x;
    }
  }
  return out;
}

function isInt64(t: ScalarType | undefined): boolean {
  return t === ScalarType.INT64 || t === ScalarType.UINT64 || t === ScalarType.SINT64 || t === ScalarType.FIXED64 || t === ScalarType.SFIXED64;
}

export function bytesAsShown(b: Buffer): unknown {
  const text = b.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return { $base64: b.toString('base64') };
  }
}

async function sendTcpProtobuf(c: RawClient, op: Op, args: Args): Promise<Raw> {
  const m = methodOf(op);
  const value = create(m.input, pbInit(m.input, args) as never);
  const cmd = create(TCPCommandSchema, { action: op, data: { case: camel(op), value } as never });
  c.write(frame(1, toBinary(TCPCommandSchema, cmd)));
  const reply = await c.pb();
  if (reply.status !== 'ok') return { ok: false, ...tcpCode(reply.error), wire: JSON.stringify(toJson(TCPResponseSchema, reply)) };
  if (reply.data.case !== `${camel(op)}Response`) throw new Error(`${op}: a reply with data case ${String(reply.data.case)}`);
  return { ok: true, data: pbData(m.output, reply.data.value) };
}

async function sendGrpc(client: Client, op: Op, args: Args): Promise<Raw> {
  const m = methodOf(op);
  const body = Buffer.from(toBinary(m.input, create(m.input, pbInit(m.input, args) as never)));
  const identity = (b: Buffer): Buffer => b;
  const res = await new Promise<{ err: ServiceError | null; body?: Buffer }>((resolve) => {
    client.makeUnaryRequest(`/${MQLiteService.typeName}/${m.name}`, identity, identity, body, { deadline: Date.now() + 10_000 }, (err, r) =>
      resolve({ err: err ?? null, body: r }),
    );
  });
  if (res.err) {
    const name = grpcStatus[res.err.code] ?? `GRPC_${res.err.code}`;
    return { ok: false, codes: [name], message: res.err.details, wire: `${name}: ${res.err.details}` };
  }
  return { ok: true, data: pbData(m.output, fromBinary(m.output, res.body!)) };
}

// ---------------------------------------------------------------- HTTP

/** The status table of src/server/http/README.md, read backwards. */
const CODES_OF_STATUS: Record<number, string[]> = {
  400: ['INVALID_ARGUMENT'],
  401: ['UNAUTHENTICATED'],
  403: ['PERMISSION_DENIED'],
  404: ['NOT_FOUND'],
  409: ['ALREADY_EXISTS', 'FAILED_PRECONDITION'],
  413: ['RESOURCE_EXHAUSTED'],
  429: ['RESOURCE_EXHAUSTED'],
  503: ['UNAVAILABLE'],
};

const seg = (v: unknown): string => encodeURIComponent(String(v));

interface HttpRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** The fields that go in the body (or the query string of a GET). */
  rest: Args;
}

/** Takes the path parameters out of `args`; what is left is the body. */
function httpRoute(op: Op, args: Args): HttpRoute {
  const { namespace, topic, name, queue_id, ...rest } = args;
  const t = `/v1/namespaces/${seg(namespace)}/topics/${seg(topic)}`;
  const q = `${t}/queues/${seg(queue_id ?? 0)}`;
  switch (op) {
    case 'create_namespace':
      return { method: 'POST', path: '/v1/namespaces', rest: { name, ...rest } };
    case 'delete_namespace':
      return { method: 'DELETE', path: `/v1/namespaces/${seg(name)}`, rest };
    case 'list_namespaces':
      return { method: 'GET', path: '/v1/namespaces', rest };
    case 'create_topic':
      return { method: 'POST', path: `/v1/namespaces/${seg(namespace)}/topics`, rest: { name, ...rest } };
    case 'delete_topic':
      return { method: 'DELETE', path: `/v1/namespaces/${seg(namespace)}/topics/${seg(name)}`, rest };
    case 'list_topics':
      return { method: 'GET', path: `/v1/namespaces/${seg(namespace)}/topics`, rest };
    case 'resize_topic':
      return { method: 'PUT', path: `/v1/namespaces/${seg(namespace)}/topics/${seg(name)}/resize`, rest };
    case 'rebalance_topic':
      return { method: 'POST', path: `/v1/namespaces/${seg(namespace)}/topics/${seg(name)}/rebalance`, rest };
    case 'publish':
      return { method: 'POST', path: `${t}/publish`, rest: queue_id === undefined ? rest : { ...rest, queue_id } };
    case 'publish_batch':
      return { method: 'POST', path: `${t}/publish-batch`, rest };
    case 'consume':
      return { method: 'POST', path: `${q}/consume`, rest };
    case 'ack':
      return { method: 'POST', path: `${q}/ack`, rest };
    case 'nack':
      return { method: 'POST', path: `${q}/nack`, rest };
    case 'renew_lease':
      return { method: 'POST', path: `${q}/renew`, rest };
    case 'peek': {
      const { dlq, ...query } = rest;
      return { method: 'GET', path: dlq === true ? `${t}/dlq` : `${q}/peek`, rest: query };
    }
    case 'consume_dlq':
      return { method: 'POST', path: `${t}/dlq/consume`, rest };
    case 'redrive_dlq':
      return { method: 'POST', path: `${t}/dlq/redrive`, rest };
    case 'set_topic_policy':
      return { method: 'PUT', path: `${t}/policy`, rest };
    case 'get_topic_stats':
      return { method: 'GET', path: `${t}/stats`, rest };
    case 'pause_topic':
      return { method: 'POST', path: `${t}/pause`, rest };
    case 'resume_topic':
      return { method: 'POST', path: `${t}/resume`, rest };
    case 'purge':
      // queue_id, when given, is a body field here (the route names the topic only).
      return { method: 'POST', path: `${t}/purge`, rest: queue_id === undefined ? rest : { ...rest, queue_id } };
    case 'subscribe':
      return { method: 'GET', path: `${q}/subscribe`, rest };
  }
}

/** Routes whose body is optional (src/server/http/README.md): with no field to send, they get no body at all. */
const BODY_OPTIONAL = new Set<Op>(['consume', 'consume_dlq', 'redrive_dlq', 'pause_topic', 'resume_topic', 'purge', 'rebalance_topic', 'delete_namespace', 'delete_topic', 'list_namespaces', 'list_topics']);

async function sendHttp(base: string, op: Op, args: Args): Promise<Raw> {
  const r = httpRoute(op, args);
  let url = base + r.path;
  const init: RequestInit = { method: r.method };
  const fields = Object.entries(r.rest).filter(([, v]) => v !== undefined);
  if (r.method === 'GET') {
    const qs = new URLSearchParams();
    for (const [k, v] of fields) if (v !== null) qs.set(k, String(v));
    if ([...qs].length > 0) url += `?${qs.toString()}`;
  } else if (fields.length > 0 || !BODY_OPTIONAL.has(op)) {
    init.body = JSON.stringify(Object.fromEntries(fields));
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let env: { success?: boolean; message?: string; data?: unknown } = {};
  try {
    env = JSON.parse(text);
  } catch {
    // not JSON: reported below with the text
  }
  if (res.status < 300 && env.success === true) return { ok: true, data: env.data ?? env.message };
  return {
    ok: false,
    codes: CODES_OF_STATUS[res.status] ?? [`HTTP_${res.status}`],
    message: env.message ?? text,
    wire: `${res.status} ${text}`,
  };
}

// ---------------------------------------------------------------- subscribe

/** How long a subscription may take to give its messages (or its refusal) before the step fails. */
const SUBSCRIBE_WAIT_MS = 3000;

function subscribeTimeout(what: string, got: number, take: number): Error {
  return new Error(`${what}: ${got} of ${take} messages within ${SUBSCRIBE_WAIT_MS} ms`);
}

/** TCP JSON: `"subscribed"`, then one `{status: "ok", data: Message}` frame per message, on a connection of its own. */
async function subscribeTcpJson(port: number, args: Args, take: number): Promise<Raw> {
  const c = await RawClient.open(port);
  try {
    const data: Args = {};
    for (const [k, v] of Object.entries(args)) if (v !== undefined) data[k] = v;
    const first = await c.jsonCall({ action: 'subscribe', data });
    if (first.status !== 'ok') return { ok: false, ...tcpCode(String(first.error)), wire: JSON.stringify(first) };
    const messages: unknown[] = [];
    while (messages.length < take) {
      const f = await c.json(SUBSCRIBE_WAIT_MS).catch(() => {
        throw subscribeTimeout('TCP JSON subscribe', messages.length, take);
      });
      if (f.status !== 'ok') return { ok: false, ...tcpCode(String(f.error)), wire: JSON.stringify(f) };
      messages.push(f.data);
    }
    return { ok: true, data: messages };
  } finally {
    c.close();
  }
}

/** TCP protobuf: `TCPResponse{status: "ok"}` with no data, then one `subscribe_message` frame per message. */
async function subscribeTcpProtobuf(port: number, args: Args, take: number): Promise<Raw> {
  const c = await RawClient.open(port);
  try {
    const m = methodOf('subscribe');
    const value = create(m.input, pbInit(m.input, args) as never);
    c.write(frame(1, toBinary(TCPCommandSchema, create(TCPCommandSchema, { action: 'subscribe', data: { case: 'subscribe', value } as never }))));
    const first = await c.pb();
    if (first.status !== 'ok') return { ok: false, ...tcpCode(first.error), wire: JSON.stringify(toJson(TCPResponseSchema, first)) };
    const messages: unknown[] = [];
    while (messages.length < take) {
      const f = await c.pb(SUBSCRIBE_WAIT_MS).catch(() => {
        throw subscribeTimeout('TCP protobuf subscribe', messages.length, take);
      });
      if (f.status !== 'ok') return { ok: false, ...tcpCode(f.error), wire: JSON.stringify(toJson(TCPResponseSchema, f)) };
      if (f.data.case !== 'subscribeMessage') throw new Error(`a subscription frame with data case ${String(f.data.case)}`);
      messages.push(pbData(m.output, f.data.value));
    }
    return { ok: true, data: { messages } };
  } finally {
    c.close();
  }
}

/** HTTP: SSE; a refusal is an ordinary JSON reply with its status. */
async function subscribeSse(base: string, args: Args, take: number): Promise<Raw> {
  const r = httpRoute('subscribe', args);
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(r.rest)) if (v !== undefined && v !== null) qs.set(k, String(v));
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), SUBSCRIBE_WAIT_MS);
  const messages: unknown[] = [];
  try {
    const res = await fetch(`${base}${r.path}${[...qs].length > 0 ? `?${qs.toString()}` : ''}`, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
    if (res.status !== 200) {
      const text = await res.text();
      let message = text;
      try {
        message = JSON.parse(text).message ?? text;
      } catch {
        // not JSON: the text is the reason
      }
      return { ok: false, codes: CODES_OF_STATUS[res.status] ?? [`HTTP_${res.status}`], message, wire: `${res.status} ${text}` };
    }
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    while (messages.length < take) {
      const chunk = await reader.read().catch(() => {
        throw subscribeTimeout('SSE subscribe', messages.length, take);
      });
      if (chunk.done) throw new Error(`the SSE stream ended after ${messages.length} of ${take} messages: ${buf}`);
      buf += decoder.decode(chunk.value, { stream: true });
      for (let end = buf.indexOf('\n\n'); end >= 0 && messages.length < take; end = buf.indexOf('\n\n')) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const type = /^event: (.*)$/m.exec(event)?.[1];
        const data = /^data: (.*)$/m.exec(event)?.[1];
        if (type === 'message' && data !== undefined) messages.push(JSON.parse(data));
        else if (type === 'end') throw new Error(`the SSE stream ended: ${data}`);
      }
    }
    return { ok: true, data: messages };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/** gRPC: a server stream of Message; a refusal ends it with a status. */
function subscribeGrpc(client: Client, args: Args, take: number): Promise<Raw> {
  const m = methodOf('subscribe');
  const body = Buffer.from(toBinary(m.input, create(m.input, pbInit(m.input, args) as never)));
  const identity = (b: Buffer): Buffer => b;
  return new Promise((resolve, reject) => {
    const messages: unknown[] = [];
    let settled = false;
    const call = client.makeServerStreamRequest(`/${MQLiteService.typeName}/${m.name}`, identity, identity, body);
    const finish = (r: Raw | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      call.cancel();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    const timer = setTimeout(() => finish(subscribeTimeout('gRPC subscribe', messages.length, take)), SUBSCRIBE_WAIT_MS);
    call.on('data', (b: Buffer) => {
      messages.push(pbData(m.output, fromBinary(m.output, b)));
      if (messages.length >= take) finish({ ok: true, data: { messages } });
    });
    call.on('error', (err: ServiceError) => {
      const name = grpcStatus[err.code] ?? `GRPC_${err.code}`;
      finish({ ok: false, codes: [name], message: err.details, wire: `${name}: ${err.details}` });
    });
    call.on('end', () => finish(new Error(`the gRPC stream ended after ${messages.length} of ${take} messages`)));
  });
}
