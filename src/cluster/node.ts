/**
 * A cluster node (docs/DESIGN.md, "Cluster"): several MQLite processes with
 * the same `cluster.name` share one JetStream stream; the one holding the
 * ownership record (ownership.ts) replays the stream, fences it and serves;
 * the others stand by and answer UNAVAILABLE naming the owner.
 *
 * - Standby: every `cluster.lease_renew` it tries to create the ownership
 *   record; while another node holds it, it remembers who, for its answers.
 * - Takeover: the record created, it opens the stream, replays it into a
 *   new Broker, appends a fence (after which the engine refuses every
 *   append of an earlier owner), then serves.
 * - Owner: it renews the record every `cluster.lease_renew`, and serves
 *   only while its lease, counted from when it sent the last successful
 *   renewal, has not run out. A node that wakes from a pause past its lease
 *   answers nothing as ok: its requests are refused up front, and what was
 *   in flight is refused by the engine (the new owner's fence).
 * - Stepping down: when a renewal finds another owner, when the lease ran
 *   out without a renewal, or when the store failed (the engine refused or
 *   lost an append), the node closes its broker (its subscriptions end with
 *   UNAVAILABLE), gives the record up if it still holds it, and stands by.
 */
import type { NatsConnection } from 'nats';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { connectEngine, JetStreamStore } from '../aof/jetstream-store.js';
import type { Store } from '../aof/store.js';
import type { Broker } from '../broker/broker.js';
import { unavailable } from '../broker/errors.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ClusterStatus, OwnerRecord } from '../metrics/source.js';
import type { BrokerAccess } from '../server/front.js';
import { isLost, Ownership } from './ownership.js';

export interface ClusterNodeOptions {
  readonly config: Config;
  readonly log: Logger;
  /** A broker over `store`, replayed (embed.ts gives it the config's limits). */
  readonly openBroker: (store: Store) => Promise<Broker>;
}

type Role = ClusterStatus['role'];

/** Replays a takeover tries, while it holds the lease, before it gives the record up. */
const TAKEOVER_ATTEMPTS = 5;
/** How long a node starting with its engine waits for JetStream to answer at all. */
const STARTUP_WAIT_MS = 30_000;
const TAKEOVER_RETRY_MS = 500;
/** Log messages behind the snapshot past which a new owner rewrites at once. */
const REPLAY_COMPACT_MESSAGES = 1000;

