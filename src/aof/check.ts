/**
 * Offline AOF check and repair, behind `mqlite-cli aof check|fix <dir>`
 * (docs/DESIGN.md, "Durability contract (the AOF)": a checksum failure stops startup
 * unless the operator chooses to repair). Run them only while the broker
 * is stopped.
 */
import * as path from 'node:path';
import { nodeFiles, osError, type AofFiles } from './files.js';
import { manifestName, readManifest, tailFileIndex, writeManifest, type AofFileType, type ManifestEntry } from './manifest.js';
import { scanFile } from './reader.js';
import { DEFAULT_AOF_FILENAME } from './file-store.js';

export interface AofFileReport {
  readonly name: string;
  readonly type: AofFileType;
  readonly bytes: number;
  /** Whole records before the first bad one (all of them when the file is good). */
  readonly records: number;
}

export interface AofBadRecord {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
  /** A torn record at the end of the last file: startup cuts it by itself. */
  readonly tornTail: boolean;
}

export interface AofCheckReport {
  readonly dir: string;
  readonly manifest: string;
  readonly files: readonly AofFileReport[];
  /** Whole records across the files, up to the first bad one. */
  readonly records: number;
  readonly firstBad?: AofBadRecord;
}

export interface AofFixReport extends AofCheckReport {
  /** What the fix did; undefined when the AOF was already good. */
  readonly repaired?: {
    readonly file: string;
    readonly truncatedAt: number;
    readonly droppedBytes: number;
    /** Files after the bad one, removed from the manifest and renamed to `<name>.dropped`. */
    readonly droppedFiles: readonly string[];
  };
}

/** Reads every file of the AOF in `dir` and reports the first bad record, if any. Throws when there is no readable manifest. */
export async function checkAof(
  dir: string,
  filename: string = DEFAULT_AOF_FILENAME,
  files: AofFiles = nodeFiles,
): Promise<AofCheckReport> {
  const manifest = readManifest(files, dir, filename);
  const manifestPath = path.join(dir, manifestName(filename));
  if (manifest === undefined) throw new Error(`no AOF manifest at ${manifestPath}`);
  const reports: AofFileReport[] = [];
  let records = 0;
  const tail = tailFileIndex(files, dir, manifest);
  for (let i = 0; i < manifest.length; i++) {
    const e = manifest[i]!;
    const file = path.join(dir, e.name);
    let res;
    try {
      res = await scanFile(files, file, undefined, { lastFile: i === tail });
    } catch (err) {
      reports.push({ name: e.name, type: e.type, bytes: 0, records: 0 });
      return {
        dir,
        manifest: manifestPath,
        files: reports,
        records,
        firstBad: { file, offset: 0, reason: `cannot read the file: ${osError(err)}`, tornTail: false },
      };
    }
    reports.push({ name: e.name, type: e.type, bytes: res.size, records: res.records });
    records += res.records;
    if (res.problem !== undefined) {
      const p = res.problem;
      return {
        dir,
        manifest: manifestPath,
        files: reports,
        records,
        firstBad: { file, offset: p.offset, reason: p.detail, tornTail: p.torn },
      };
    }
  }
  return { dir, manifest: manifestPath, files: reports, records };
}

/**
 * Truncates the AOF at its first bad record: the bad file is cut there and
 * every later file is removed from the manifest (atomically), because the
 * records they hold come after a record that is lost; they are renamed to
 * `<name>.dropped` rather than deleted.
 */
export async function fixAof(
  dir: string,
  filename: string = DEFAULT_AOF_FILENAME,
  files: AofFiles = nodeFiles,
): Promise<AofFixReport> {
  const report = await checkAof(dir, filename, files);
  const bad = report.firstBad;
  if (bad === undefined) return report;
  const manifest = readManifest(files, dir, filename)!;
  const index = manifest.findIndex((e) => path.join(dir, e.name) === bad.file);
  const badEntry = manifest[index]!;
  let kept: ManifestEntry[] = manifest.slice(0, index + 1);
  const droppedFiles = manifest.slice(index + 1).map((e) => path.join(dir, e.name));
  let size = 0;
  const exists = files.list(dir).includes(badEntry.name);
  if (exists) {
    const fd = files.open(bad.file, 'r+');
    try {
      size = files.size(fd);
      files.truncate(fd, bad.offset);
      files.fsyncSync(fd);
    } finally {
      files.close(fd);
    }
  } else {
    // A missing file cannot be cut: drop it from the list with everything after it.
    kept = manifest.slice(0, index);
    droppedFiles.unshift(bad.file);
  }
  // An empty list or one ending in a base is fine: the store creates a fresh incr at open.
  await writeManifest(files, dir, filename, kept);
  const present = new Set(files.list(dir));
  for (const dropped of droppedFiles) {
    // Kept under another name for the operator; the store would delete an unlisted AOF file at open.
    if (present.has(path.basename(dropped))) files.rename(dropped, `${dropped}.dropped`);
  }
  const after = await checkAof(dir, filename, files);
  return {
    ...after,
    repaired: { file: bad.file, truncatedAt: bad.offset, droppedBytes: Math.max(0, size - bad.offset), droppedFiles },
  };
}
