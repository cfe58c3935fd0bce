/**
 * The append-only file: every broker mutation, framed and checksummed
 * (codec.ts), in a Redis-7-style multi-part AOF:
 *
 *   <filename>.manifest          which files make up the AOF, in replay order
 *   <filename>.<seq>.base.aof    a compact snapshot written by a rewrite (optional)
 *   <filename>.<seq>.incr.aof    mutations appended since; the last one is live
 *
 * Guarantees (docs/DESIGN.md, "Durability contract (the AOF)"):
 *
 * - A record is acknowledged (its durable() promise resolves) only when it
 *   is written, and under `always` only after an fdatasync that started
 *   after its write. Records of one event-loop turn share one write; under
 *   `always`, records that arrive while an fdatasync runs wait for it and
 *   then share the next one, so concurrent publishers share fsyncs.
 * - A failed write or fdatasync rejects its batch with UNAVAILABLE and
 *   puts the store in the FAILED state: nothing is written after a record
 *   that may be missing (the log would have a hole that replays to a state
 *   that never existed), and every durable() rejects until the AOF is
 *   rebuilt (below). A short write is cut off the file at once (best
 *   effort), so a crash while FAILED leaves a clean log.
 * - FAILED is left only by a rebuild from memory, retried on a timer with
 *   backoff (`retryIntervalMs` doubling to `retryMaxMs`). The records of the
 *   failed batch were applied to memory but may be partly on disk (a short
 *   write under ENOSPC), or not at all (after a failed fdatasync the kernel
 *   may have dropped the dirty pages: the file's contents are unknown and a
 *   later fsync proves nothing). So the old files are never appended to
 *   again: the rebuild writes the broker's state as a new base with a new
 *   incr, fsyncs both and switches the manifest to them atomically, as a
 *   rewrite does. Only then are records acknowledged again. A batch
 *   rejected by a failure was applied in memory: the rebuild keeps it, a
 *   crash before the rebuild may or may not (the same as a timeout).
 * - Startup replays base then incrs. A torn record at the very end of the
 *   last file is cut (logged with the bytes dropped) before anything new is
 *   appended; a bad record anywhere else stops startup naming file and offset.
 * - The manifest is only ever replaced atomically (manifest.ts). Every file
 *   it lists exists before it is listed and is deleted only after a manifest
 *   without it is in place, so a crash at any instant leaves a loadable AOF
 *   with every acknowledged record; files it does not list are leftovers of
 *   an interrupted rewrite and are deleted at the next open.
 *
 * States of the store:
 *
 *   OPEN ──replay()──> REPLAYED ──close()──> CLOSED
 *                          │  ↑
 *              rewrite()   │  │ new base in place
 *                          ↓  │
 *                       REWRITING (appends go on, to the new incr)
 *   any state ──write/fsync error──> FAILED (every durable() rejects; records are dropped)
 *   FAILED ──retry timer──> REBUILDING ──manifest switched──> REPLAYED
 *                              └──attempt failed──> FAILED (next retry later)
 *
 * Rebuild (REBUILDING), with N+1 the next sequence number:
 *   1. synchronously: create an empty, unlisted incr N+1, drop the records
 *      not yet written (the changes they log are in memory) and take the
 *      snapshot; records made from here on (deliveries, expiries: the
 *      broker refuses client mutations while FAILED) are written to incr
 *      N+1, so base N+1 + incr N+1 replays to the live state;
 *   2. write base N+1 as a rewrite does (step 3 below); fdatasync incr N+1;
 *   3. switch the manifest to base N+1 + incr N+1 (the old incr is never
 *      listed before a new one, so a torn tail in it stays at the end);
 *   4. appends go to incr N+1, FAILED is left, the old files are deleted.
 *   A failed attempt deletes what it made and leaves the old AOF untouched.
 *
 * Rewrite, in the manner of Redis 7, with N+1 the next sequence number:
 *   1. create an empty incr N+1 and switch the manifest to old base + old
 *      incrs + incr N+1 (appends still go to the old incr, listed before
 *      it); then, synchronously, write the pending batch to the old incr,
 *      move appends to incr N+1, and fdatasync the old incr in the
 *      background (its records live only there until step 4);
 *   2. in that same synchronous stretch, ask the snapshot source for the
 *      state: it equals the replay of every record written before incr
 *      N+1, so base N+1 + incr N+1 replays to the live state;
 *   3. write the snapshot to base N+1 .tmp in slices, yielding to the event
 *      loop between them (fdatasync every 32 MiB so the kernel never
 *      flushes a gigabyte at once); fsync it, rename it to its final name;
 *   4. switch the manifest to base N+1 + incrs from N+1 on;
 *   5. delete the old base and incrs.
 *   A crash before 4 loads the old files plus incr N+1; after it, the new
 *   ones. Every step that waits for the disk runs off the event loop.
 */
import * as path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { RecordEncoder } from './codec.js';
import { type DirLock, lockDir } from './dir-lock.js';
import { AofCorruptError, StoreUnavailableError } from './errors.js';
import { nodeFiles, osError, type AofFiles } from './files.js';
import {
  aofFileName,
  isAofArtifact,
  manifestName,
  readManifest,
  seqOf,
  tailFileIndex,
  writeManifest,
  type ManifestEntry,
} from './manifest.js';
import { scanFile } from './reader.js';
import type {
  FsyncPolicy,
  LogRecord,
  RecordSink,
  ReplayStats,
  RewriteStats,
  SnapshotSource,
  Store,
} from './store.js';