export class ClusterNode implements BrokerAccess {
  private role: Role = 'standby';
  private broker: Broker | undefined;
  private store: JetStreamStore | undefined;
  /** performance.now() until which the lease is ours. */
  private deadline = 0;
  private rev = 0;
  private owner: OwnerRecord | undefined;
  private record: OwnerRecord;
  private takeovers = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private renewal: Promise<void> | undefined;
  private closed = false;
  private readonly name: string;
  private readonly id: string;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly ownership: Ownership,
    private readonly opts: ClusterNodeOptions,
  ) {
    this.name = opts.config.cluster.name;
    this.id = opts.config.cluster.node_id;
    this.record = { node: this.id, since: 0 };
  }

  /**
   * Connects to the engine and makes one attempt to own the broker: a lone
   * node serves when this resolves, a second one stands by.
   */
  static async start(opts: ClusterNodeOptions): Promise<ClusterNode> {
    const { jetstream } = opts.config.persistence;
    const { cluster } = opts.config;
    const servers = jetstream.servers.join(', ');
    const nc = await connectEngine(jetstream.servers, jetstream.timeout, `mqlite:${cluster.name}:${cluster.node_id}:ownership`);
    let ownership: Ownership;
    // A cluster of nats-servers that has just started answers JetStream requests with timeouts
    // or 503 until it has elected its leader, which takes seconds: nodes started with it wait.
    const readyBy = performance.now() + STARTUP_WAIT_MS;
    for (let waited = false; ; ) {
      try {
        ownership = await Ownership.open(nc.jetstream({ timeout: jetstream.timeout }), cluster.name, cluster.lease_ttl, jetstream.replicas, jetstream.timeout);
        break;
      } catch (err) {
        // (its server says whether it runs JetStream at all: off, no wait helps)
        if (nc.info?.jetstream === true && /timeout|503/i.test((err as Error).message) && performance.now() < readyBy) {
          if (!waited) opts.log.warn({ servers: jetstream.servers, wait_ms: STARTUP_WAIT_MS }, 'JetStream does not answer yet (a cluster electing its leader?): waiting for it');
          waited = true;
          await new Promise((r) => setTimeout(r, 250));
          continue;
        }
        await nc.close().catch(() => {});
        throw new Error(
          `JetStream at ${servers} cannot hold the ownership record of cluster '${cluster.name}': ${(err as Error).message}. ` +
            `Is JetStream enabled (nats-server -js) on at least ${jetstream.replicas} nodes (persistence.jetstream.replicas)?`,
        );
      }
    }
    if (ownership.ttlMs !== cluster.lease_ttl) {
      opts.log.warn({ bucket: ownership.bucket, ttl_ms: ownership.ttlMs, configured_ms: cluster.lease_ttl }, 'the ownership bucket was made with another lease; its TTL is the lease');
    }
    const node = new ClusterNode(nc, ownership, opts);
    await node.tick();
    node.schedule();
    return node;
  }

  /** Where this node's fronts listen, for the record it writes when it owns the broker. */
  advertise(ports: { tcp?: number; http?: number; grpc?: number }): void {
    const host = advertisedHost(this.opts.config.server.host);
    const at = (p: number | undefined) => (p === undefined ? undefined : `${host}:${p}`);
    this.record = { node: this.id, since: this.record.since, tcp: at(ports.tcp), http: at(ports.http), grpc: at(ports.grpc) };
  }

  serving(): Broker {
    const b = this.broker;
    if (b !== undefined && performance.now() < this.deadline) return b;
    throw unavailable(this.refusal());
  }

  status(): ClusterStatus {
    return { name: this.name, node: this.id, role: this.role, owner: this.owner, takeovers: this.takeovers };
  }

  private refusal(): string {
    const here = `node '${this.id}' of cluster '${this.name}'`;
    if (this.role === 'taking_over') return `${here} is taking over the broker (replaying its log): retry in a moment`;
    if (this.role === 'owner') return `${here} lost its lease (no renewal for ${this.ownership.ttlMs} ms) and takes no requests: another node takes over; retry there`;
    const o = this.owner;
    if (o === undefined || o.node === this.id) {
      return `${here} stands by and no node owns the broker now: one takes over within ${this.ownership.ttlMs} ms; retry then`;
    }
    const where = [o.tcp && `tcp ${o.tcp}`, o.http && `http ${o.http}`, o.grpc && `grpc ${o.grpc}`].filter(Boolean).join(', ');
    return `${here} stands by: node '${o.node}' owns the broker${where ? ` (${where})` : ''}; send requests there`;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => this.schedule());
    }, this.opts.config.cluster.lease_renew);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.role === 'standby') {
      await this.tryTakeOver();
      return;
    }
    await this.renew();
    const failure = this.store?.failure;
    if (failure !== undefined && this.role === 'owner') await this.stepDown(`its store failed: ${failure.message}`, true);
  }

  /**
   * One renewal at a time: two sent with the same revision would refuse
   * each other, and the loser would read it as another owner. (Renewals run
   * on a timer while a takeover replays, and one may outlast the period.)
   */
  private renew(): Promise<void> {
    return (this.renewal ??= this.renewOnce().finally(() => {
      this.renewal = undefined;
    }));
  }

  private async renewOnce(): Promise<void> {
    const sent = performance.now();
    try {
      this.rev = await this.ownership.renew(this.record, this.rev);
      this.deadline = sent + this.lease();
    } catch (err) {
      if (isLost(err)) {
        await this.stepDown('another node holds the ownership record', false);
      } else if (performance.now() >= this.deadline) {
        await this.stepDown(`no renewal within the lease: ${(err as Error).message}`, false);
      } else {
        this.opts.log.warn({ err: (err as Error).message }, 'ownership renewal failed; retrying within the lease');
      }
    }
  }

  /** The lease as this node counts it: the bucket's TTL less a tenth for clocks that run apart. */
  private lease(): number {
    return this.ownership.ttlMs * 0.9;
  }

  private async tryTakeOver(): Promise<void> {
    const log = this.opts.log;
    const sent = performance.now();
    const record: OwnerRecord = { ...this.record, since: Date.now() };
    let rev: number | undefined;
    try {
      rev = await this.ownership.acquire(record);
      if (rev === undefined) {
        const before = this.owner?.node;
        this.owner = await this.ownership.owner();
        if (this.owner?.node !== before) log.info({ owner: this.owner?.node ?? null }, 'standing by');
        return;
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot reach the ownership record; standing by');
      return;
    }
    this.record = record;
    this.rev = rev;
    this.deadline = sent + this.lease();
    this.owner = record;
    this.role = 'taking_over';
    log.info({ cluster: this.name }, 'took the ownership record: replaying the log');
    const started = performance.now();
    // Renewals go on while the log is replayed (a long log must not cost the lease).
    const renewing = setInterval(() => void this.renew(), this.opts.config.cluster.lease_renew);
    let opened: { store: JetStreamStore; broker: Broker; phases: Record<string, number> } | undefined;
    // An attempt fails when an earlier owner appended between the replay and the fence, or when
    // the engine is electing a stream leader: replay again while the lease is still held.
    for (let attempt = 1; opened === undefined; attempt++) {
      try {
        opened = await this.replay(record);
      } catch (err) {
        const last = attempt >= TAKEOVER_ATTEMPTS || this.role !== 'taking_over' || this.closed;
        log[last ? 'error' : 'warn']({ err: (err as Error).message, attempt }, last ? 'takeover failed; giving the ownership record up' : 'takeover attempt failed; replaying again');
        if (!last) {
          await new Promise((r) => setTimeout(r, TAKEOVER_RETRY_MS));
          continue;
        }
        clearInterval(renewing);
        await this.stepDown('the takeover failed', true);
        return;
      }
    }
    const { store, broker, phases } = opened;
    clearInterval(renewing);
    if (this.role !== 'taking_over' || this.closed) {
      // lost the lease while replaying
      await broker.close().catch(() => {});
      return;
    }
    this.store = store;
    this.broker = broker;
    this.role = 'owner';
    this.takeovers++;
    log.info({ cluster: this.name, ms: Math.round(performance.now() - started), ...phases, ...broker.stats() }, 'owner: serving');
    // A long log behind the snapshot makes the next takeover slow: compact it now.
    if (phases.log_messages! > REPLAY_COMPACT_MESSAGES) store.rewrite().catch((err: Error) => log.warn({ err: err.message }, 'rewrite after the takeover failed'));
  }

  /** Opens the stream, replays it into a new broker and fences it; closes what it opened when a step fails. */
  private async replay(record: OwnerRecord): Promise<{ store: JetStreamStore; broker: Broker; phases: Record<string, number> }> {
    const { jetstream, aof } = this.opts.config.persistence;
    const t0 = performance.now();
    const store = await JetStreamStore.open({
      servers: jetstream.servers,
      name: this.name,
      replicas: jetstream.replicas,
      timeoutMs: jetstream.timeout,
      writer: this.id,
      rewriteMinBytes: aof.rewrite_min_size,
    });
    let broker: Broker | undefined;
    try {
      const t1 = performance.now();
      broker = await this.opts.openBroker(store);
      const t2 = performance.now();
      await store.fence(`${this.id} ${record.since}`);
      const ms = (a: number, b: number) => Math.round(b - a);
      return { store, broker, phases: { open_ms: ms(t0, t1), replay_ms: ms(t1, t2), fence_ms: ms(t2, performance.now()), log_messages: store.replayedLogMessages } };
    } catch (err) {
      if (broker !== undefined) await broker.close().catch(() => {});
      else await store.close().catch(() => {});
      throw err;
    }
  }

  private async stepDown(why: string, release: boolean): Promise<void> {
    if (this.role === 'standby') return;
    const broker = this.broker;
    const rev = this.rev;
    const reason = `node '${this.id}' is no longer the owner of cluster '${this.name}' (${why}): reconnect to the owner`;
    // changes still waiting for the engine are answered now, not after their retries
    this.store?.abandon(reason);
    this.broker = undefined;
    this.store = undefined;
    this.role = 'standby';
    this.deadline = 0;
    this.owner = undefined;
    this.opts.log.warn({ why }, 'no longer the owner: standing by');
    if (release) await this.ownership.release(rev).catch(() => {});
    this.owner = await this.ownership.owner().catch(() => undefined);
    await broker?.close(reason).catch(() => {});
  }

  /** Closes the broker (flushing its store) and gives the ownership record up at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.ticking?.catch(() => {});
    const broker = this.broker;
    const owned = this.role !== 'standby';
    this.broker = undefined;
    this.role = 'standby';
    await broker?.close().catch(() => {});
    if (owned) await this.ownership.release(this.rev).catch(() => {});
    await this.nc.close().catch(() => {});
  }
}

/** The host other nodes' answers name: the listening address, or this machine's name when it listens on all. */
function advertisedHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? hostname() : host;
}
