/**
 * Redis as a work queue, through ioredis with auto-pipelining (commands
 * issued in the same tick go out in one write, its fastest mode).
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
import { inFlight, PAYLOAD_BYTES, type BenchQueue, type BenchSystem } from './system.js';

const FILL_DEPTH = 256;

export async function redisSystem(peer: PeerProcess, appendfsync: 'everysec' | 'always'): Promise<BenchSystem> {
  const options = { host: '127.0.0.1', port: peer.port, enableAutoPipelining: true, maxRetriesPerRequest: 0 };
  const redis = new Redis(options);
  await redis.ping();
  const payload = Buffer.alloc(PAYLOAD_BYTES, 'x');
  return {
    id: `redis.${appendfsync}`,
    label: 'Redis',
    serverPid: peer.pid,
    describe: `Redis (appendonly yes, appendfsync ${appendfsync}): LPUSH; LMOVE to a processing list + LREM as the ack, pipelined per batch; BRPOP for push`,
    async newQueue(name: string): Promise<BenchQueue> {
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
          const blocking = new Redis(options);
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
        fill: (count) => inFlight(count, FILL_DEPTH, publish),
        drop: async () => {
          await redis.del(key, processing);
        },
      };
    },
    async close() {
      redis.disconnect();
    },
  };
}
