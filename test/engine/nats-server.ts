/** The nats-server launcher the tests share with the benchmarks (bench/cluster/nats.ts). */
export * from '../../bench/cluster/nats.js';
