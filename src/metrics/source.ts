/**
 * What the process hands to whichever front serves metrics (today the HTTP
 * front's `GET /metrics`): the store's counters, fsync timings, the other
 * fronts' connection counts and refused API keys. It lives outside the
 * fronts so that the store, the entry point and every front can name it
 * without importing one another.
 */
import { performance } from 'node:perf_hooks';
import { Histogram } from 'prom-client';
import type { AofFiles } from '../aof/files.js';
import type { AuthFailures } from '../auth/api-keys.js';

/** The AOF counters read at each scrape: what `FileStore.stats()` returns. */
export interface AofMetricsStats {
  readonly aofSize: number;
  /** Bytes written to incr files. */
  readonly bytes: number;
  readonly records: number;
  readonly fsyncs: number;
  /** Failed writes and fsyncs. */
  readonly failures: number;
  readonly rewrites: number;
  readonly rewriteFailures: number;
  readonly lastRewriteSeconds: number;
  /** When the last rewrite completed (epoch ms; 0 before the first). */
  readonly lastRewriteAtMs?: number;
  readonly failed: boolean;
  /** Seconds since the AOF failed (0 when it has not). */
  readonly failedSeconds?: number;
  /** Rebuilds from memory that ended a failure. */
  readonly recoveries?: number;
  /** Rebuild attempts that failed. */
  readonly recoveryFailures?: number;
  /** While failed: what failed and what the broker does about it. */
  readonly failure?: string;
}

export interface FrontCounts {
  /** Open client connections. */
  connections?: number;
  /** Open subscriptions (streams). */
  subscriptions?: number;
}

/**
 * What the process gives the HTTP front beyond the broker, all optional
 * (metrics without a source are simply absent).
 */
export interface MetricsSource {
  /** The AOF's counters, e.g. `() => fileStore.stats()`. */
  aof?: () => AofMetricsStats;
  /** Fsync durations: the FsyncTimings whose `wrap()` gave the FileStore its file layer. */
  fsync?: FsyncTimings;
  /** Connections and subscriptions of the other fronts, by front name (`tcp`, `grpc`). */
  fronts?: () => Readonly<Record<string, FrontCounts>>;
  /** Refused API keys of every front, shared by the fronts. */
  auth?: AuthFailures;
  /** This node's role in its cluster (persistence.backend jetstream only). */
  cluster?: () => ClusterStatus;
}

/** A cluster node's role and what it knows of the owner (docs/DESIGN.md, "Cluster"). */
export interface ClusterStatus {
  readonly name: string;
  readonly node: string;
  /** owner: serves; standby: answers UNAVAILABLE naming the owner; taking_over: replaying to serve. */
  readonly role: 'owner' | 'standby' | 'taking_over';
  /** The owner as its ownership record says, when one is known. */
  readonly owner: OwnerRecord | undefined;
  /** Times this node took ownership since it started. */
  readonly takeovers: number;
}

/** The value of the ownership record: who owns the broker and where it listens. */
export interface OwnerRecord {
  readonly node: string;
  /** Unix ms when this tenure began. */
  readonly since: number;
  /** host:port of each enabled front. */
  readonly tcp?: string;
  readonly http?: string;
  readonly grpc?: string;
}

const FSYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Fsync durations held before they enter the histogram: one scrape's worth at a few hundred fsyncs a second. */
const PENDING_FSYNCS = 4096;

/**
 * Times the AOF's fsyncs without touching the store: `wrap()` returns its
 * file layer (FileStoreOptions.fs) with each fdatasync/fsync observed into
 * `mqlite_aof_fsync_duration_seconds`.
 *
 * A duration is stored in a typed array and enters the histogram when it
 * is read (its `collect`, run by every `get()`), or when the array is
 * full. Under `always` with one publisher there is an fsync per publish,
 * too few a second for V8 to optimise prom-client's `observe` (label
 * hashing): it ran in the baseline tier and cost about 3% of the broker's
 * CPU per publish. Every figure read is the same as with an `observe` per
 * fsync.
 */
export class FsyncTimings {
  private readonly pending = new Float64Array(PENDING_FSYNCS);
  private count = 0;

  readonly histogram: Histogram = new Histogram({
    name: 'mqlite_aof_fsync_duration_seconds',
    help: 'Duration of the AOF fsyncs (fdatasync), in seconds.',
    buckets: FSYNC_BUCKETS,
    registers: [],
    collect: () => this.drain(),
  });

  wrap(files: AofFiles): AofFiles {
    const timedSync = (sync: (fd: number) => void) => (fd: number): void => {
      const started = performance.now();
      try {
        sync(fd);
      } finally {
        this.record(started);
      }
    };
    return {
      ...files,
      fdatasync: async (fd) => {
        const started = performance.now();
        try {
          await files.fdatasync(fd);
        } finally {
          this.record(started);
        }
      },
      fdatasyncSync: timedSync((fd) => files.fdatasyncSync(fd)),
      fsyncSync: timedSync((fd) => files.fsyncSync(fd)),
    };
  }

  private record(started: number): void {
    this.pending[this.count++] = (performance.now() - started) / 1000;
    if (this.count === PENDING_FSYNCS) this.drain();
  }

  private drain(): void {
    const n = this.count;
    this.count = 0;
    for (let i = 0; i < n; i++) this.histogram.observe(this.pending[i]!);
  }
}
