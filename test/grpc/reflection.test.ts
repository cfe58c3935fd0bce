/**
 * docs/PROTOCOL.md, "gRPC": server reflection (v1 and v1alpha) lets a generic
 * tool list the service, fetch its descriptors and call it without the
 * .proto file. The tool here is built from the reflection protos shipped
 * with @grpc/reflection and proto-loader: nothing of ours.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startFixture, type Fixture } from './harness.js';

// protobufjs's descriptor codec, as proto-loader uses it: independent of protobuf-es.
const descriptorModule = createRequire(import.meta.url)('protobufjs/ext/descriptor');
const reflectionRoot = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '../proto');

function reflectionClient(version: 'v1' | 'v1alpha', address: string): grpc.Client {
  const def = protoLoader.loadSync(join(reflectionRoot, `grpc/reflection/${version}/reflection.proto`), {
    keepCase: true,
    longs: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Ctor = pkg.grpc.reflection[version].ServerReflection as grpc.ServiceClientConstructor;
  return new Ctor(address, grpc.credentials.createInsecure());
}

/** One request on the bidirectional ServerReflectionInfo stream. */
function ask(client: grpc.Client, req: object): Promise<any> {
  return new Promise((resolve, reject) => {
    const stream = (client as any).ServerReflectionInfo() as grpc.ClientDuplexStream<object, any>;
    stream.once('data', (res: unknown) => {
      resolve(res);
      stream.end();
    });
    stream.once('error', reject);
    stream.write(req);
  });
}

/** FileDescriptorSet { repeated FileDescriptorProto file = 1 }, encoded by hand. */
function descriptorSet(files: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const file of files) {
    const len: number[] = [];
    let n = file.length;
    while (n > 0x7f) {
      len.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    len.push(n);
    parts.push(Buffer.from([0x0a, ...len]), file);
  }
  return Buffer.concat(parts);
}

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(() => f.stop());

