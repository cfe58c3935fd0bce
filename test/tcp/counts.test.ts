/** The TCP front's open connections and subscriptions, as GET /metrics reports them. */
import { afterEach, describe, expect, it } from 'vitest';
import { jsonFrame, RawClient, startHarness, until, type Harness } from './helpers.js';

let h: Harness;
afterEach(() => h?.close());

describe('TCP front counts', () => {
  it('counts open connections and their subscriptions, and forgets them when the client goes', async () => {
    h = await startHarness();
    await h.broker.createNamespace('ns');
    await h.broker.createTopic('ns', 't', 1);
    expect(h.server.counts?.()).toEqual({ connections: 0, subscriptions: 0 });
    const c = await RawClient.open(h.port);
    c.socket.write(jsonFrame({ action: 'subscribe', data: { namespace: 'ns', topic: 't', queue_id: 0, auto_ack: true } }));
    expect((await c.json()).data).toBe('subscribed');
    expect(h.server.counts?.()).toEqual({ connections: 1, subscriptions: 1 });
    c.socket.destroy();
    await until(async () => (h.server.counts?.().connections === 0 ? true : undefined));
    expect(h.server.counts?.()).toEqual({ connections: 0, subscriptions: 0 });
  });
});
