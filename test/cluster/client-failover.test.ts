/**
 * The typed client given every node of a cluster (docs/CLIENT.md,
 * "Clusters"): it finds the owner past a standby, and after the owner is
 * killed it reconnects to the next owner, subscriptions included.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClusterMember, waitForOwner } from '../../bench/cluster/local.js';
import { connect } from '../../src/client/connect.js';
import { isRetryable } from '../../src/client/client.js';
import { runCli } from '../cli/harness.js';
import { freePort, type NatsNode, startNats, stopAll } from '../engine/nats-server.js';

let nats: NatsNode;
const members: ClusterMember[] = [];
beforeAll(async () => {
  nats = await startNats();
});
afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.stop()));
});
afterAll(stopAll);

/** Retries `fn` while it fails retryably (the client reconnecting to the next owner). */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err) || Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe.each(['tcp', 'grpc'] as const)('a %s client given every node of a cluster', (scheme) => {
  it('finds the owner past a standby and follows the next owner after kill -9, its subscription too', async () => {
    const name = `client-${scheme}`;
    const [a, b] = await Promise.all(['a', 'b'].map(async (id) => new ClusterMember(id, { tcp: await freePort(), http: await freePort(), grpc: await freePort() }, { name, servers: [nats.url], replicas: 1, leaseTtl: '2s', leaseRenew: '500ms' })));
    members.push(a!, b!);
    await a!.start();
    await b!.start();
    const port = (m: ClusterMember) => (scheme === 'tcp' ? m.ports.tcp : m.ports.grpc);
    // the standby first: the client passes it over
    const client = await connect(`${scheme}://127.0.0.1:${port(b!)},${scheme}://127.0.0.1:${port(a!)}`, { timeoutMs: 10_000, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
    try {
      await client.createNamespace('n');
      await client.createTopic('n', 't', 1);
      const got: string[] = [];
      await client.subscribe('n', 't', 0, { autoAck: true, onMessage: (m) => got.push(Buffer.from(m.payload).toString()) });
      await client.publish('n', 't', '"before"', { queueId: 0 });
      await expect.poll(() => got).toEqual(['"before"']);

      await a!.signal('SIGKILL');
      await waitForOwner([b!], 15_000);
      await retrying(() => client.publish('n', 't', '"after"', { queueId: 0 }));
      await expect.poll(() => got, { timeout: 15_000 }).toEqual(['"before"', '"after"']);
      expect(await client.listNamespaces()).toEqual(['n']);
    } finally {
      await client.close();
    }
  });
});

describe('mqlite-cli given every node of a cluster', () => {
  it('runs each command on the owner past a standby or a node down; given the standby alone, it fails naming the owner', async () => {
    const [a, b] = await Promise.all(['a', 'b'].map(async (id) => new ClusterMember(id, { tcp: await freePort(), http: await freePort(), grpc: await freePort() }, { name: 'cli', servers: [nats.url], replicas: 1 })));
    members.push(a!, b!);
    await a!.start();
    await b!.start();
    const down = await freePort();
    for (const scheme of ['tcp', 'http', 'grpc'] as const) {
      const at = (m: ClusterMember) => `${scheme}://127.0.0.1:${scheme === 'tcp' ? m.ports.tcp : scheme === 'http' ? m.ports.http : m.ports.grpc}`;
      const nodes = `${scheme}://127.0.0.1:${down},${at(b!)},${at(a!)}`;
      const created = await runCli(['--url', nodes, 'ns', 'create', `from-${scheme}`]);
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      // MQLITE_URL takes the same list
      const listed = await runCli(['--json', 'ns', 'list'], { env: { MQLITE_URL: nodes } });
      expect(listed.code).toBe(0);
      expect(listed.json()).toContain(`from-${scheme}`);
      const standby = await runCli(['--url', at(b!), 'ns', 'create', `lost-${scheme}`]);
      expect(standby.code).not.toBe(0);
      expect(standby.stderr).toMatch(/node 'b' of cluster 'cli' stands by: node 'a' owns the broker/);
    }
    const all = await runCli(['--json', '--url', `tcp://127.0.0.1:${b!.ports.tcp},tcp://127.0.0.1:${a!.ports.tcp}`, 'ns', 'list']);
    expect(all.json()).toEqual(['from-grpc', 'from-http', 'from-tcp']);
    // one protocol for all the nodes
    const mixed = await runCli(['--url', `tcp://127.0.0.1:${a!.ports.tcp},http://127.0.0.1:${b!.ports.http}`, 'ns', 'list']);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/--url: the nodes of a cluster take one protocol: http:\/\/127\.0\.0\.1:\d+ differs from tcp:\/\/127\.0\.0\.1:\d+/);
  }, 90_000);
});
