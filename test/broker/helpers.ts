import { vi } from 'vitest';
import { MemoryStore } from '../../src/aof/memory-store.js';
import { Broker, type BrokerOptions, type TopicPolicyInput } from '../../src/broker/broker.js';
import type { Delivery, ResizeNotice } from '../../src/broker/message.js';
import type { BrokerError } from '../../src/broker/errors.js';

export const enc = (s: string): Uint8Array => Buffer.from(s);
export const text = (m: Delivery): string => Buffer.from(m.payload).toString();

export async function brokerWithTopic(queues = 1, opts: BrokerOptions = {}): Promise<Broker> {
  const b = new Broker(opts);
  await b.createNamespace('ns');
  await b.createTopic('ns', 't', queues);
  return b;
}

/** Waits for the next event-loop turns so pushed deliveries run. */
export const turns = async (n = 3): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

export function recorder() {
  const messages: Delivery[] = [];
  const notices: ResizeNotice[] = [];
  const ends: (BrokerError | undefined)[] = [];
  return {
    messages,
    notices,
    ends,
    handler: {
      message: (m: Delivery) => messages.push(m),
      notice: (n: ResizeNotice) => notices.push(n),
      end: (e: BrokerError | undefined) => ends.push(e),
    },
  };
}

/** Every timer source the broker reads, faked, so a test moves time in whole steps. */
export function fakeClock(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'], now: 1_700_000_000_000 });
}

/** A broker over a MemoryStore with namespace 'ns' and topic 't'. */
export async function persistentBroker(
  queues = 1,
  opts: BrokerOptions & { policy?: TopicPolicyInput } = {},
): Promise<{ broker: Broker; store: MemoryStore }> {
  const store = new MemoryStore();
  const { broker } = await Broker.open({ ackTimeoutMs: 1000, ...opts, store });
  await broker.createNamespace('ns');
  await broker.createTopic('ns', 't', queues, opts.policy);
  return { broker, store };
}

/** A restart: closes `broker`, then opens a new one from the same records (optionally after a rewrite). */
export async function restart(
  broker: Broker,
  store: MemoryStore,
  opts: BrokerOptions & { rewriteFirst?: boolean } = {},
): Promise<{ broker: Broker; store: MemoryStore }> {
  if (opts.rewriteFirst) await broker.rewrite();
  await broker.close();
  const next = store.reopen();
  const { broker: reopened } = await Broker.open({ ackTimeoutMs: 1000, ...opts, store: next });
  return { broker: reopened, store: next };
}
