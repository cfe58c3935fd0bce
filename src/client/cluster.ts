/**
 * The node of a cluster that owns the broker (docs/CLIENT.md, "Clusters"):
 * shared by the typed client's connect() and mqlite-cli. Kept apart from
 * the clients so that the CLI loads it without them.
 */
import { ClientError } from './types.js';

/** What the search needs of a connection: one request to ask, and a close. */
export interface Probe {
  listNamespaces(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Opens node `(start + k) % count` in turn until one answers as the owner;
 * resolves with its connection and index. A standby answers UNAVAILABLE,
 * and a node down fails to connect: both retryable, both passed over. A
 * refusal that is not about the node (a wrong key) ends the search: every
 * node would say the same. Rejects with the last node's error.
 */
export async function openOwner<T extends Probe>(count: number, open: (i: number) => Promise<T>, start = 0): Promise<{ conn: T; index: number }> {
  let last: unknown;
  for (let k = 0; k < count; k++) {
    const i = (start + k) % count;
    let conn: T | undefined;
    try {
      conn = await open(i);
      await conn.listNamespaces();
      return { conn, index: i };
    } catch (err) {
      if (!(err instanceof ClientError && err.retryable)) {
        if (conn !== undefined) return { conn, index: i };
        throw err;
      }
      last = err;
      await conn?.close().catch(() => undefined);
    }
  }
  throw last;
}
