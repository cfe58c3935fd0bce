/**
 * Cluster nodes over JetStream (docs/DESIGN.md, "Cluster"), as processes
 * against a real nats-server: what a standby answers on every front, a
 * takeover after kill -9 with every acked change, and an owner paused past
 * its lease that answers nothing as ok when it wakes.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClusterMember, waitForOwner } from '../../bench/cluster/local.js';
import { serverEntry } from '../../bench/server-process.js';
import { openTransport } from '../../src/client/connect.js';
import { parseUrl } from '../../src/client/url.js';
import { freePort, type NatsNode, restartNats, startNats, stopAll } from '../engine/nats-server.js';

let nats: NatsNode;
const members: ClusterMember[] = [];
let clusterSeq = 0;

beforeAll(async () => {
  nats = await startNats();
});
afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.stop()));
});
afterAll(async () => {
  await stopAll();
});

async function cluster(ids: string[]): Promise<ClusterMember[]> {
  const name = `failover${++clusterSeq}`;
  const nodes: ClusterMember[] = [];
  for (const id of ids) {
    const m = new ClusterMember(id, { tcp: await freePort(), http: await freePort(), grpc: await freePort() }, { name, servers: [nats.url], replicas: 1, leaseTtl: '2s', leaseRenew: '500ms' });
    members.push(m);
    nodes.push(m);
    // one at a time: the first one started owns the broker
    await m.start();
  }
  return nodes;
}

async function http(node: ClusterMember, method: string, path: string, body?: unknown): Promise<{ status: number; body: { success: boolean; message?: string; data?: unknown } }> {
  const res = await fetch(`http://127.0.0.1:${node.ports.http}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as { success: boolean; message?: string } };
}

async function setUp(owner: ClusterMember): Promise<void> {
  expect((await http(owner, 'POST', '/v1/namespaces', { name: 'n' })).status).toBe(201);
  expect((await http(owner, 'POST', '/v1/namespaces/n/topics', { name: 't', queue_count: 2 })).status).toBe(201);
}

async function publish(node: ClusterMember, i: number): Promise<{ status: number; body: { success: boolean; message?: string } }> {
  return http(node, 'POST', '/v1/namespaces/n/topics/t/publish', { payload: { i }, queue_id: i % 2 });
}

/** Every payload `i` left in the topic, consumed and acked on `node`. */
async function drain(node: ClusterMember): Promise<number[]> {
  const seen: number[] = [];
  for (const q of [0, 1]) {
    for (;;) {
      const r = await http(node, 'POST', `/v1/namespaces/n/topics/t/queues/${q}/consume`, { batch_size: 100, auto_ack: true });
      expect(r.status, r.body.message).toBe(200);
      const msgs = r.body.data as { payload: { i: number } }[];
      if (msgs.length === 0) break;
      for (const m of msgs) seen.push(m.payload.i);
    }
  }
  return seen.sort((a, b) => a - b);
}

