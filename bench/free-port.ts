/**
 * A port for a process that a test or benchmark starts on a port it chose
 * (a broker restarted on the same address, a peer server, nats-server).
 *
 * Chosen below the kernel's ephemeral range (32768 and up on Linux), never
 * inside it: a port the kernel handed out for `listen(0)` and that is free
 * again can be handed out again at any moment, to another test's `listen(0)`
 * or to any outgoing connection, between this check and the child's bind;
 * that is how a broker of a parallel test once exited with "port in use".
 * Below the range only another caller of this function can take it, and the
 * pick is random and checked by a bind.
 */
import { createServer } from 'node:net';

const LOW = 20_000;
const HIGH = 32_767;
const taken = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    // Never the same port twice from one process: the first caller may not have bound it yet.
    if (taken.has(port)) continue;
    if (await bindable(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} after 200 tries: free some, or check what listens there (ss -ltn)`);
}
