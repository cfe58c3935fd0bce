// Publishes 1,000 orders to shop/orders, creating the namespace and topic
// if they are missing. Run it against a broker started with `npm start`:
//
//   node examples/producer.mjs                 # tcp://127.0.0.1:7070
//   MQLITE_URL=http://127.0.0.1:8080 node examples/producer.mjs
import { ClientError, connect } from 'mqlite';

const mq = await connect(process.env.MQLITE_URL);
for (const create of [() => mq.createNamespace('shop'), () => mq.createTopic('shop', 'orders', 4)]) {
  try {
    await create();
  } catch (err) {
    if (!(err instanceof ClientError && err.code === 'ALREADY_EXISTS')) throw err;
  }
}

const count = Number(process.argv[2] ?? 1000);
for (let id = 1; id <= count; id++) {
  // The dedup id makes a retried publish (after a lost answer) land once.
  await mq.publishEx('shop', 'orders', JSON.stringify({ id, item: 'book', qty: 1 + (id % 3) }), { dedupId: `order-${id}` });
}
console.log(`published ${count} orders to shop/orders over ${mq.endpoint.url}`);
await mq.close();
