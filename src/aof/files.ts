/**
 * The file operations the AOF uses, behind one small interface so fault
 * tests can make a write or an fsync fail at a chosen moment. Metadata
 * steps (open, rename, manifest) are synchronous because they are rare and
 * must happen at one instant relative to appends; fdatasync (but for a
 * small batch under `always`, see file-store.ts) and the rewrite's bulk
 * writes run on the libuv threadpool so the event loop keeps serving while
 * the disk works.
 */
import * as fs from 'node:fs';

export interface AofFiles {
  /** Creates the directory and its parents when missing. */
  mkdir(dir: string): void;
  /** Entry names in `dir`. */
  list(dir: string): string[];
  /** The file's text, or undefined when it does not exist. */
  readText(path: string): string | undefined;
  open(path: string, flags: 'r' | 'a' | 'w' | 'r+'): number;
  close(fd: number): void;
  size(fd: number): number;
  read(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes all of `data` at the end (or the current position) before returning. */
  writeSync(fd: number, data: Uint8Array): void;
  /** Writes all of `data` on the threadpool. */
  write(fd: number, data: Uint8Array): Promise<void>;
  fdatasync(fd: number): Promise<void>;
  fdatasyncSync(fd: number): void;
  fsyncSync(fd: number): void;
  truncate(fd: number, length: number): void;
  rename(from: string, to: string): void;
  /** Removes a file; a missing file is not an error. */
  unlink(path: string): void;
  /**
   * `unlink` on the threadpool, for the old AOF files a rewrite or rebuild
   * replaces: freeing a large file's blocks takes long (0.7 s for a 1 GB
   * incr file here), which unlinkSync would spend blocking the event loop.
   */
  remove(path: string): Promise<void>;
  /** Makes renames and creations in `dir` durable (on the threadpool). */
  syncDir(dir: string): Promise<void>;
}

function writeAllSync(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}

function writeAll(fd: number, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    let off = 0;
    const step = (): void => {
      fs.write(fd, data, off, data.length - off, null, (err, n) => {
        if (err) return reject(err);
        off += n;
        if (off < data.length) step();
        else resolve();
      });
    };
    step();
  });
}

export const nodeFiles: AofFiles = {
  mkdir: (dir) => void fs.mkdirSync(dir, { recursive: true }),
  list: (dir) => fs.readdirSync(dir),
  readText(path) {
    try {
      return fs.readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  },
  open: (path, flags) => fs.openSync(path, flags),
  close: (fd) => fs.closeSync(fd),
  size: (fd) => fs.fstatSync(fd).size,
  read: (fd, buf, offset, length, position) =>
    new Promise((resolve, reject) =>
      fs.read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))),
    ),
  writeSync: writeAllSync,
  write: writeAll,
  fdatasync: (fd) => new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()))),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  truncate: (fd, length) => fs.ftruncateSync(fd, length),
  rename: (from, to) => fs.renameSync(from, to),
  unlink(path) {
    try {
      fs.unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  },
  remove: (path) =>
    new Promise((resolve, reject) => fs.unlink(path, (err) => (err && err.code !== 'ENOENT' ? reject(err) : resolve()))),
  syncDir: (dir) =>
    new Promise((resolve, reject) => {
      fs.open(dir, 'r', (openErr, fd) => {
        if (openErr) return reject(openErr);
        fs.fsync(fd, (syncErr) => fs.close(fd, (closeErr) => (syncErr || closeErr ? reject(syncErr ?? closeErr) : resolve())));
      });
    }),
};

/** "EIO: i/o error, write" style text for logs and errors. */
export function osError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
