/** Why startup refuses an AOF, in words an operator can act on. */
export class AofCorruptError extends Error {
  override readonly name = 'AofCorruptError';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
    dir: string,
  ) {
    super(
      `AOF file ${file} is corrupt at byte offset ${offset}: ${reason}. ` +
        `Startup stopped so that no record after it is silently dropped. ` +
        `Run \`mqlite-cli aof check ${dir}\` to inspect the AOF, and \`mqlite-cli aof fix ${dir}\` ` +
        `to truncate it at the first bad record (every record from there on is lost).`,
    );
  }
}

/**
 * The store cannot make records durable: it is failed (a write or fsync
 * failed and it has not recovered yet), or closed. Its message says what
 * failed and what happens next; the broker answers the change with it as
 * UNAVAILABLE (docs/DESIGN.md, "When the disk fails").
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  /** How a client sees it: the store is there, but cannot take changes now. */
  readonly code = 'UNAVAILABLE';
}
