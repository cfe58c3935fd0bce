/**
 * Redis as a work queue, through ioredis in its fastest mode for the
 * workload: auto-pipelining (the commands of one tick go out in one write,
 * a turn of the event loop later) when several requests are in flight, and
 * off with one in flight, where that turn would halve the rate (measured
 * here: about 5k against 10k LPUSH/s).
 *
 * - publish: LPUSH onto the queue list.
 * - consume with acks: the reliable-queue pattern. LMOVE moves each message
 *   from the queue to a processing list (where a crashed consumer's messages
 *   stay), LREM removes it from there as the ack. A batch is one pipeline of
 *   LMOVEs, then one pipeline of LREMs. Every payload is the same here, so
 *   LREM finds its element at the head of the processing list: its cheapest
 *   case.
 * - push: BRPOP on a second connection (removes the message: the auto-ack of
 *   a list).
 */
import { Redis } from 'ioredis';
import type { PeerProcess } from './processes.js';
import { runConcurrently, PAYLOAD_BYTES, type BenchQueue, type BenchSystem } from './system.js';

const FILL_DEPTH = 256;

export async function redisSystem(peer: PeerProcess, appendfsync: 'everysec' | 'always'): Promise<BenchSystem> {
  const options = { host: '127.0.0.1', port: peer.port, maxRetriesPerRequest: 0 };
  const direct = new Redis({ ...options, enableAutoPipelining: false });
  const batched = new Redis({ ...options, enableAutoPipelining: true });
  await Promise.all([direct.ping(), batched.ping()]);
  const payload = Buffer.alloc(PAYLOAD_BYTES, 'x');
  return {
    id: `redis.${appendfsync}`,
    label: 'Redis',
    serverPid: peer.pid,
    describe: `Redis (appendonly yes, appendfsync ${appendfsync}): LPUSH; LMOVE to a processing list + LREM as the ack, pipelined per batch; BRPOP for push; ioredis auto-pipelining on with several requests in flight, off with one`,
    async newQueue(name: string, concurrency: number): Promise<BenchQueue> {
      const redis = concurrency > 1 ? batched : direct;
      const key = `q:${name}`;
      const processing = `q:${name}:processing`;
      const publish = async (): Promise<void> => {
        await redis.lpush(key, payload);
      };
      return {
        publish,
        takeAndAck: async (max) => {
          const moves = redis.pipeline();
          for (let i = 0; i < max; i++) moves.lmoveBuffer(key, processing, 'RIGHT', 'LEFT');
          const taken = ((await moves.exec()) ?? []).map(([err, value]) => {
            if (err) throw err;
            return value as Buffer | null;
          });
          const acks = redis.pipeline();
          let count = 0;
          for (const value of taken) {
            if (value === null) continue;
            acks.lrem(processing, 1, value);
            count++;
          }
          if (count > 0) for (const [err] of (await acks.exec()) ?? []) if (err) throw err;
          return count;
        },
        subscribe: async (onMessage) => {
          const blocking = new Redis({ ...options, enableAutoPipelining: false });
          await blocking.ping();
          let open = true;
          const loop = (async () => {
            while (open) {
              try {
                if (await blocking.brpopBuffer(key, 0)) onMessage();
              } catch (err) {
                if (open) throw err; // a closed connection ends the pending BRPOP
              }
            }
          })();
          return async () => {
            open = false;
            blocking.disconnect();
            await loop;
          };
        },
        fill: (count) => runConcurrently(count, FILL_DEPTH, () => batched.lpush(key, payload)),
        drop: async () => {
          await redis.del(key, processing);
        },
      };
    },
    async close() {
      direct.disconnect();
      batched.disconnect();
    },
  };
}
