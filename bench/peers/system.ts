/**
 * What a workload needs from a broker, so that one workload definition
 * drives MQLite and each peer alike (adapters: mqlite.ts, redis.ts, nats.ts).
 * Each adapter uses its system's own idiom for a work queue, and says how in
 * `describe`, because "the same workload" only holds to that extent.
 */

/** One work queue, fresh for one measurement. */
export interface BenchQueue {
  /** Publishes one message of the system's 1 KiB payload; resolves on the broker's answer. */
  publish(): Promise<void>;
  /** Takes up to `max` messages (one request where the system has batches), acks them all; resolves with how many. */
  takeAndAck(max: number): Promise<number>;
  /** Push delivery: `onMessage` runs as each message arrives (auto-acked, or acked after the callback). */
  subscribe(onMessage: () => void): Promise<() => Promise<void>>;
  /** Enqueues `count` messages as fast as the system takes them (set-up, not measured). */
  fill(count: number): Promise<void>;
  /** Deletes the queue and what it holds. */
  drop(): Promise<void>;
}

export interface BenchSystem {
  /** Short stable key, e.g. `mqlite-tcp.everysec`, `redis.always`. */
  readonly id: string;
  /** What the table shows, e.g. `MQLite TCP protobuf`. */
  readonly label: string;
  /** How it maps the workloads onto its API and what its durability setting is. */
  readonly describe: string;
  /** The broker's process, for its CPU time. */
  readonly serverPid: number;
  /**
   * `concurrency`: how many requests the workload keeps in flight, so that
   * a client with modes (ioredis auto-pipelining) runs in its best one.
   */
  newQueue(name: string, concurrency: number): Promise<BenchQueue>;
  close(): Promise<void>;
}

/** Payload size of every workload. */
export const PAYLOAD_BYTES = 1024;

/** Runs `op` `count` times with at most `depth` in flight. */
export async function runConcurrently(count: number, depth: number, op: () => Promise<unknown>): Promise<void> {
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < count) {
      started++;
      await op();
    }
  };
  await Promise.all(Array.from({ length: Math.min(depth, count) }, lane));
}
