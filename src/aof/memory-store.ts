/**
 * The in-memory reference Store: records are encoded exactly as on disk
 * (so the codec is exercised) and kept as buffers. durable() resolves at
 * once. `reopen()` builds a new store over the same records, which is how
 * core tests check recovery without files. It passes the same contract
 * suite as the FileStore (test/aof/store-contract.test.ts).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { decodeFrames, RecordEncoder } from './codec.js';
import type { LogRecord, RecordSink, ReplayStats, RewriteStats, SnapshotSource, Store } from './store.js';
import { StoreUnavailableError } from './errors.js';

const RESOLVED = Promise.resolve();

export class MemoryStore implements Store {
  readonly failure = undefined;
  readonly sink: RecordSink;
  private readonly encoder = new RecordEncoder();
  /** Encoded records, in order; a rewrite replaces the ones its snapshot covers. */
  private chunks: Buffer[];
  private source: SnapshotSource | undefined;
  private rewriting: Promise<RewriteStats> | undefined;
  private closed = false;
  /** Records per snapshot slice before the rewrite yields, so appends can interleave as with files. */
  private readonly sliceRecords: number;

  constructor(records: readonly Buffer[] = [], opts: { sliceRecords?: number } = {}) {
    this.chunks = [...records];
    this.sink = this.encoder;
    this.sliceRecords = opts.sliceRecords ?? 1024;
  }

  /** Every record appended so far, encoded. */
  bytes(): Buffer {
    this.collect();
    return Buffer.concat(this.chunks);
  }

  /** A new store holding the same records: a restart without files. */
  reopen(): MemoryStore {
    return new MemoryStore([this.bytes()], { sliceRecords: this.sliceRecords });
  }

  durable(): Promise<void> {
    this.collect();
    return RESOLVED;
  }

  async replay(apply: (rec: LogRecord) => void): Promise<ReplayStats> {
    this.collect();
    let records = 0;
    let bytes = 0;
    for (const chunk of this.chunks) {
      const res = decodeFrames(chunk, 0, chunk.length, 0, apply);
      if (res.problem !== undefined) {
        throw new Error(`memory AOF: bad record at byte offset ${bytes + res.problem.offset}: ${res.problem.detail}`);
      }
      records += res.records;
      bytes += chunk.length;
    }
    return { records, bytes, truncatedBytes: 0, files: [] };
  }

  setSnapshotSource(source: SnapshotSource): void {
    this.source = source;
  }

  rewrite(): Promise<RewriteStats> {
    if (this.rewriting !== undefined) return this.rewriting;
    if (this.closed) return Promise.reject(new StoreUnavailableError('memory AOF is closed'));
    const source = this.source;
    if (source === undefined) return Promise.reject(new Error('AOF rewrite needs a snapshot source (setSnapshotSource)'));
    this.rewriting = this.runRewrite(source).finally(() => {
      this.rewriting = undefined;
    });
    return this.rewriting;
  }

  /** The same steps as the file store: cut, snapshot at that instant, write in slices, swap. */
  private async runRewrite(source: SnapshotSource): Promise<RewriteStats> {
    const started = performance.now();
    this.collect();
    const covered = this.chunks.length;
    const snap = new RecordEncoder();
    const it = source(snap);
    let n = 0;
    while (it.next().done !== true) {
      if (++n % this.sliceRecords === 0) await yieldToLoop();
    }
    this.collect();
    const base = snap.take();
    this.chunks = [base, ...this.chunks.slice(covered)];
    return { records: snap.records, bytes: base.length, seconds: (performance.now() - started) / 1000 };
  }

  async close(): Promise<void> {
    await this.rewriting?.catch(() => {});
    this.collect();
    this.closed = true;
  }

  private collect(): void {
    if (this.encoder.size > 0) this.chunks.push(this.encoder.take());
  }
}
