// Processes shop/orders, 16 at a time, until Ctrl-C; then it stops taking
// orders and waits for the ones running. Run the producer first (or after:
// the worker waits for orders).
//
//   node examples/worker.mjs
import { connect, DoNotRetry } from 'mqlite';

const mq = await connect(process.env.MQLITE_URL);
let done = 0;
const worker = mq.worker(
  'shop',
  'orders',
  async (job) => {
    const order = job.json();
    if (!Number.isInteger(order.id)) throw new DoNotRetry('not an order'); // straight to the dead-letter queue
    await new Promise((r) => setTimeout(r, 5)); // the work
    if (++done % 100 === 0) console.log(`${done} orders processed`);
  },
  { concurrency: 16 },
);
worker.on('failed', (job, err, outcome) => console.warn(`order ${job.id} failed (${outcome}): ${err.message}`));
worker.on('error', (err) => console.warn(`worker: ${err.message}`));
mq.on('disconnect', (err) => console.warn(`connection lost (${err.message}); reconnecting`));
mq.on('reconnect', () => console.warn('reconnected'));
await worker.ready;
console.log(`processing shop/orders over ${mq.endpoint.url}; Ctrl-C to stop`);

process.once('SIGINT', async () => {
  await worker.close();
  await mq.close();
  console.log(`stopped after ${done} orders`);
});
