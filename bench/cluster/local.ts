/**
 * A local cluster (docs/DESIGN.md, "Cluster"): MQLite nodes as child
 * processes sharing one JetStream stream, on loopback ports. Used by the
 * failover and chaos tests, the cluster benchmark and `npm run cluster`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerProcess, type ServerProcess } from '../server-process.js';

export interface ClusterSettings {
  /** cluster.name: nodes with one name share one broker. */
  readonly name: string;
  /** nats:// URLs of the engine. */
  readonly servers: readonly string[];
  readonly replicas: number;
  /** Go-style durations (cluster.lease_ttl, cluster.lease_renew). */
  readonly leaseTtl?: string;
  readonly leaseRenew?: string;
  readonly logLevel?: string;
  /** Each log record of a member (JSON lines on its stdout). */
  readonly onLog?: (node: string, rec: Record<string, unknown>) => void;
}

export interface NodePorts {
  readonly tcp: number;
  readonly http: number;
  readonly grpc: number;
}

/** One MQLite node of a local cluster: restartable on the same ports after a kill. */
export class ClusterMember {
  private proc: ServerProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'mqlite-node-'));

  constructor(
    readonly id: string,
    readonly ports: NodePorts,
    private readonly settings: ClusterSettings,
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Starts the node; resolves once its fronts listen (as owner or standby). */
  async start(): Promise<void> {
    const s = this.settings;
    this.proc = await startServerProcess({
      dataDir: this.dir,
      onLog: s.onLog && ((rec) => s.onLog!(this.id, rec)),
      extraConfig: {
        server: { host: '127.0.0.1', tcp: { port: this.ports.tcp }, http: { port: this.ports.http }, grpc: { port: this.ports.grpc } },
        persistence: { enabled: true, backend: 'jetstream', jetstream: { servers: [...s.servers], replicas: s.replicas } },
        cluster: { name: s.name, node_id: this.id, lease_ttl: s.leaseTtl ?? '5s', lease_renew: s.leaseRenew ?? '1s' },
        // info at least: the process says 'mqlite ready' at info
        log: { level: s.logLevel ?? 'info', format: 'json' },
      },
    });
    const proc = this.proc;
    void proc.exitCode.then(() => {
      if (this.proc === proc) this.proc = undefined;
    });
  }

  /** Sends `signal` (SIGKILL: and waits for the exit). */
  async signal(signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (p === undefined) return;
    process.kill(p.pid, signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      await p.exitCode;
      this.proc = undefined;
    }
  }

  /** GET /health: the node's role as it says it (`ok` on the owner), or `down`. */
  async role(): Promise<string> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.ports.http}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { status: string };
      return body.status;
    } catch {
      return 'down';
    }
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p !== undefined) {
      try {
        process.kill(p.pid, 'SIGCONT');
      } catch {
        // gone already
      }
      await this.signal('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The node that answers /health with ok, waiting up to `timeoutMs` for one. */
export async function waitForOwner(nodes: readonly ClusterMember[], timeoutMs: number, except?: ClusterMember): Promise<ClusterMember> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    for (const n of nodes) if (n !== except && n.running && (await n.role()) === 'ok') return n;
    if (Date.now() > end) throw new Error(`no cluster node owns the broker after ${timeoutMs} ms (${(await Promise.all(nodes.map(async (n) => `${n.id}: ${await n.role()}`))).join(', ')})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
