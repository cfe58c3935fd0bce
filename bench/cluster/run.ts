/**
 * A local cluster in one command (README, "Running a cluster"): three
 * nats-server nodes with JetStream (client ports 4222-4224, routes
 * 6222-6224) and MQLite nodes a, b, c on loopback (a: tcp 7070, http 8080,
 * grpc 9090; b: 7071, 8081, 9091; c: 7072, 8082, 9092), stream replicas 3.
 * Ctrl-C stops everything it started and removes its data.
 *
 *   npm run cluster                 # three MQLite nodes
 *   npm run cluster -- --nodes 2
 */
import { ClusterMember, waitForOwner } from './local.js';
import { startNatsCluster, stopAll } from './nats.js';

async function main(): Promise<void> {
  const i = process.argv.indexOf('--nodes');
  const count = i >= 0 ? Number(process.argv[i + 1]) : 3;
  if (!Number.isInteger(count) || count < 1 || count > 3) {
    process.stderr.write('usage: npm run cluster -- [--nodes 1|2|3]\n');
    process.exit(2);
  }
  const members: ClusterMember[] = [];
  let stopping = false;
  const stop = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      process.stderr.write('cluster: stopping every node it started\n');
      await Promise.all(members.map((m) => m.stop()));
      await stopAll();
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    const nats = await startNatsCluster('mqlite-local', { ports: [4222, 4223, 4224], routes: [6222, 6223, 6224] });
    const servers = nats.map((n) => n.url);
    for (let n = 0; n < count; n++) {
      const id = 'abc'[n]!;
      const m = new ClusterMember(id, { tcp: 7070 + n, http: 8080 + n, grpc: 9090 + n }, {
        name: 'local',
        servers,
        replicas: 3,
        onLog: (node, rec) => {
          if (rec.component === 'cluster' || (rec.level as number) >= 40) process.stderr.write(`node ${node}: ${String(rec.msg)}\n`);
        },
      });
      members.push(m);
      await m.start();
    }
    const owner = await waitForOwner(members, 30_000);
    process.stdout.write(
      [
        `engine: nats-server x3 at ${servers.join(', ')} (JetStream, stream MQLITE_local, replicas 3)`,
        ...members.map((m) => `node ${m.id}: tcp 127.0.0.1:${m.ports.tcp}  http 127.0.0.1:${m.ports.http}  grpc 127.0.0.1:${m.ports.grpc}${m === owner ? '  (owner)' : '  (standby)'}`),
        `try: curl -s localhost:${owner.ports.http}/health; curl -s localhost:${members.at(-1)!.ports.http}/health`,
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
  } catch (err) {
    process.stderr.write(`cluster: ${(err as Error).message}\n`);
    await stop(1);
  }
}

void main();