describe('a cluster of MQLite nodes on JetStream', () => {
  it('a standby answers UNAVAILABLE naming the owner and its addresses, on HTTP, TCP and gRPC, and changes nothing', async () => {
    const [a, b] = await cluster(['a', 'b']);
    expect(await a!.role()).toBe('ok');
    expect(await b!.role()).toBe('standby');
    const health = await fetch(`http://127.0.0.1:${b!.ports.http}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'standby', node: 'b', owner: 'a' });

    const refused = await http(b!, 'POST', '/v1/namespaces', { name: 'on-b' });
    expect(refused.status).toBe(503);
    expect(refused.body.message).toContain(`node 'b' of cluster`);
    expect(refused.body.message).toContain(`node 'a' owns the broker (tcp 127.0.0.1:${a!.ports.tcp}, http 127.0.0.1:${a!.ports.http}, grpc 127.0.0.1:${a!.ports.grpc}); send requests there`);

    for (const url of [`tcp://127.0.0.1:${b!.ports.tcp}`, `grpc://127.0.0.1:${b!.ports.grpc}`]) {
      const t = await openTransport(parseUrl(url), {});
      try {
        await expect(t.createNamespace('on-b')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(`node 'a' owns the broker`) });
        await expect(t.listNamespaces()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      } finally {
        await t.close();
      }
    }
    // a gRPC PublishStream's entries are answered the same way
    const streamer = await openTransport(parseUrl(`grpc://127.0.0.1:${b!.ports.grpc}`), { publishStream: true });
    try {
      await expect(streamer.publish('n', 't', '"x"')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining(`node 'a' owns the broker`) });
    } finally {
      await streamer.close();
    }
    // the dashboard's server panel names the role and the owner
    expect((await http(b!, 'GET', '/v1/server')).body.data).toMatchObject({ cluster: { node: 'b', role: 'standby', owner: { node: 'a', http: `127.0.0.1:${a!.ports.http}` } } });
    expect((await http(a!, 'GET', '/v1/server')).body.data).toMatchObject({ cluster: { node: 'a', role: 'owner', takeovers: 1 } });
    // nothing was created through the standby
    expect((await http(a!, 'GET', '/v1/namespaces')).body.data).toEqual([]);
  });

  it('kill -9 of the owner: the standby takes over with every change answered ok, and serves', async () => {
    const [a, b] = await cluster(['a', 'b']);
    await setUp(a!);
    for (let i = 0; i < 40; i++) expect((await publish(a!, i)).status).toBe(200);
    // 10 consumed and acked on the old owner stay gone
    const r = await http(a!, 'POST', '/v1/namespaces/n/topics/t/queues/0/consume', { batch_size: 10, auto_ack: true });
    const acked = (r.body.data as { payload: { i: number } }[]).map((m) => m.payload.i);
    expect(acked).toHaveLength(10);
    await a!.signal('SIGKILL');

    expect(await waitForOwner([b!], 15_000)).toBe(b);
    const left = await drain(b!);
    expect(left).toEqual([...Array(40).keys()].filter((i) => !acked.includes(i)));
    expect((await publish(b!, 100)).status).toBe(200);

    // the old owner comes back as a standby naming b
    await a!.start();
    expect(await a!.role()).toBe('standby');
    expect((await publish(a!, 101)).body.message).toContain(`node 'b' owns the broker`);
  });

  it('an owner paused past its lease answers nothing as ok when it wakes, and stands by', async () => {
    const [a, b] = await cluster(['a', 'b']);
    await setUp(a!);
    for (let i = 0; i < 10; i++) expect((await publish(a!, i)).status).toBe(200);
    await a!.signal('SIGSTOP');
    expect(await waitForOwner([b!], 15_000)).toBe(b);
    expect((await publish(b!, 50)).status).toBe(200);

    // requests reach the paused owner's socket, and are read when it wakes
    const late = [51, 52, 53].map((i) => publish(a!, i).catch((err: Error) => ({ status: 0, body: { success: false, message: err.message } })));
    await new Promise((r) => setTimeout(r, 200));
    await a!.signal('SIGCONT');
    for (const res of await Promise.all(late)) {
      expect(res.status, JSON.stringify(res.body)).not.toBe(200);
      expect(res.body.success).toBe(false);
    }
    await expect.poll(() => a!.role(), { timeout: 10_000 }).toBe('standby');
    expect(await b!.role()).toBe('ok');
    expect(await drain(b!)).toEqual([...Array(10).keys(), 50]);
  });

  it('the engine lost at run time: the owner refuses changes, then stands down (503); once the engine is back a node serves again with every change answered ok', async () => {
    const [a, b] = await cluster(['a', 'b']);
    await setUp(a!);
    for (let i = 0; i < 10; i++) expect((await publish(a!, i)).status).toBe(200);
    nats.proc.kill('SIGKILL');
    await new Promise((r) => nats.proc.once('exit', r));
    const refused = await publish(a!, 99);
    expect(refused.status).toBe(503);
    expect(refused.body.success).toBe(false);
    await expect.poll(() => a!.role(), { timeout: 20_000 }).not.toBe('ok');
    nats = await restartNats(nats);
    const owner = await waitForOwner([a!, b!], 30_000);
    expect(await drain(owner)).toEqual([...Array(10).keys()]);
  });

  it('stops at startup naming the servers when JetStream is unreachable', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const run = spawnSync(process.execPath, [serverEntry], {
      env: {
        ...process.env,
        MQLITE_PERSISTENCE_BACKEND: 'jetstream',
        MQLITE_NATS_URL: url,
        MQLITE_TCP_PORT: String(await freePort()),
        MQLITE_HTTP_PORT: String(await freePort()),
        MQLITE_GRPC_PORT: String(await freePort()),
        MQLITE_LOG_LEVEL: 'silent',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`JetStream unreachable at ${url}`);
    expect(run.stderr).toContain('persistence.jetstream.servers (env MQLITE_NATS_URL)');
  });
});
