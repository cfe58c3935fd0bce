/**
 * Reads one AOF file in large chunks and decodes it record by record, for
 * replay and for the offline check. It also decides whether a bad frame
 * is a torn tail (the end of the last file, where a crash mid-write leaves
 * a partial record) or corruption (anything else), following docs/DESIGN.md,
 * "Durability contract (the AOF)": only the former may be cut without the operator.
 */
import { decodeFrames, type FrameProblemKind } from './codec.js';
import type { AofFiles } from './files.js';
import type { LogRecord } from './store.js';

export const READ_CHUNK_BYTES = 4 * 1024 * 1024;
/** Room in front of each read chunk for the partial record carried over from the previous chunk. */
const RESERVE = 256 * 1024;
/** How much of a suspicious tail is read to decide whether it is garbage. */
const TAIL_PROBE_BYTES = 64 * 1024 * 1024;

export interface ScanProblem {
  readonly kind: FrameProblemKind;
  /** Byte offset in the file of the first bad frame: everything before it is whole. */
  readonly offset: number;
  readonly detail: string;
  /** True when the bad bytes are a torn tail that may be cut without losing an acknowledged record. */
  readonly torn: boolean;
}

export interface ScanResult {
  readonly records: number;
  readonly size: number;
  readonly problem?: ScanProblem;
}

export interface ScanOptions {
  /** The last file of the AOF: a torn tail there is expected after a crash. */
  readonly lastFile: boolean;
  readonly chunkBytes?: number;
}

export async function scanFile(
  files: AofFiles,
  path: string,
  apply: ((rec: LogRecord) => void) | undefined,
  opts: ScanOptions,
): Promise<ScanResult> {
  const fd = files.open(path, 'r');
  let pending: { read: Promise<number>; into: Buffer } | undefined;
  try {
    let size = files.size(fd);
    const chunk = Math.max(64 * 1024, Math.min(opts.chunkBytes ?? READ_CHUNK_BYTES, size));
    // Two read buffers: the next chunk is read into one while the other is decoded. Each keeps
    // RESERVE bytes in front of its chunk for the partial record left over from the previous one.
    const a = Buffer.allocUnsafe(RESERVE + chunk);
    let b: Buffer | undefined;
    let cur: Buffer = a;
    let start = RESERVE;
    let end = RESERVE;
    /** File offset of cur[end]. */
    let endPos = 0;
    let records = 0;
    for (;;) {
      if (pending === undefined && endPos < size) {
        const into = cur === a ? (b ??= Buffer.allocUnsafe(RESERVE + chunk)) : a;
        pending = { read: files.read(fd, into, RESERVE, Math.min(chunk, size - endPos), endPos), into };
      }
      const res = decodeFrames(cur, start, end, size - endPos, apply);
      records += res.records;
      if (res.problem !== undefined) {
        await pending?.read.catch(() => 0);
        pending = undefined;
        const at = (i: number): number => endPos - (end - i);
        const offset = at(res.problem.offset);
        const frameEnd = res.problem.frameEnd === undefined ? undefined : at(res.problem.frameEnd);
        const torn = opts.lastFile && (await isTornTail(files, fd, size, res.problem.kind, offset, frameEnd));
        return { records, size, problem: { kind: res.problem.kind, offset, detail: res.problem.detail, torn } };
      }
      if (pending === undefined) return { records, size }; // decoded up to the end of the file
      const { read, into } = pending;
      pending = undefined;
      const n = await read;
      const leftover = end - res.next;
      if (n === 0) {
        // The file shrank under us: what we have is the end.
        size = endPos;
        start = res.next;
        continue;
      }
      if (leftover <= RESERVE) {
        cur.copy(into, RESERVE - leftover, res.next, end);
        cur = into;
        start = RESERVE - leftover;
        end = RESERVE + n;
        endPos += n;
        continue;
      }
      // A record larger than the reserve: gather it in a buffer of its own (its length was
      // checked against the bytes left in the file before we got here).
      const need = Math.max(res.needBytes ?? 0, leftover + n);
      const big = Buffer.allocUnsafe(need);
      cur.copy(big, 0, res.next, end);
      into.copy(big, leftover, RESERVE, RESERVE + n);
      let filled = leftover + n;
      endPos += n;
      while (filled < need) {
        const m = await files.read(fd, big, filled, need - filled, endPos);
        if (m === 0) {
          size = endPos;
          break;
        }
        filled += m;
        endPos += m;
      }
      cur = big;
      start = 0;
      end = filled;
    }
  } finally {
    await pending?.read.catch(() => 0);
    files.close(fd);
  }
}

/**
 * A bad frame at the end of the last file is a torn write when nothing
 * whole follows it: a short header or body, a checksum mismatch with no
 * valid frame after it, or a zero-filled tail (a crash after the file grew
 * but before its data reached the disk).
 */
async function isTornTail(
  files: AofFiles,
  fd: number,
  size: number,
  kind: FrameProblemKind,
  offset: number,
  frameEnd: number | undefined,
): Promise<boolean> {
  switch (kind) {
    case 'short-header':
    case 'short-body':
      return true;
    case 'crc': {
      if (frameEnd === undefined || frameEnd >= size) return true;
      const tail = await readTail(files, fd, frameEnd, size);
      if (tail === undefined) return false;
      const after = decodeFrames(tail, 0, tail.length, 0, undefined);
      return after.records === 0;
    }
    case 'bad-length': {
      const tail = await readTail(files, fd, offset, size);
      return tail !== undefined && tail.every((b) => b === 0);
    }
    case 'malformed':
      return false;
  }
}

async function readTail(files: AofFiles, fd: number, from: number, size: number): Promise<Buffer | undefined> {
  const len = size - from;
  if (len > TAIL_PROBE_BYTES) return undefined;
  const buf = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const n = await files.read(fd, buf, got, len - got, from + got);
    if (n === 0) return buf.subarray(0, got);
    got += n;
  }
  return buf;
}
