/**
 * The ownership record of a cluster (docs/DESIGN.md, "Cluster"): one key in
 * a JetStream KV bucket whose TTL is the lease. Whoever creates the key
 * owns the broker; the owner renews it by compare-and-set on its revision;
 * when the owner stops renewing, the bucket's TTL removes the key and a
 * standby's create succeeds. Every write is decided by the engine, so two
 * nodes never both succeed.
 */
import type { JetStreamClient, KV } from 'nats';
import type { OwnerRecord } from '../metrics/source.js';

const KEY = 'owner';

/** The engine refused a compare-and-set: someone else wrote the key. */
export function isLost(err: unknown): boolean {
  return /wrong last sequence|key exists/i.test((err as Error)?.message ?? '');
}

export class Ownership {
  private constructor(
    private readonly kv: KV,
    /** The bucket's TTL in ms: the lease every owner holds. */
    readonly ttlMs: number,
    readonly bucket: string,
  ) {}

  /**
   * Binds the bucket of `cluster`, creating it with `ttlMs` when absent.
   * A bucket made earlier keeps its own TTL, which then is the lease.
   */
  static async open(js: JetStreamClient, cluster: string, ttlMs: number, replicas: number, timeoutMs: number): Promise<Ownership> {
    const bucket = `mqlite_owner_${cluster}`;
    const kv = await js.views.kv(bucket, { ttl: ttlMs, history: 1, replicas, timeout: timeoutMs });
    const status = await kv.status();
    return new Ownership(kv, status.ttl > 0 ? status.ttl : ttlMs, bucket);
  }

  /** Takes ownership if nobody holds it: the record's revision, or undefined when a node does. */
  async acquire(rec: OwnerRecord): Promise<number | undefined> {
    try {
      return await this.kv.create(KEY, JSON.stringify(rec));
    } catch (err) {
      if (isLost(err)) return undefined;
      throw err;
    }
  }

  /** Renews ownership held at revision `rev`: the new revision. Throws (isLost) when another node owns it now. */
  renew(rec: OwnerRecord, rev: number): Promise<number> {
    return this.kv.update(KEY, JSON.stringify(rec), rev);
  }

  /** Gives ownership up, if still held at `rev`, so that a standby need not wait for the TTL. */
  async release(rev: number): Promise<void> {
    await this.kv.delete(KEY, { previousSeq: rev });
  }

  /** The owner as the record says now; undefined when nobody owns the broker. */
  async owner(): Promise<OwnerRecord | undefined> {
    const e = await this.kv.get(KEY);
    if (e === null || e.operation !== 'PUT' || e.value.length === 0) return undefined;
    return JSON.parse(e.string()) as OwnerRecord;
  }
}