export interface FileStoreOptions {
  readonly dir: string;
  /** Base name of the AOF files (default `appendonly.aof`). */
  readonly filename?: string;
  readonly fsync: FsyncPolicy;
  /** No automatic rewrite while the AOF is smaller than this (bytes). */
  readonly rewriteMinSize: number;
  /** Automatic rewrite once the AOF grew by this % since the last rewrite (0 disables it). */
  readonly rewritePercentage: number;
  /** Structured logger (warnings on torn tails, errors on failed writes); silent when omitted. */
  readonly logger?: Logger;
  /** The file layer; tests inject faults through it. */
  readonly fs?: AofFiles;
  /** After a failed write or fsync, first rebuild attempt after this long, then doubling (default 1 s). */
  readonly retryIntervalMs?: number;
  /** Longest wait between rebuild attempts (default 30 s, or retryIntervalMs when longer). */
  readonly retryMaxMs?: number;
  /** Under `always`, batches of at most this many records are fdatasynced on the event loop (default 4; 0: never). */
  readonly inlineSyncMaxRecords?: number;
}

export interface FileStoreStats {
  /** Bytes written to incr files. */
  readonly bytes: number;
  readonly records: number;
  /** Writes of a batch (group commits). */
  readonly batches: number;
  readonly fsyncs: number;
  /** Failed writes and fsyncs. */
  readonly failures: number;
  readonly rewrites: number;
  readonly rewriteFailures: number;
  readonly lastRewriteSeconds: number;
  /** When the last rewrite completed (epoch ms; 0 before the first). */
  readonly lastRewriteAtMs: number;
  /** Current size of base + incr files. */
  readonly aofSize: number;
  /** Size of the AOF after the last rewrite (or at open): the reference for rewritePercentage. */
  readonly rewriteBaseSize: number;
  readonly failed: boolean;
  /** Seconds since the store entered FAILED (0 when not failed). */
  readonly failedSeconds: number;
  /** While FAILED: the message mutations are refused with. */
  readonly failure: string | undefined;
  /** Rebuilds from memory that ended a FAILED state. */
  readonly recoveries: number;
  /** Rebuild attempts that failed (the store stayed FAILED). */
  readonly recoveryFailures: number;
}

export const DEFAULT_AOF_FILENAME = 'appendonly.aof';
/** A rewrite slice ends after this many bytes or this many ms, whichever first. */
const REWRITE_SLICE_BYTES = 1024 * 1024;
const REWRITE_SLICE_MS = 4;
/** Room for a slice plus the last step of the snapshot iterator that overshot it. */
const REWRITE_SLAB_BYTES = 4 * REWRITE_SLICE_BYTES;
const REWRITE_SYNC_EVERY_BYTES = 32 * 1024 * 1024;
/** After a failed automatic rewrite, wait this long before trying again. */
const AUTO_REWRITE_BACKOFF_MS = 60_000;
const APPEND_SLAB_BYTES = 256 * 1024;
const DEFAULT_RETRY_INTERVAL_MS = 1000;
const DEFAULT_RETRY_MAX_MS = 30_000;
/**
 * Under `always`, a batch of at most this many records (a client or two
 * waiting) is fdatasynced on the event loop, as Redis does: those clients
 * wait for the sync either way, and inline it saves the thread pool's round
 * trip (a worker woken, its completion signalled back through another loop
 * turn), which was about half the broker's CPU per publish with one
 * publisher waiting. A larger batch (many clients) is synced on the thread
 * pool, so that the loop goes on reading and applying the next batch while
 * the disk works. Either way, records that arrive during a sync share the
 * next one (docs/DESIGN.md, "fsync policies").
 */
const INLINE_SYNC_MAX_RECORDS = 4;

/** The incr a rebuild writes to while it runs, and what went wrong with it. */
interface Rebuild {
  readonly fd: number;
  readonly path: string;
  bytes: number;
  records: number;
  error: unknown;
}

/** One group commit: every record appended between two writes shares it. */
interface Batch {
  readonly promise: Promise<void>;
  settled: boolean;
  resolve(): void;
  reject(err: Error): void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Appends that nobody awaited must not turn a failure into an unhandled rejection.
  promise.catch(() => {});
  const batch: Batch = {
    promise,
    settled: false,
    resolve() {
      batch.settled = true;
      resolve();
    },
    reject(err) {
      batch.settled = true;
      reject(err);
    },
  };
  return batch;
}

const RESOLVED = Promise.resolve();

export class FileStore implements Store {
  readonly sink: RecordSink;
  private readonly encoder: RecordEncoder;
  private readonly files: AofFiles;
  private readonly log: Logger;
  private readonly dir: string;
  private readonly filename: string;
  private readonly policy: FsyncPolicy;
  private readonly rewriteMinSize: number;
  private readonly rewritePercentage: number;

  private manifest: ManifestEntry[];
  private nextSeq: number;
  /** Append descriptor of the last incr file. */
  private fd: number;
  private incrPath: string;
  private aofSize: number;
  /** Size of the live incr file. */
  private incrSize: number;
  private rewriteBaseSize: number;

  /** Records encoded and not yet written. */
  private pending: Batch | undefined;
  /** Written, waiting for the fdatasync that covers it (`always`). */
  private unsynced: Batch | undefined;
  private flushScheduled = false;
  /** The fdatasync of the append file now running, if any. */
  private inFlightSync: Promise<void> | undefined;
  /** Written since the last fdatasync (`everysec`). */
  private dirty = false;
  failure: StoreUnavailableError | undefined;
  /** What failed first, for the messages: "write of <file> failed (ENOSPC: ...)". */
  private failureCause = '';
  /** Why the last rebuild attempt failed, if one did. */
  private lastAttemptError = '';
  private failedAt = 0;
  private readonly inlineSyncMaxRecords: number;
  private readonly retryIntervalMs: number;
  private readonly retryMaxMs: number;
  private retryDelay: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private rebuild: Rebuild | undefined;
  private rebuilding: Promise<void> | undefined;
  private replayState: 'pending' | 'running' | 'done';
  private replayCalled = false;
  private closed = false;
  /** The directory's lock, held from open to close. */
  private lock: DirLock | undefined;
  private closing: Promise<void> | undefined;
  private rewriting: Promise<RewriteStats> | undefined;
  private abortRewrite = false;
  private source: SnapshotSource | undefined;
  private autoRewriteAfter = 0;
  private readonly timer: NodeJS.Timeout | undefined;
  private recordsTaken = 0;
  private readonly counters = {
    bytes: 0,
    records: 0,
    batches: 0,
    fsyncs: 0,
    failures: 0,
    rewrites: 0,
    rewriteFailures: 0,
    lastRewriteSeconds: 0,
    lastRewriteAtMs: 0,
    recoveries: 0,
    recoveryFailures: 0,
  };

