// Types that must be refused: if the package's types degrade to `any`,
// these lines stop being errors and tsc fails on the unused directives.
import { connect } from 'mqlite';
import { startBroker } from 'mqlite/server';

const mq = await connect('tcp://127.0.0.1:7070');
// @ts-expect-error a topic name is a string
await mq.publish('ns', 42, 'payload');
// @ts-expect-error concurrency is a number
mq.worker('ns', 't', () => undefined, { concurrency: 'many' });
// @ts-expect-error startBroker takes a config
await startBroker('config.yaml');
