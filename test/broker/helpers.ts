import { Broker, type BrokerOptions } from '../../src/broker/broker.js';
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