  private constructor(
    opts: FileStoreOptions,
    files: AofFiles,
    filename: string,
    manifest: ManifestEntry[],
    nextSeq: number,
    fd: number,
    aofSize: number,
    incrSize: number,
  ) {
    this.files = files;
    this.log = opts.logger ?? pino({ enabled: false });
    this.dir = opts.dir;
    this.filename = filename;
    this.policy = opts.fsync;
    this.rewriteMinSize = opts.rewriteMinSize;
    this.rewritePercentage = opts.rewritePercentage;
    this.inlineSyncMaxRecords = opts.inlineSyncMaxRecords ?? INLINE_SYNC_MAX_RECORDS;
    this.retryIntervalMs = Math.max(1, opts.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS);
    this.retryMaxMs = Math.max(this.retryIntervalMs, opts.retryMaxMs ?? DEFAULT_RETRY_MAX_MS);
    this.retryDelay = this.retryIntervalMs;
    this.manifest = manifest;
    this.nextSeq = nextSeq;
    this.fd = fd;
    this.incrPath = path.join(this.dir, manifest[manifest.length - 1]!.name);
    this.aofSize = aofSize;
    this.incrSize = incrSize;
    // As Redis does, growth is measured from the size found at startup.
    this.rewriteBaseSize = aofSize;
    // Nothing to replay means nothing torn to cut: appends may start at once.
    this.replayState = aofSize === 0 ? 'done' : 'pending';
    this.encoder = new RecordEncoder(APPEND_SLAB_BYTES, () => {
      if (this.pending === undefined) {
        this.pending = newBatch();
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(this.flushTick);
        }
      }
    });
    this.sink = this.encoder;
    if (this.policy === 'everysec') {
      this.timer = setInterval(() => this.backgroundSync(), 1000);
      this.timer.unref();
    }
  }

  /**
   * Opens (or creates) the AOF in `opts.dir`. Leftovers of an interrupted
   * rewrite are deleted; files the manifest lists but that are missing, or
   * AOF files without a manifest, stop the open: starting fresh over them
   * would silently drop acknowledged records.
   */
  static async open(opts: FileStoreOptions): Promise<FileStore> {
    const files = opts.fs ?? nodeFiles;
    const filename = opts.filename ?? DEFAULT_AOF_FILENAME;
    if (!/^[A-Za-z0-9._-]+$/.test(filename)) {
      throw new Error(`AOF filename "${filename}" may only hold letters, digits, '.', '_' and '-'`);
    }
    const dir = opts.dir;
    files.mkdir(dir);
    // Before anything is read: a second broker on this directory stops here (docs/DESIGN.md, "One broker per AOF directory").
    const lock = lockDir(dir, (stale) =>
      opts.logger?.warn({ dir, stale_pid: stale.pid, since: stale.since }, 'taking over the AOF directory lock of a process that is gone'),
    );
    try {
      const store = await FileStore.openLocked(opts, files, filename, dir);
      store.lock = lock;
      return store;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  private static async openLocked(opts: FileStoreOptions, files: AofFiles, filename: string, dir: string): Promise<FileStore> {
    const names = files.list(dir);
    let manifest = readManifest(files, dir, filename);
    let maxSeq = 0;
    for (const name of names) maxSeq = Math.max(maxSeq, seqOf(filename, name));
    if (manifest === undefined) {
      const orphans = names.filter((n) => isAofArtifact(filename, n) && !n.endsWith('.tmp'));
      if (orphans.length > 0) {
        throw new Error(
          `${dir} holds AOF files (${orphans.join(', ')}) but no ${manifestName(filename)}: ` +
            `refusing to start empty over them; restore the manifest or move the files away`,
        );
      }
      manifest = [];
    }
    const listed = new Set(manifest.map((e) => e.name));
    const present = new Set(names);
    for (const e of manifest) {
      if (!present.has(e.name)) {
        throw new Error(
          `${path.join(dir, e.name)} is listed in ${manifestName(filename)} but missing; ` +
            `run \`mqlite-cli aof check ${dir}\``,
        );
      }
      maxSeq = Math.max(maxSeq, e.seq);
    }
    for (const name of names) {
      if (isAofArtifact(filename, name) && !listed.has(name)) {
        // Written by a rewrite or manifest switch that never completed: no manifest refers to it.
        opts.logger?.info({ file: path.join(dir, name) }, 'deleting AOF file left over by an interrupted rewrite');
        files.unlink(path.join(dir, name));
      }
    }
    if (manifest.length === 0 || manifest[manifest.length - 1]!.type !== 'incr') {
      const seq = ++maxSeq;
      const entry: ManifestEntry = { name: aofFileName(filename, seq, 'incr'), seq, type: 'incr' };
      files.close(files.open(path.join(dir, entry.name), 'a'));
      manifest = [...manifest, entry];
      await writeManifest(files, dir, filename, manifest);
    }
    let aofSize = 0;
    for (const e of manifest.slice(0, -1)) {
      const fd = files.open(path.join(dir, e.name), 'r');
      try {
        aofSize += files.size(fd);
      } finally {
        files.close(fd);
      }
    }
    const fd = files.open(path.join(dir, manifest[manifest.length - 1]!.name), 'a');
    const incrSize = files.size(fd);
    aofSize += incrSize;
    return new FileStore(opts, files, filename, manifest, maxSeq + 1, fd, aofSize, incrSize);
  }

  // -------------------------------------------------------------------------
  // Appending

  durable(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.pending !== undefined) return this.pending.promise;
    if (this.unsynced !== undefined && !this.unsynced.settled) return this.unsynced.promise;
    return RESOLVED;
  }

  private readonly flushTick = (): void => {
    this.flushScheduled = false;
    this.flushNow();
  };

  /** Writes the pending batch, unless it must wait (replay running, fdatasync running under `always`). */
  private flushNow(): void {
    const batch = this.pending;
    if (batch === undefined) return;
    if (this.rebuild !== undefined) {
      this.writeToRebuild(batch);
      return;
    }
    if (this.failure !== undefined || this.closed) {
      this.dropPending(this.failure ?? new StoreUnavailableError(`AOF in ${this.dir} is closed`));
      return;
    }
    if (this.replayState === 'running') return; // replay() flushes when it is done
    if (this.replayState === 'pending') {
      // The tail may be torn: appending after it would bury it in the middle of the log.
      this.fail('append', this.incrPath, new Error('records appended before replay() read the existing AOF'), batch);
      return;
    }
    if (this.policy === 'always' && this.inFlightSync !== undefined) return; // the sync's end flushes
    this.pending = undefined;
    const fd = this.fd;
    const file = this.incrPath;
    const records = this.encoder.records - this.recordsTaken;
    if (!this.writeTaken(fd, file, batch)) return;
    if (this.policy === 'always') {
      if (records <= this.inlineSyncMaxRecords) {
        this.syncInline(fd, file, batch);
      } else {
        this.unsynced = batch;
        this.startSync(fd, file, batch);
      }
    } else {
      this.dirty = true;
      batch.resolve();
    }
    this.maybeAutoRewrite();
  }

  /** Writes every encoded byte to `fd`; on failure the batch is rejected and the store fails. */
  private writeTaken(fd: number, file: string, batch: Batch): boolean {
    const bytes = this.encoder.take();
    const records = this.encoder.records - this.recordsTaken;
    this.recordsTaken = this.encoder.records;
    try {
      this.files.writeSync(fd, bytes);
    } catch (err) {
      // A short write (ENOSPC) left part of a record: cut it, so that the
      // file stays a clean run of records should the process stop while
      // FAILED (this incr may not be the last file listed during a rewrite).
      try {
        this.files.truncate(fd, this.incrSize);
      } catch {
        // a torn tail of the last file is cut at the next start anyway
      }
      this.fail('write', file, err, batch);
      return false;
    }
    // The kernel has the bytes: the slab can take the next batch.
    this.encoder.recycle();
    this.counters.bytes += bytes.length;
    this.counters.records += records;
    this.counters.batches++;
    this.aofSize += bytes.length;
    this.incrSize += bytes.length;
    return true;
  }

  private dropPending(err: StoreUnavailableError): void {
    const batch = this.pending;
    this.pending = undefined;
    this.encoder.discard();
    this.recordsTaken = this.encoder.records;
    batch?.reject(err);
  }

  /** Starts an fdatasync of `fd` (after `after`, when given) that acknowledges `batch`. */
  private startSync(fd: number, file: string, batch: Batch | undefined, after?: Promise<void>): void {
    const run = after === undefined ? this.files.fdatasync(fd) : after.then(() => this.files.fdatasync(fd));
    const sync: Promise<void> = run.then(
      () => {
        this.counters.fsyncs++;
        // After a failed fsync the kernel may have dropped dirty pages: a later success proves nothing.
        if (this.failure !== undefined) batch?.reject(this.inDoubt());
        else batch?.resolve();
      },
      (err: unknown) => this.fail('fdatasync', file, err, batch),
    ).then(() => {
      if (this.inFlightSync === sync) this.inFlightSync = undefined;
      if (this.unsynced === batch) this.unsynced = undefined;
      // Under `always` the batch that gathered during this sync goes out now.
      if (this.policy === 'always' && this.pending !== undefined) this.flushNow();
    });
    this.inFlightSync = sync;
  }

  /** fdatasync of `fd` on the event loop (see INLINE_SYNC_MAX_RECORDS), then `batch` is answered. */
  private syncInline(fd: number, file: string, batch: Batch): void {
    try {
      this.files.fdatasyncSync(fd);
    } catch (err) {
      this.fail('fdatasync', file, err, batch);
      return;
    }
    this.counters.fsyncs++;
    batch.resolve();
  }

  private backgroundSync(): void {
    if (!this.dirty || this.inFlightSync !== undefined || this.failure !== undefined || this.closed) return;
    this.dirty = false;
    this.startSync(this.fd, this.incrPath, undefined);
  }

  /**
   * FAILED: from here on nothing is written to the current files and every
   * durable() rejects, until a rebuild from memory succeeds (see the header).
   */
  private fail(op: string, file: string, err: unknown, batch: Batch | undefined): void {
    this.counters.failures++;
    const first = this.failure === undefined;
    this.log.error(
      { file, op, code: errorCode(err), err: osError(err) },
      first ? 'AOF write failed: changes are refused until the AOF is rebuilt from memory' : 'AOF write failed',
    );
    if (first) {
      this.failedAt = Date.now();
      this.failureCause = `${op} of ${file} failed (${osError(err)})`;
      this.lastAttemptError = '';
      this.retryDelay = this.retryIntervalMs;
      this.failure = this.refusal();
      this.scheduleRebuild();
    }
    // A rebuild whose records went missing must not switch to its files.
    if (this.rebuild !== undefined) this.rebuild.error ??= err;
    const inDoubt = this.inDoubt();
    batch?.reject(inDoubt);
    if (this.pending !== undefined) this.dropPending(inDoubt);
  }

  /** What every durable() answers while FAILED (the broker refuses mutations with it up front). */
  private refusal(): StoreUnavailableError {
    const last = this.lastAttemptError === '' ? '' : ` (last attempt: ${this.lastAttemptError})`;
    return new StoreUnavailableError(
      `AOF ${this.failureCause}; changes are refused until the AOF is rebuilt from memory, ` +
        `retrying every ${seconds(this.retryDelay)}${last}; reads are still served`,
    );
  }

  /** The answer to a change whose record was lost or may be: it is applied in memory, not durable. */
  private inDoubt(): StoreUnavailableError {
    return new StoreUnavailableError(
      `AOF ${this.failureCause}: this change is applied in memory but not durable, so it may or may not ` +
        `survive a restart, as after a timeout (a publish retried with the same dedup_id is exact); ` +
        `changes are refused until the AOF is rebuilt from memory, retrying every ${seconds(this.retryDelay)}; ` +
        `reads are still served`,
    );
  }

  // -------------------------------------------------------------------------
  // Rebuild (leaving FAILED)

  private scheduleRebuild(): void {
    if (this.retryTimer !== undefined || this.closing !== undefined || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.rebuilding = this.attemptRebuild().finally(() => {
        this.rebuilding = undefined;
      });
    }, this.retryDelay);
    this.retryTimer.unref();
  }

  /**
   * REBUILDING: the records made since the snapshot go to the new incr, in
   * order, after it. Their batch still rejects: nothing is acknowledged
   * before the manifest names the new files (and no client waits on these:
   * the broker refuses client mutations while FAILED).
   */
  private writeToRebuild(batch: Batch): void {
    const r = this.rebuild!;
    this.pending = undefined;
    const bytes = this.encoder.take();
    const records = this.encoder.records - this.recordsTaken;
    this.recordsTaken = this.encoder.records;
    if (r.error === undefined) {
      try {
        this.files.writeSync(r.fd, bytes);
        r.bytes += bytes.length;
        r.records += records;
      } catch (err) {
        r.error = err;
        try {
          this.files.truncate(r.fd, r.bytes);
        } catch {
          // the attempt fails and deletes this file anyway
        }
      }
    }
    this.encoder.recycle();
    batch.reject(this.failure ?? this.inDoubt());
  }

  /** One rebuild attempt (steps in the header); on failure the next one is scheduled. */
  private async attemptRebuild(): Promise<void> {
    // Nothing else may write the files meanwhile: a rewrite stops at its next slice once FAILED.
    if (this.rewriting !== undefined) await this.rewriting.catch(() => {});
    while (this.inFlightSync !== undefined) await this.inFlightSync;
    if (this.closing !== undefined || this.closed || this.failure === undefined) return;
    const source = this.source;
    if (source === undefined || this.replayState !== 'done') {
      const why = source === undefined ? 'no snapshot source to rebuild the AOF from' : 'the AOF was never replayed';
      this.attemptFailed(this.dir, new Error(why));
      return;
    }
    const started = performance.now();
    const seq = this.nextSeq++;
    const incr: ManifestEntry = { name: aofFileName(this.filename, seq, 'incr'), seq, type: 'incr' };
    const base: ManifestEntry = { name: aofFileName(this.filename, seq, 'base'), seq, type: 'base' };
    const incrPath = path.join(this.dir, incr.name);
    const basePath = path.join(this.dir, base.name);
    const snap = new RecordEncoder(REWRITE_SLAB_BYTES);
    let step = incrPath;
    let rebuild: Rebuild | undefined;
    let baseSize = 0;
    let tmpFd = -1;
    try {
      const fd = this.files.open(incrPath, 'w');
      rebuild = { fd, path: incrPath, bytes: 0, records: 0, error: undefined };
      step = `${basePath}.tmp`;
      // Opened before the snapshot is taken: a snapshot never started is never cleaned up.
      tmpFd = this.files.open(step, 'w');
      // Step 1, with no await: the snapshot holds every change made so far, so their unwritten records go.
      this.dropPending(this.inDoubt());
      const r = (this.rebuild = rebuild);
      const it = source(snap);
      const baseFd = tmpFd;
      tmpFd = -1; // writeBase owns it from here, and closes it on failure
      baseSize = await this.writeBase(
        it,
        snap,
        basePath,
        () => (this.closing !== undefined ? new Error('AOF rebuild abandoned: the store is closing') : r.error),
        baseFd,
      );
      step = incrPath;
      if (this.pending !== undefined) this.writeToRebuild(this.pending);
      if (r.error !== undefined) throw r.error;
      await this.files.fdatasync(fd);
      if (r.error !== undefined) throw r.error;
      step = path.join(this.dir, manifestName(this.filename));
      await writeManifest(this.files, this.dir, this.filename, [base, incr]);
    } catch (err) {
      this.rebuild = undefined;
      if (tmpFd >= 0) {
        try {
          this.files.close(tmpFd); // opened, but writeBase was never reached
        } catch {
          // dropped below
        }
      }
      if (rebuild !== undefined) {
        try {
          this.files.close(rebuild.fd);
        } catch {
          // nothing more to lose: the file is dropped below
        }
      }
      this.dropUnlisted(incr.name, [incrPath, basePath, `${basePath}.tmp`]);
      this.attemptFailed(step, err);
      return;
    }
    // Step 4, synchronous: from here on the new files are the AOF.
    const r = rebuild;
    const oldFd = this.fd;
    this.rebuild = undefined;
    this.fd = r.fd;
    this.incrPath = incrPath;
    this.incrSize = r.bytes;
    this.manifest = [base, incr];
    this.aofSize = baseSize + r.bytes;
    this.rewriteBaseSize = this.aofSize;
    // Records written after the incr's fdatasync (while the manifest was switched) are not synced yet.
    this.dirty = true;
    const downSeconds = (Date.now() - this.failedAt) / 1000;
    const cause = this.failureCause;
    this.failure = undefined;
    this.failureCause = '';
    this.lastAttemptError = '';
    this.retryDelay = this.retryIntervalMs;
    this.counters.recoveries++;
    try {
      this.files.close(oldFd);
    } catch (err) {
      this.log.warn({ file: this.incrPath, err: osError(err) }, 'could not close the old AOF incr file');
    }
    await this.deleteUnlisted();
    this.log.info(
      {
        file: basePath,
        records: snap.records + r.records,
        bytes: baseSize + r.bytes,
        downSeconds,
        rebuildSeconds: (performance.now() - started) / 1000,
        cause,
      },
      `AOF rebuilt from memory after ${downSeconds.toFixed(1)} s: changes are accepted again`,
    );
    if (r.error !== undefined) this.fail('write', incrPath, r.error, undefined);
  }

  private attemptFailed(file: string, err: unknown): void {
    this.counters.recoveryFailures++;
    this.lastAttemptError = `${osError(err)} at ${file}`;
    this.retryDelay = Math.min(this.retryDelay * 2, this.retryMaxMs);
    this.failure = this.refusal();
    this.log.warn(
      {
        file,
        code: errorCode(err),
        err: osError(err),
        attempt: this.counters.recoveryFailures,
        retryInMs: this.retryDelay,
        failedSeconds: (Date.now() - this.failedAt) / 1000,
      },
      'AOF rebuild failed: changes stay refused; retrying',
    );
    this.scheduleRebuild();
  }

  /**
   * After a failed attempt, deletes its files unless the manifest on disk
   * names them: writeManifest renames before it fsyncs the directory, so a
   * failure there may leave the switch done. Those files are then complete
   * and stay until a later switch makes them leftovers.
   */
  private dropUnlisted(incrName: string, paths: readonly string[]): void {
    let listed: boolean;
    try {
      listed = (readManifest(this.files, this.dir, this.filename) ?? []).some((e) => e.name === incrName);
    } catch {
      listed = true; // unreadable now: keep everything, the next open sorts it out
    }
    if (listed) return;
    for (const p of paths) {
      try {
        this.files.unlink(p);
      } catch {
        // a leftover is deleted after the next switch or at the next open
      }
    }
  }

  /** AOF files no manifest refers to any more (the old AOF after a rebuild, an attempt's leftovers). */
  private async deleteUnlisted(): Promise<void> {
    const listed = new Set(this.manifest.map((e) => e.name));
    let names: string[];
    try {
      names = this.files.list(this.dir);
    } catch (err) {
      this.log.warn({ dir: this.dir, err: osError(err) }, 'could not list the AOF directory to delete old files');
      return;
    }
    const old = names.filter((name) => isAofArtifact(this.filename, name) && !listed.has(name));
    await Promise.all(old.map((name) => this.removeOld(path.join(this.dir, name))));
  }

  /** Deletes an AOF file no manifest lists any more, off the event loop; a failure is logged (the next open deletes it). */
  private removeOld(file: string): Promise<void> {
    return this.files.remove(file).catch((err: unknown) => this.log.warn({ file, err: osError(err) }, 'could not delete an old AOF file'));
  }

  // -------------------------------------------------------------------------
  // Replay

  async replay(apply: (rec: LogRecord) => void): Promise<ReplayStats> {
    if (this.replayCalled || this.counters.batches > 0) throw new Error('replay() runs once, before any append');
    this.replayCalled = true;
    this.replayState = 'running';
    let records = 0;
    let bytes = 0;
    let truncatedBytes = 0;
    const fileNames: string[] = [];
    try {
      // Appends go to one file at a time, so a crash mid-write tears only that one: the last file
      // listed, or one followed only by empty incrs (a rewrite lists its new incr before appends
      // move there, and the old incr takes writes until then). That file may end torn.
      const tail = tailFileIndex(this.files, this.dir, this.manifest);
      for (let i = 0; i < this.manifest.length; i++) {
        const file = path.join(this.dir, this.manifest[i]!.name);
        const last = i === tail;
        fileNames.push(file);
        const res = await scanFile(this.files, file, apply, { lastFile: last });
        records += res.records;
        bytes += res.size;
        const p = res.problem;
        if (p === undefined) continue;
        if (!(last && p.torn)) throw new AofCorruptError(file, p.offset, p.detail, this.dir);
        truncatedBytes = res.size - p.offset;
        bytes -= truncatedBytes;
        this.log.warn(
          { file, offset: p.offset, droppedBytes: truncatedBytes, reason: p.detail },
          `AOF ends with a torn record (crash mid-write): dropping the last ${truncatedBytes} bytes of ${file}`,
        );
        // Cut before anything is appended, or the torn bytes would end up in the middle of the log.
        if (i === this.manifest.length - 1) {
          this.files.truncate(this.fd, p.offset);
          this.files.fdatasyncSync(this.fd);
          this.incrSize -= truncatedBytes;
        } else {
          const fd = this.files.open(file, 'r+');
          try {
            this.files.truncate(fd, p.offset);
            this.files.fdatasyncSync(fd);
          } finally {
            this.files.close(fd);
          }
        }
        this.aofSize -= truncatedBytes;
        this.rewriteBaseSize = this.aofSize;
      }
    } catch (err) {
      this.replayState = 'pending';
      throw err;
    }
    this.replayState = 'done';
    if (this.pending !== undefined) this.flushNow();
    return { records, bytes, truncatedBytes, files: fileNames };
  }

  // -------------------------------------------------------------------------
  // Rewrite

  setSnapshotSource(source: SnapshotSource): void {
    this.source = source;
  }

  rewrite(): Promise<RewriteStats> {
    if (this.rewriting !== undefined) return this.rewriting;
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed || this.closing !== undefined) return Promise.reject(new Error(`AOF in ${this.dir} is closed`));
    if (this.source === undefined) return Promise.reject(new Error('AOF rewrite needs a snapshot source (setSnapshotSource)'));
    if (this.replayState !== 'done') return Promise.reject(new Error('AOF rewrite before replay()'));
    const run = this.runRewrite(this.source).finally(() => {
      this.rewriting = undefined;
    });
    this.rewriting = run;
    return run;
  }

  private maybeAutoRewrite(): void {
    if (this.rewriting !== undefined || this.source === undefined || this.rewritePercentage <= 0) return;
    if (this.aofSize < this.rewriteMinSize) return;
    const base = this.rewriteBaseSize;
    if (base > 0 && (this.aofSize - base) * 100 < base * this.rewritePercentage) return;
    if (Date.now() < this.autoRewriteAfter) return;
    this.log.info({ aofSize: this.aofSize, rewriteBaseSize: base }, 'AOF grew past the rewrite threshold: rewriting');
    this.rewrite().catch(() => {
      this.autoRewriteAfter = Date.now() + AUTO_REWRITE_BACKOFF_MS;
    });
  }

  private async runRewrite(source: SnapshotSource): Promise<RewriteStats> {
    const started = performance.now();
    const incr = await this.listNewIncr();
    const oldFiles = this.manifest;
    // Steps 1 and 2 run with no await between them: the snapshot is the state after exactly the records in oldFiles.
    this.switchAppends(incr);
    const snap = new RecordEncoder(REWRITE_SLAB_BYTES);
    const baseName = aofFileName(this.filename, incr.entry.seq, 'base');
    const basePath = path.join(this.dir, baseName);
    let baseSize: number;
    try {
      // Opened before the snapshot is taken: a snapshot never started is never cleaned up.
      const tmpFd = this.files.open(`${basePath}.tmp`, 'w');
      const it = source(snap);
      baseSize = await this.writeBase(
        it,
        snap,
        basePath,
        () => {
          if (this.abortRewrite) return new Error('rewrite abandoned: the store is closing');
          if (this.failure !== undefined) return new Error('rewrite abandoned: an AOF write failed, the AOF is rebuilt from memory instead');
          return undefined;
        },
        tmpFd,
      );
      // Step 4: from here on the new base is the AOF.
      const next: ManifestEntry[] = [
        { name: baseName, seq: incr.entry.seq, type: 'base' },
        ...this.manifest.filter((e) => e.type === 'incr' && e.seq >= incr.entry.seq),
      ];
      await writeManifest(this.files, this.dir, this.filename, next);
      this.manifest = next;
    } catch (err) {
      throw this.rewriteFailed(`${basePath}.tmp`, err);
    }
    // Step 5: nothing refers to the old files any more.
    await Promise.all(oldFiles.map((e) => this.removeOld(path.join(this.dir, e.name))));
    const seconds = (performance.now() - started) / 1000;
    this.aofSize = baseSize + this.incrSize;
    this.rewriteBaseSize = this.aofSize;
    this.counters.rewrites++;
    this.counters.lastRewriteSeconds = seconds;
    this.counters.lastRewriteAtMs = Date.now();
    this.log.info({ file: basePath, records: snap.records, bytes: baseSize, seconds }, 'AOF rewrite done');
    return { records: snap.records, bytes: baseSize, seconds };
  }

  /**
   * Rewrite step 3, also the rebuild's: writes the snapshot to
   * `<basePath>.tmp` in slices of at most REWRITE_SLICE_BYTES /
   * REWRITE_SLICE_MS, the next one encoded while the last is written,
   * yielding to the event loop between them (fdatasync every 32 MiB so the
   * kernel never flushes a gigabyte at once); fsyncs it, renames it to
   * `basePath` and fsyncs the directory. Returns its size. When a write
   * fails or `stop()` returns an error, the .tmp is deleted and that error
   * thrown.
   */
  private async writeBase(it: Iterator<void>, snap: RecordEncoder, basePath: string, stop: () => unknown, openedFd = -1): Promise<number> {
    const tmpPath = `${basePath}.tmp`;
    let tmpFd = openedFd;
    let baseSize = 0;
    let partialSync: Promise<void> | undefined;
    try {
      if (tmpFd < 0) tmpFd = this.files.open(tmpPath, 'w');
      let write: Promise<void> | undefined;
      let writing: Buffer | undefined;
      let spare: Buffer = Buffer.allocUnsafe(REWRITE_SLAB_BYTES);
      let syncedSize = 0;
      let done = false;
      while (!done) {
        // Each slice starts on a new turn of the event loop, the first one too: the
        // snapshot's capture, run just before it, and a slice never add up to one stall.
        if (write === undefined) await yieldToLoop();
        const sliceStart = performance.now();
        while (snap.size < REWRITE_SLICE_BYTES) {
          if (it.next().done === true) {
            done = true;
            break;
          }
          if (performance.now() - sliceStart > REWRITE_SLICE_MS) break;
        }
        if (write !== undefined) {
          await write;
          spare = writing!;
        }
        const stopped = stop();
        if (stopped !== undefined) throw stopped;
        if (snap.size > 0) {
          const { bytes, slab } = snap.swapSlab(spare);
          writing = slab;
          baseSize += bytes.length;
          write = this.files.write(tmpFd, bytes);
          if (baseSize - syncedSize >= REWRITE_SYNC_EVERY_BYTES && partialSync === undefined) {
            // As Redis's aof-rewrite-incremental-fsync: commit the base as it grows, so the
            // kernel never holds a gigabyte of dirty pages that it flushes in one long burst.
            syncedSize = baseSize;
            const fd = tmpFd;
            partialSync = write.then(() => this.files.fdatasync(fd)).finally(() => (partialSync = undefined));
            partialSync.catch(() => {}); // the final fdatasync reports any failure
          }
        } else {
          write = undefined;
        }
      }
      if (write !== undefined) await write;
      await partialSync?.catch(() => {});
      await this.files.fdatasync(tmpFd);
      this.files.close(tmpFd);
      tmpFd = -1;
      this.files.rename(tmpPath, basePath);
      await this.files.syncDir(this.dir);
      return baseSize;
    } catch (err) {
      try {
        it.return?.();
      } catch {
        // the snapshot's own cleanup failing changes nothing on disk
      }
      await partialSync?.catch(() => {});
      try {
        if (tmpFd >= 0) this.files.close(tmpFd);
        this.files.unlink(tmpPath);
      } catch {
        // a leftover .tmp is deleted at the next open
      }
      throw err;
    }
  }

  private rewriteFailed(file: string, err: unknown): Error {
    this.counters.rewriteFailures++;
    this.log.error({ file, err: osError(err) }, 'AOF rewrite failed; the AOF stays as it was and appends go on');
    if (err instanceof StoreUnavailableError || !(err instanceof Error) || !('code' in err)) return err as Error;
    return new Error(`AOF rewrite failed at ${file}: ${osError(err)}`);
  }

  /**
   * Step 1, first half: a new empty incr is created and listed after the
   * current files, while appends still go to the current incr (listed
   * before it, so replay order holds whichever way a crash falls).
   */
  private async listNewIncr(): Promise<{ entry: ManifestEntry; fd: number; path: string }> {
    const seq = this.nextSeq++;
    const entry: ManifestEntry = { name: aofFileName(this.filename, seq, 'incr'), seq, type: 'incr' };
    const incrPath = path.join(this.dir, entry.name);
    let fd = -1;
    try {
      fd = this.files.open(incrPath, 'a');
      await writeManifest(this.files, this.dir, this.filename, [...this.manifest, entry]);
      if (this.failure !== undefined) throw this.failure;
      if (this.abortRewrite) throw new Error('rewrite abandoned: the store is closing');
      return { entry, fd, path: incrPath };
    } catch (err) {
      try {
        if (fd >= 0) this.files.close(fd);
        // Put the list back so the live incr stays the last file (where a torn tail may be cut).
        await writeManifest(this.files, this.dir, this.filename, this.manifest);
        this.files.unlink(incrPath);
      } catch {
        // an empty incr listed last, or left unlisted, still loads
      }
      throw this.rewriteFailed(incrPath, err);
    }
  }

  /**
   * Step 1, second half, synchronous: the pending batch goes to the old
   * incr (the snapshot about to be taken includes it) and appends move to
   * the new one. The old incr is fdatasynced in the background (unless the
   * policy is `no`), after any sync already running on it: until the new
   * base is in place its records are only there.
   */
  private switchAppends(incr: { entry: ManifestEntry; fd: number; path: string }): void {
    const oldFd = this.fd;
    const oldPath = this.incrPath;
    const batch = this.pending;
    if (batch !== undefined) {
      this.pending = undefined;
      this.writeTaken(oldFd, oldPath, batch);
    }
    this.fd = incr.fd;
    this.incrPath = incr.path;
    this.incrSize = 0;
    this.manifest = [...this.manifest, incr.entry];
    if (this.failure !== undefined) {
      // writeTaken failed: the store refuses from now on, and the rewrite with it.
      this.closeWhenSynced(oldFd, oldPath);
      throw this.failure;
    }
    const written = batch !== undefined;
    if (this.policy === 'no' || (!written && !this.dirty)) {
      batch?.resolve();
    } else {
      if (this.policy === 'everysec') batch?.resolve();
      else if (batch !== undefined) this.unsynced = batch;
      this.dirty = false;
      this.startSync(oldFd, oldPath, this.policy === 'always' ? batch : undefined, this.inFlightSync);
    }
    this.closeWhenSynced(oldFd, oldPath);
  }

  /** The old incr's descriptor may still be under an fdatasync: close it after that. */
  private closeWhenSynced(fd: number, file: string): void {
    const close = (): void => {
      try {
        this.files.close(fd);
      } catch (err) {
        this.log.warn({ file, err: osError(err) }, 'could not close the old AOF incr file');
      }
    };
    if (this.inFlightSync !== undefined) void this.inFlightSync.then(close);
    else close();
  }

  // -------------------------------------------------------------------------
  // Closing and introspection

  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // A rebuild sees `closing` at its next slice and gives up, leaving the old AOF.
    if (this.rebuilding !== undefined) await this.rebuilding;
    if (this.rewriting !== undefined) {
      this.abortRewrite = true;
      await this.rewriting.catch(() => {});
    }
    for (;;) {
      if (this.inFlightSync !== undefined) {
        await this.inFlightSync;
        continue;
      }
      if (this.pending !== undefined && this.failure === undefined && this.replayState === 'done') {
        this.flushNow();
        continue;
      }
      break;
    }
    this.closed = true;
    if (this.pending !== undefined) this.dropPending(this.failure ?? new StoreUnavailableError(`AOF in ${this.dir} is closed`));
    try {
      if (this.failure === undefined) {
        try {
          await this.files.fdatasync(this.fd);
          this.counters.fsyncs++;
        } catch (err) {
          this.fail('fdatasync', this.incrPath, err, undefined);
          throw this.failure;
        }
      }
    } finally {
      this.files.close(this.fd);
      this.lock?.release();
    }
  }

  stats(): FileStoreStats {
    return {
      ...this.counters,
      aofSize: this.aofSize,
      rewriteBaseSize: this.rewriteBaseSize,
      failed: this.failure !== undefined,
      failedSeconds: this.failure === undefined ? 0 : (Date.now() - this.failedAt) / 1000,
      failure: this.failure?.message,
    };
  }

  /** The files the manifest lists now, in replay order (for tests and the CLI). */
  manifestEntries(): readonly ManifestEntry[] {
    return this.manifest;
  }
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** "1s", "2.5s", "30s" */
function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}