describe.each(['v1', 'v1alpha'] as const)('reflection %s', (version) => {
  let client: grpc.Client;
  beforeAll(() => {
    client = reflectionClient(version, f.address);
  });
  afterAll(() => client.close());

  it('lists mqlite.v1.MQLiteService', async () => {
    const res = await ask(client, { list_services: '*' });
    expect(res.list_services_response.service.map((s: { name: string }) => s.name)).toContain('mqlite.v1.MQLiteService');
  });

  it('answers NOT_FOUND for an unknown symbol', async () => {
    const res = await ask(client, { file_containing_symbol: 'mqlite.v1.Nope' });
    expect(res.error_response.error_code).toBe(grpc.status.NOT_FOUND);
  });

  it('serves descriptors from which a client calls every kind of field, maps included', async () => {
    const res = await ask(client, { file_containing_symbol: 'mqlite.v1.MQLiteService' });
    const files: Buffer[] = res.file_descriptor_response.file_descriptor_proto;
    expect(files.length).toBeGreaterThanOrEqual(1);
    const def = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet(files), { keepCase: true, longs: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as any;
    const Service = pkg.mqlite.v1.MQLiteService as grpc.ServiceClientConstructor;
    expect(Object.keys(Service.service)).toHaveLength(24);
    const dyn = new Service(f.address, grpc.credentials.createInsecure());
    try {
      const ns = `refl-${version}`;
      await call(dyn, 'CreateNamespace', { name: ns });
      await call(dyn, 'CreateTopic', { namespace: ns, name: 't', queue_count: 2 });
      // protobufjs builds map fields from descriptors as repeated entries
      // (same wire bytes); strict tools read the map_entry option checked below.
      const pub = await call(dyn, 'Publish', { namespace: ns, topic: 't', payload: Buffer.from([0, 255]), headers: [{ key: 'k', value: 'v' }], queue_id: 1 });
      expect(pub.queue_id).toBe(1);
      const { messages } = await call(dyn, 'Consume', { namespace: ns, topic: 't', queue_id: 1, batch_size: 1, auto_ack: true });
      expect(messages[0]).toMatchObject({ id: pub.message_id, headers: [{ key: 'k', value: 'v' }], queue_id: 1, delivery_count: 1 });
      expect([...messages[0].payload]).toEqual([0, 255]);
    } finally {
      dyn.close();
    }
  });

  it('marks map entries as such (strict clients reject them otherwise)', async () => {
    const res = await ask(client, { file_containing_symbol: 'mqlite.v1.Message' });
    const [file] = res.file_descriptor_response.file_descriptor_proto as Buffer[];
    const proto = descriptorModule.FileDescriptorProto.decode(file);
    expect(proto.name).toBe('mqlite/v1/mqlite.proto');
    expect(proto.package).toBe('mqlite.v1');
    const message = proto.messageType.find((m: { name: string }) => m.name === 'Message');
    const entry = message.nestedType.find((m: { name: string }) => m.name === 'HeadersEntry');
    expect(entry.options.mapEntry).toBe(true);
    const headers = message.field.find((f: { name: string }) => f.name === 'headers');
    expect(headers.typeName).toBe('.mqlite.v1.Message.HeadersEntry');
    const publish = proto.messageType.find((m: { name: string }) => m.name === 'PublishRequest');
    expect(publish.field.find((f: { name: string }) => f.name === 'queue_id').proto3Optional).toBe(true);
  });

  it('serves the file by name', async () => {
    const res = await ask(client, { file_by_filename: 'mqlite/v1/mqlite.proto' });
    expect(res.file_descriptor_response.file_descriptor_proto.length).toBeGreaterThanOrEqual(1);
  });
});

/** `buf curl` (Go, strict protobuf) from the @bufbuild/buf devDependency: a generic tool with no .proto file. */
async function bufCurl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const buf = join(import.meta.dirname, '../../node_modules/.bin/buf');
  try {
    const { stdout, stderr } = await promisify(execFile)(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe.each(['grpc-v1', 'grpc-v1alpha'])('a generic tool (buf curl, %s reflection)', (protocol) => {
  const url = (method = ''): string => `http://${f.address}${method && `/mqlite.v1.MQLiteService/${method}`}`;

  it('lists the twenty-four methods (twelve of the contract, twelve extensions)', async () => {
    const res = await bufCurl(['--reflect-protocol', protocol, '--list-methods', url()]);
    expect(res.stderr).toBe('');
    expect(res.stdout.trim().split('\n')).toHaveLength(24);
    expect(res.stdout).toContain('mqlite.v1.MQLiteService/Subscribe');
    expect(res.stdout).toContain('mqlite.v1.MQLiteService/GetTopicStats');
    expect(res.stdout).toContain('mqlite.v1.MQLiteService/PublishStream');
  });

  it('calls Publish and Consume with JSON, map headers and explicit queue_id 0 included', async () => {
    const ns = `curl-${protocol}`;
    await call(f.raw, 'CreateNamespace', { name: ns });
    await call(f.raw, 'CreateTopic', { namespace: ns, name: 't', queue_count: 2 });
    const pub = await bufCurl([
      '--reflect-protocol', protocol,
      '-d', JSON.stringify({ namespace: ns, topic: 't', payload: Buffer.from('hi').toString('base64'), headers: { k: 'v' }, queue_id: 0 }),
      url('Publish'),
    ]);
    expect(pub.code).toBe(0);
    const { messageId } = JSON.parse(pub.stdout);
    const got = await bufCurl([
      '--reflect-protocol', protocol,
      '-d', JSON.stringify({ namespace: ns, topic: 't', queue_id: 0, batch_size: 10, auto_ack: true }),
      url('Consume'),
    ]);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout).messages).toMatchObject([{ id: messageId, payload: 'aGk=', headers: { k: 'v' }, deliveryCount: 1 }]);
  });

  it('calls the extension RPCs with JSON: enum names, int64 as strings or numbers', async () => {
    const ns = `curl8-${protocol}`;
    await call(f.raw, 'CreateNamespace', { name: ns });
    await call(f.raw, 'CreateTopic', { namespace: ns, name: 't', queue_count: 1 });
    const curl = async (method: string, body: object): Promise<any> => {
      const res = await bufCurl(['--reflect-protocol', protocol, '-d', JSON.stringify(body), url(method)]);
      expect(res.stderr).toBe('');
      return JSON.parse(res.stdout);
    };
    const batch = await curl('PublishBatch', {
      namespace: ns,
      topic: 't',
      mode: 'BATCH_MODE_ATOMIC',
      entries: [{ payload: 'YQ==' }, { payload: 'Yg==', dedupId: 'd' }, { payload: 'Yw==', delayMs: '3600000' }],
    });
    expect(batch.results).toHaveLength(3);
    expect(batch.results.every((r: { ok?: boolean }) => r.ok)).toBe(true);
    const page = await curl('Peek', { namespace: ns, topic: 't', queueId: 0, order: 'PEEK_ORDER_DESC', limit: 1, previewBytes: 1 });
    expect(page.messages).toMatchObject([{ message: { payload: 'Yg==' }, payloadSize: 1 }]);
    expect(page.nextCursor).toBeTruthy();
    const stats = await curl('GetTopicStats', { namespace: ns, topic: 't' });
    expect(stats.stats).toMatchObject({ pending: '2', delayed: '1' });
  });

  it('streams publishes on PublishStream with JSON: one answer per entry, matched by correlation id', async () => {
    const ns = `curl-stream-${protocol}`;
    await call(f.raw, 'CreateNamespace', { name: ns });
    await call(f.raw, 'CreateTopic', { namespace: ns, name: 't', queue_count: 1 });
    const first = { entries: [{ correlationId: '1', publish: { namespace: ns, topic: 't', payload: 'YQ==' } }, { correlationId: '2', publish: { namespace: ns, topic: 'nope', payload: 'Yg==' } }] };
    const second = { entries: [{ correlationId: '3', publish: { namespace: ns, topic: 't', payload: 'Yw==' } }] };
    // Two request messages on one stream.
    const res = await bufCurl(['--reflect-protocol', protocol, '-d', `${JSON.stringify(first)} ${JSON.stringify(second)}`, url('PublishStream')]);
    expect(res.stderr).toBe('');
    const results = res.stdout
      .trim()
      .split(/\n(?=\{)/)
      .flatMap((chunk) => JSON.parse(chunk).results as { correlationId: string; messageId?: string; errorCode?: string }[]);
    const byId = new Map(results.map((r) => [r.correlationId, r]));
    expect(byId.size).toBe(3);
    expect(byId.get('1')!.messageId).toBeTruthy();
    expect(byId.get('2')).toMatchObject({ errorCode: 'NOT_FOUND' });
    expect(byId.get('3')!.messageId).toBeTruthy();
    const { messages } = await call(f.raw, 'Consume', { namespace: ns, topic: 't', queue_id: 0, batch_size: 10, auto_ack: true });
    expect(messages.map((m: { payload: Buffer }) => m.payload.toString())).toEqual(['a', 'c']);
  });

  it('shows a broker error as its status code and message', async () => {
    const res = await bufCurl(['--reflect-protocol', protocol, '-d', '{"namespace":"nope"}', url('ListTopics')]);
    expect(res.code).not.toBe(0);
    expect(JSON.parse(res.stderr)).toEqual({ code: 'not_found', message: "namespace 'nope' not found" });
  });
});
