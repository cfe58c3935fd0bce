/**
 * The manifest names the files that make up the AOF, in replay order: at
 * most one base (a compact snapshot written by a rewrite) and then the
 * incremental files appended to since. It is replaced only by writing a
 * temporary file, fsyncing it, renaming it over the old one and fsyncing
 * the directory, so a reader sees either the old list or the new one.
 *
 * Format, one file per line:  `<name> <seq> base|incr`
 */
import * as path from 'node:path';
import type { AofFiles } from './files.js';

export type AofFileType = 'base' | 'incr';

export interface ManifestEntry {
  readonly name: string;
  readonly seq: number;
  readonly type: AofFileType;
}

export const manifestName = (filename: string): string => `${filename}.manifest`;
export const aofFileName = (filename: string, seq: number, type: AofFileType): string => `${filename}.${seq}.${type}.aof`;

export function formatManifest(entries: readonly ManifestEntry[]): string {
  return entries.map((e) => `${e.name} ${e.seq} ${e.type}\n`).join('');
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export function parseManifest(text: string, where: string): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    const [name, seqText, type] = parts;
    const seq = Number(seqText);
    if (
      parts.length !== 3 ||
      !name ||
      name.includes('/') ||
      name.includes('\\') ||
      name === '.' ||
      name === '..' ||
      !Number.isSafeInteger(seq) ||
      seq < 0 ||
      (type !== 'base' && type !== 'incr')
    ) {
      throw new ManifestError(`${where} line ${i + 1}: expected "<file> <seq> base|incr", got "${line}"`);
    }
    entries.push({ name, seq, type });
  }
  const bases = entries.filter((e) => e.type === 'base');
  if (bases.length > 1 || (bases.length === 1 && entries[0]!.type !== 'base')) {
    throw new ManifestError(`${where}: at most one base file, listed first`);
  }
  return entries;
}

/** Reads the manifest; undefined when there is none. */
export function readManifest(files: AofFiles, dir: string, filename: string): ManifestEntry[] | undefined {
  const where = path.join(dir, manifestName(filename));
  const text = files.readText(where);
  return text === undefined ? undefined : parseManifest(text, where);
}

/** Atomically replaces the manifest (temp file, fsync, rename, directory fsync). */
export async function writeManifest(
  files: AofFiles,
  dir: string,
  filename: string,
  entries: readonly ManifestEntry[],
): Promise<void> {
  const final = path.join(dir, manifestName(filename));
  const tmp = `${final}.tmp`;
  const fd = files.open(tmp, 'w');
  try {
    await files.write(fd, Buffer.from(formatManifest(entries), 'utf8'));
    await files.fdatasync(fd);
  } finally {
    files.close(fd);
  }
  files.rename(tmp, final);
  await files.syncDir(dir);
}

/** Does `name` look like a file this AOF could have written (data file or leftover temp)? */
export function isAofArtifact(filename: string, name: string): boolean {
  if (!name.startsWith(`${filename}.`)) return false;
  const rest = name.slice(filename.length + 1);
  return /^\d+\.(base|incr)\.aof(\.tmp)?$/.test(rest) || rest === 'manifest.tmp';
}

/** The sequence number in an AOF data file name, or -1. */
export function seqOf(filename: string, name: string): number {
  const m = /^(\d+)\.(base|incr)\.aof(\.tmp)?$/.exec(name.slice(filename.length + 1));
  return m && name.startsWith(`${filename}.`) ? Number(m[1]) : -1;
}

/**
 * The index of the file appends went to last, the only one a crash can
 * leave with a torn tail (docs/DESIGN.md, "Startup and repair"): the last
 * listed incr that is not empty, else the last listed file. A rewrite lists
 * its new incr before appends move there, so empty incrs may follow it.
 */
export function tailFileIndex(files: AofFiles, dir: string, entries: readonly ManifestEntry[]): number {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    // a base is written whole, fsynced and renamed into place: never torn
    if (e.type !== 'incr') return entries.length - 1;
    let size: number;
    try {
      const fd = files.open(path.join(dir, e.name), 'r');
      try {
        size = files.size(fd);
      } finally {
        files.close(fd);
      }
    } catch {
      return i; // missing: the scan names it
    }
    if (size > 0) return i;
  }
  return entries.length - 1;
}
