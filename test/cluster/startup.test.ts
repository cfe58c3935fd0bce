/**
 * A node started with its engine (docs/DESIGN.md, "Cluster"): a cluster of
 * nats-servers that has not yet elected its JetStream leader answers
 * nothing, and the node waits for it, saying so, instead of exiting.
 */
import { afterAll, expect, it } from 'vitest';
import { ClusterMember } from '../../bench/cluster/local.js';
import { freePort, planNatsCluster, startNatsClusterNode, stopAll } from '../engine/nats-server.js';

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
