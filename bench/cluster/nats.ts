/**
 * Starts and stops real nats-server processes with JetStream, for tests,
 * the chaos run, the cluster benchmark and `npm run cluster`: one
 * node, or a cluster of three with routes on loopback. Missing nats-server
 * is a failure telling what to run, never a skip. Every process started is
 * killed by stopAll() (call it in afterAll, it also runs on failure).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../free-port.js';

export { freePort };

export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

export interface NatsNode {
  /** The server name (-n): what stream info names as a leader. */
  readonly name: string | undefined;
  readonly url: string;
  readonly port: number;
  readonly proc: ChildProcess;
  readonly dir: string;
  readonly args: readonly string[];
}

const started = new Set<ChildProcess>();
const dirs = new Set<string>();

export function requireNatsServer(): void {
  if (!existsSync(NATS_SERVER)) {
    throw new Error(`nats-server not found at ${NATS_SERVER}: run scripts/install-peers.sh (or set NATS_SERVER to its path)`);
  }
}


function waitForPort(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tryOnce = (): void => {
      if (proc.exitCode !== null) {
        reject(new Error(`nats-server exited (${proc.exitCode}): ${log()}`));
        return;
      }
      const sock = tcpConnect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        setTimeout(tryOnce, 50);
      });
    };
    tryOnce();
  });
}

async function launch(args: string[], port: number, dir: string): Promise<NatsNode> {
  requireNatsServer();
  const proc = spawn(NATS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  started.add(proc);
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  proc.once('exit', () => started.delete(proc));
  await waitForPort(port, proc, () => log);
  const n = args.indexOf('-n');
  return { name: n >= 0 ? args[n + 1] : undefined, url: `nats://127.0.0.1:${port}`, port, proc, dir, args };
}

function tempStore(): string {
  const d = mkdtempSync(join(tmpdir(), 'mqlite-nats-'));
  dirs.add(d);
  return d;
}

/** One nats-server with JetStream on a free port and a fresh store directory. */
export async function startNats(): Promise<NatsNode> {
  const port = await freePort();
  const dir = tempStore();
  return launch(['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], port, dir);
}

/** Three nats-server nodes with JetStream, routed to each other on loopback. */
export async function startNatsCluster(name = 'mqlite-test', fixed?: { ports: number[]; routes: number[] }): Promise<NatsNode[]> {
  const plan = fixed ?? (await planNatsCluster());
  return Promise.all([0, 1, 2].map((i) => startNatsClusterNode(name, plan, i)));
}

/** Ports for a cluster of three: client ports and route ports. */
export async function planNatsCluster(): Promise<{ ports: number[]; routes: number[] }> {
  return { ports: [await freePort(), await freePort(), await freePort()], routes: [await freePort(), await freePort(), await freePort()] };
}

/** Node `i` (0-2) of a cluster of three on `plan`'s ports; the others may start later. */
export function startNatsClusterNode(name: string, plan: { ports: number[]; routes: number[] }, i: number): Promise<NatsNode> {
  const routeList = plan.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(',');
  const port = plan.ports[i]!;
  const dir = tempStore();
  return launch(
    ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir, '-n', `n${i + 1}`,
      '--cluster_name', name, '--cluster', `nats://127.0.0.1:${plan.routes[i]}`, '--routes', routeList],
    port,
    dir,
  );
}

/** Restarts a stopped node with the same arguments (same port, same store). */
export function restartNats(node: NatsNode): Promise<NatsNode> {
  return launch([...node.args], node.port, node.dir);
}

/** SIGKILLs every nats-server these helpers started, and removes their stores. */
export async function stopAll(): Promise<void> {
  const waits = [...started].map(
    (p) =>
      new Promise<void>((resolve) => {
        if (p.exitCode !== null || p.signalCode !== null) return resolve();
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}
