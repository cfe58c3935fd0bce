/**
 * A node started with its engine (docs/DESIGN.md, "Cluster"): a cluster of
 * nats-servers that has not yet elected its JetStream leader answers
 * nothing, and the node waits for it, saying so, instead of exiting.
 */
import { spawn } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { ClusterMember } from '../../bench/cluster/local.js';
import { startServerProcess } from '../../bench/server-process.js';
import { freePort, NATS_SERVER, planNatsCluster, startNatsClusterNode, stopAll } from '../engine/nats-server.js';

let member: ClusterMember | undefined;
afterAll(async () => {
  await member?.stop();
  await stopAll();
});

it('waits for a JetStream cluster without its leader yet, then owns the broker', async () => {
  const plan = await planNatsCluster();
  // one node of three: no quorum, so no JetStream leader; every JetStream request times out
  const first = await startNatsClusterNode('startup', plan, 0);
  const said: string[] = [];
  member = new ClusterMember('a', { tcp: await freePort(), http: await freePort(), grpc: await freePort() }, {
    name: 'startup',
    servers: [first.url],
    replicas: 1,
    onLog: (_, rec) => said.push(String(rec.msg)),
  });
  const started = member.start();
  await expect.poll(() => said, { timeout: 20_000 }).toContain('JetStream does not answer yet (a cluster electing its leader?): waiting for it');
  // the second node makes a quorum: a leader is elected and the node comes up as the owner
  await startNatsClusterNode('startup', plan, 1);
  await started;
  expect(await member.role()).toBe('ok');
}, 60_000);

it('stops at once, naming the servers, on a nats-server without JetStream', async () => {
  const port = await freePort();
  const plain = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const url = `nats://127.0.0.1:${port}`;
    const stderr: string[] = [];
    const said: string[] = [];
    const run = startServerProcess({
      onLog: (rec) => said.push(String(rec.msg)),
      extraConfig: { persistence: { enabled: true, backend: 'jetstream', jetstream: { servers: [url], replicas: 1 } }, cluster: { name: 'nojs', node_id: 'a' } },
      onStderr: (line) => stderr.push(line),
    });
    await expect(run).rejects.toThrow(/exited with code 1/);
    // no wait for a JetStream that is off
    expect(said).not.toContain('JetStream does not answer yet (a cluster electing its leader?): waiting for it');
    expect(stderr.join('\n')).toContain(`JetStream at ${url} cannot hold the ownership record of cluster 'nojs'`);
  } finally {
    plain.kill('SIGKILL');
  }
}, 60_000);
