/**
 * Reads one AOF file in large chunks and decodes it record by record, for
 * replay and for the offline check. It also decides whether a bad frame
 * is a torn tail (the end of the last file, where a crash mid-write leaves
 * a partial record) or corruption (anything else), following DESIGN.md,
 * "Durability contract": only the former may be cut without the operator.
 */
import { decodeFrames, type FrameProblemKind } from './codec.js';
import type { AofFiles } from './files.js';
import type { LogRecord } from './store.js';

export const READ_CHUNK_BYTES = 8 * 1024 * 1024;
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
  try {
    let size = files.size(fd);
    let buf = Buffer.allocUnsafe(Math.max(64 * 1024, Math.min(opts.chunkBytes ?? READ_CHUNK_BYTES, size)));
    /** File offset of buf[0]. */
    let bufPos = 0;
    let filled = 0;
    let readPos = 0;
    let records = 0;
    for (;;) {
      const want = Math.min(buf.length - filled, size - readPos);
      if (want > 0) {
        const n = await files.read(fd, buf, filled, want, readPos);
        if (n === 0) size = readPos; // shrank under us: decode what we have as the end
        filled += n;
        readPos += n;
      }
      const res = decodeFrames(buf, 0, filled, size - readPos, apply);
      records += res.records;
      if (res.problem !== undefined) {
        const offset = bufPos + res.problem.offset;
        const frameEnd = res.problem.frameEnd === undefined ? undefined : bufPos + res.problem.frameEnd;
        const torn = opts.lastFile && (await isTornTail(files, fd, size, res.problem.kind, offset, frameEnd));
        return { records, size, problem: { kind: res.problem.kind, offset, detail: res.problem.detail, torn } };
      }
      const leftover = filled - res.next;
      if (res.needBytes !== undefined) {
        if (res.needBytes > buf.length) {
          const bigger = Buffer.allocUnsafe(Math.max(res.needBytes, buf.length));
          buf.copy(bigger, 0, res.next, filled);
          buf = bigger;
        } else {
          buf.copyWithin(0, res.next, filled);
        }
      }
      bufPos += res.next;
      filled = leftover;
      if (readPos >= size && filled === 0) return { records, size };
    }
  } finally {
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

/** Describes a frame problem for an operator. */
export function describeProblem(file: string, p: ScanProblem): string {
  return `${file} at byte offset ${p.offset}: ${p.detail}`;
}

