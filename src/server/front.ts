/** What every front (gRPC, HTTP, TCP) returns when started. */
export interface FrontHandle {
  /** The port actually bound (useful when started on port 0). */
  readonly port: number;
  /**
   * Stops accepting connections, answers the requests already read, ends
   * subscriptions, then resolves. The broker is closed after every front.
   */
  close(): Promise<void>;
  /** Open connections and subscriptions now, for GET /metrics (where the front can tell). */
  counts?(): { connections?: number; subscriptions?: number };
}
