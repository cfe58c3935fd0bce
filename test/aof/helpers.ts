import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pino, type Logger } from 'pino';
import { writeRecord } from '../../src/aof/codec.js';
import { FileStore, type FileStoreOptions } from '../../src/aof/file-store.js';
import { nodeFiles, type AofFiles } from '../../src/aof/files.js';
import type { LogRecord, RecordSink, SnapshotSource, Store } from '../../src/aof/store.js';

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqlite-aof-test-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger whose lines the test can read. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

export const silent = pino({ enabled: false });

export function openStore(dir: string, opts: Partial<FileStoreOptions> = {}): Promise<FileStore> {
  return FileStore.open({
    dir,
    fsync: 'everysec',
    rewriteMinSize: 1 << 40,
    rewritePercentage: 0,
    logger: silent,
    ...opts,
  });
}

export async function replayAll(store: Store): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  await store.replay((rec) => out.push(rec));
  return out;
}

export function append(store: Store, records: readonly LogRecord[]): void {
  for (const rec of records) writeRecord(store.sink, rec);
}

let nextId = 0;
export function publishRecord(payloadBytes = 100, ns = 'ns', topic = 't', queue = 0): LogRecord & { type: 'publish' } {
  const id = `m${nextId++}`;
  return {
    type: 'publish',
    ns,
    topic,
    queue,
    id,
    timestampMs: 1_700_000_000_000.125 + nextId,
    payload: Buffer.alloc(payloadBytes, nextId & 0xff),
    headers: nextId % 3 === 0 ? { k: id } : undefined,
  };
}

/** One record of every kind, with the awkward values each field allows. */
export function everyKind(): LogRecord[] {
  return [
    { type: 'nsCreate', ns: 'orders' },
    { type: 'topicCreate', ns: 'orders', topic: 'créé-✓', queueCount: 4 },
    {
      type: 'publish',
      ns: 'orders',
      topic: 'créé-✓',
      queue: 3,
      id: '01J-ID',
      timestampMs: 1732262400123.456,
      payload: Buffer.from('hello'),
      headers: { a: '1', 'ключ': 'значение', empty: '' },
    },
    { type: 'publish', ns: 'orders', topic: 'créé-✓', queue: 0, id: 'e', timestampMs: 0, payload: Buffer.alloc(0), headers: undefined },
    {
      type: 'publish',
      ns: 'orders',
      topic: 'créé-✓',
      queue: 1,
      id: 'big',
      timestampMs: 1,
      payload: Buffer.alloc(300_000, 7),
      headers: undefined,
    },
    { type: 'pop', ns: 'orders', topic: 'créé-✓', queue: 3, count: 2, autoAck: false },
    { type: 'pop', ns: 'orders', topic: 'créé-✓', queue: 0, count: 1, autoAck: true },
    { type: 'ack', ns: 'orders', topic: 'créé-✓', ids: ['01J-ID', 'unknown'] },
    { type: 'ack', ns: 'orders', topic: 'créé-✓', ids: [] },
    { type: 'requeue', ns: 'orders', topic: 'créé-✓', ids: ['e'] },
    {
      type: 'move',
      ns: 'orders',
      topic: 'créé-✓',
      moves: [
        { from: 0, to: 1, count: 5 },
        { from: 3, to: 2, count: 4294967295 },
      ],
    },
    { type: 'resize', ns: 'orders', topic: 'créé-✓', queueCount: 2 },
    { type: 'resizeFinal', ns: 'orders', topic: 'créé-✓' },
    { type: 'topicRestore', ns: 'orders', topic: 'créé-✓', queueCount: 2, activeCount: 1, version: 18446744073709551615n },
    { type: 'topicDelete', ns: 'orders', topic: 'créé-✓' },
    { type: 'nsDelete', ns: 'orders' },
  ];
}

/**
 * A small state machine standing in for the broker: pending publishes by
 * id, removed by acks. Its snapshot is captured when called and written a
 * few records per slice, like the broker's.
 */
export class Model {
  readonly messages = new Map<string, LogRecord & { type: 'publish' }>();

  apply = (rec: LogRecord): void => {
    if (rec.type === 'publish') this.messages.set(rec.id, rec);
    else if (rec.type === 'ack') for (const id of rec.ids) this.messages.delete(id);
  };

  /** Applies and logs, as the broker does. */
  publish(store: Store, rec: LogRecord & { type: 'publish' }): void {
    this.apply(rec);
    store.sink.publish(rec.ns, rec.topic, rec.queue, rec);
  }

  ack(store: Store, ids: string[]): void {
    this.apply({ type: 'ack', ns: 'ns', topic: 't', ids });
    store.sink.ack('ns', 't', ids);
  }

  snapshot: SnapshotSource = (sink: RecordSink) => {
    const view = [...this.messages.values()];
    let i = 0;
    return {
      next(): IteratorResult<void> {
        const end = Math.min(view.length, i + 50);
        for (; i < end; i++) {
          const m = view[i]!;
          sink.publish(m.ns, m.topic, m.queue, m);
        }
        return i >= view.length ? { done: true, value: undefined } : { done: false, value: undefined };
      },
    };
  };

  ids(): string[] {
    return [...this.messages.keys()];
  }
}

export type FileOp = keyof AofFiles;

/**
 * A file layer that "crashes" at the first call `when` picks: that call and
 * every later one throw without touching the disk, as if the process had
 * died there. `release()` closes the descriptors it left open.
 */
export function crashingFiles(when: (op: FileOp, args: unknown[], pathOf: (fd: unknown) => string) => boolean): AofFiles & {
  crashed(): boolean;
  release(): void;
} {
  let dead = false;
  const open = new Set<number>();
  const paths = new Map<number, string>();
  const pathOf = (fd: unknown): string => paths.get(fd as number) ?? '';
  const layer = {} as Record<string, unknown>;
  for (const key of Object.keys(nodeFiles) as FileOp[]) {
    const real = nodeFiles[key] as (...a: unknown[]) => unknown;
    layer[key] = (...args: unknown[]) => {
      if (!dead && when(key, args, pathOf)) dead = true;
      if (dead) {
        const err = Object.assign(new Error(`simulated crash at ${key}`), { code: 'ECRASH' });
        if (key === 'read' || key === 'write' || key === 'fdatasync' || key === 'syncDir' || key === 'remove') return Promise.reject(err);
        throw err;
      }
      const out = real(...args);
      if (key === 'open') {
        open.add(out as number);
        paths.set(out as number, args[0] as string);
      }
      if (key === 'close') open.delete(args[0] as number);
      return out;
    };
  }
  return Object.assign(layer as unknown as AofFiles, {
    crashed: () => dead,
    release() {
      for (const fd of open) {
        try {
          fs.closeSync(fd);
        } catch {
          // already closed
        }
      }
      open.clear();
    },
  });
}

export function oserror(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated failure, ${syscall}`), { code, syscall });
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Settles in a few turns? Reports whether `p` settled. */
export async function settledWithin(p: Promise<unknown>, turns = 5): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < turns; i++) await tick();
  return settled;
}

/** Records with payloads as hex: vitest compares big byte arrays element by element, slowly. */
export function comparable(records: readonly LogRecord[]): unknown[] {
  return records.map((r) => ('payload' in r ? { ...r, payload: Buffer.from(r.payload).toString('hex') } : r));
}
