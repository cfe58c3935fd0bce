/**
 * The AOF directory's lock (docs/DESIGN.md, "One broker per AOF directory"):
 * a file `mqlite.lock` created with O_EXCL, naming the process that holds
 * the directory. Two brokers appending to one directory would interleave
 * records that each replays without the other's creations; the lock makes
 * the second one stop at startup, before it reads anything.
 *
 * A lock outlives a crash (kill -9, power loss), so it is stale, and taken
 * over without anyone deleting it, when its holder is gone: no process with
 * its pid on this host, or one that started at another time (the pid was
 * reused; Linux's /proc gives the start time), or the pid is this very
 * process's (a container's broker is pid 1 at every start). The lock is
 * between processes: an application that embeds two brokers owns keeping
 * them on two directories.
 */
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';

export const LOCK_FILE = 'mqlite.lock';

/** Who holds a directory, as the lock file says. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** When it took the lock (ISO 8601). */
  readonly since: string;
  /** The process's start time in clock ticks since boot (Linux), to tell a reused pid. */
  readonly start?: string;
}

/** A directory another live process holds. */
export class DirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `AOF directory ${dir} is in use by another MQLite process (pid ${holder.pid} on ${holder.host}, since ${holder.since}): ` +
        `stop that broker first, or give this one its own directory (persistence.aof.dir, env MQLITE_AOF_DIR)` +
        (holder.host === hostname() ? '' : `; if ${holder.host} is gone for good, delete ${path.join(dir, LOCK_FILE)}`),
    );
    this.name = 'DirLockedError';
  }
}

/** The start time of `pid` from /proc, or undefined where there is no /proc (or no such process). */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 is the start time; fields are counted after the command name, which may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by another user
  }
}

function readHolder(file: string): LockHolder | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string') {
      return { pid: h.pid, host: h.host, since: typeof h.since === 'string' ? h.since : 'an unknown time', start: h.start };
    }
  } catch {
    // torn by a crash while it was written: nobody can hold it
  }
  return { pid: 0, host: hostname(), since: 'an unknown time' };
}

/** Whether the holder named by a lock file still runs (a lock on another host is taken as live). */
function holderLives(h: LockHolder): boolean {
  if (h.host !== hostname()) return true;
  if (h.pid <= 0) return false;
  if (h.pid === process.pid) return false;
  if (!alive(h.pid)) return false;
  const now = startTimeOf(h.pid);
  return h.start === undefined || now === undefined || now === h.start;
}

/** The live holder of `dir`, or undefined when it is free (no lock, or a stale one). For `aof check|fix`. */
export function liveHolder(dir: string): LockHolder | undefined {
  const h = readHolder(path.join(dir, LOCK_FILE));
  return h !== undefined && holderLives(h) ? h : undefined;
}

/** A taken lock; `release()` deletes the file if it is still ours. */
export interface DirLock {
  readonly file: string;
  release(): void;
}

/**
 * Takes the lock of the directory `dir`, or throws DirLockedError
 * naming the holder. A stale lock is replaced; `onStale` hears of it.
 */
export function lockDir(dir: string, onStale?: (stale: LockHolder) => void): DirLock {
  const file = path.join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), start: startTimeOf(process.pid) };
  // Written whole under a private name, then linked into place: link fails when the lock exists, and a reader never sees it half written.
  const tmp = `${file}.${process.pid}.${Date.now()}`;
  fs.writeFileSync(tmp, `${JSON.stringify(me)}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const h = readHolder(file);
      if (h === undefined) continue; // released between the two calls
      if (holderLives(h)) throw new DirLockedError(dir, h);
      onStale?.(h);
      // The link decides between brokers that found the same stale lock, but for one window of a few
      // microseconds: between one's read above and its delete, the other may have deleted and re-linked it.
      fs.rmSync(file, { force: true });
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      const h = readHolder(file);
      if (h !== undefined && h.pid === me.pid && h.since === me.since) fs.rmSync(file, { force: true });
    },
  };
}
