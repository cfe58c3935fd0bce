import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseDuration, parseSize } from '../src/config.js';

const file = (text: string): string => {
  const p = join(mkdtempSync(join(tmpdir(), 'mqlite-config-')), 'config.yaml');
  writeFileSync(p, text);
  return p;
};

describe('configuration', () => {
  it('has a default for every key, so no file is needed', () => {
    const c = loadConfig(undefined, { env: {} });
    expect(c.server).toMatchObject({ host: '127.0.0.1', grpc: { enabled: true, port: 9090 }, http: { port: 8080 }, tcp: { port: 7070 } });
    expect(c.persistence.aof).toMatchObject({ fsync: 'everysec', dir: './data', filename: 'appendonly.aof' });
    expect(c.ack_timeout).toBe(30_000);
    expect(c.drain_timeout).toBe(30_000);
  });

  it('the shipped config.yaml holds exactly the defaults', () => {
    expect(loadConfig('config.yaml', { env: {} })).toEqual(loadConfig(undefined, { env: {} }));
  });

  it('reads existing MQLite keys and Go-style durations', () => {
    const c = loadConfig(
      file('server:\n  grpc: {enabled: false, port: 1}\npersistence:\n  aof: {fsync: always, rewrite_min_size: 1mb}\nack_timeout: 1m30s\ndrain_timeout: 500ms\n'),
      { env: {} },
    );
    expect(c.server.grpc).toEqual({ enabled: false, port: 1 });
    expect(c.persistence.aof.fsync).toBe('always');
    expect(c.persistence.aof.rewrite_min_size).toBe(1024 * 1024);
    expect(c.ack_timeout).toBe(90_000);
    expect(c.drain_timeout).toBe(500);
  });

  it('stops on an unknown key or a wrong value, naming it', () => {
    expect(() => loadConfig(file('server:\n  grcp: {port: 1}\n'), { env: {} })).toThrow(/unknown key 'server.grcp'/);
    expect(() => loadConfig(file('persistence:\n  aof: {fsync: sometimes}\n'), { env: {} })).toThrow(/'persistence.aof.fsync'.*always, everysec, no/);
    expect(() => loadConfig(file('ack_timeout: soon\n'), { env: {} })).toThrow(/'ack_timeout'.*duration/);
    expect(() => loadConfig(file('server: {tcp: {port: 70000}}\n'), { env: {} })).toThrow(/'server.tcp.port'/);
    expect(() => loadConfig(file('{{{'), { env: {} })).toThrow(/not valid YAML/);
    expect(() => loadConfig('/no/such/config.yaml', { required: true, env: {} })).toThrow(/does not exist/);
  });

  it('environment variables override the file', () => {
    const c = loadConfig(file('server: {tcp: {port: 1}}\n'), { env: { MQLITE_TCP_PORT: '7171', MQLITE_FSYNC: 'no', MQLITE_PERSISTENCE: 'false' } });
    expect(c.server.tcp.port).toBe(7171);
    expect(c.persistence.aof.fsync).toBe('no');
    expect(c.persistence.enabled).toBe(false);
    expect(() => loadConfig(undefined, { env: { MQLITE_FSYNC: 'x' } })).toThrow(/MQLITE_FSYNC/);
  });

  it('refuses a bare number as a duration in the file and in the environment alike, saying what to write', () => {
    const fromFile = (): unknown => loadConfig(file('ack_timeout: 30\n'), { env: {} });
    expect(fromFile).toThrow(ConfigError);
    expect(fromFile).toThrow(`'ack_timeout' is 30, expected a duration with a unit: write "30s" for seconds or "30ms" for milliseconds`);
    const fromEnv = (): unknown => loadConfig(undefined, { env: { MQLITE_ACK_TIMEOUT: '30' } });
    expect(fromEnv).toThrow(`environment variable MQLITE_ACK_TIMEOUT: 'ack_timeout' is "30", expected a duration with a unit: write "30s"`);
    expect(loadConfig(file('ack_timeout: 30s\n'), { env: {} }).ack_timeout).toBe(30_000);
    expect(loadConfig(undefined, { env: { MQLITE_ACK_TIMEOUT: '30s' } }).ack_timeout).toBe(30_000);
  });

  it('parses durations and sizes', () => {
    expect(parseDuration('1h2m3s')).toBe(3_723_000);
    expect(parseDuration('250ms')).toBe(250);
    // One rule for bare numbers everywhere: refused (but 0), the file having read them as seconds and the CLI as ms.
    expect(parseDuration(2)).toBeUndefined();
    expect(parseDuration('2')).toBeUndefined();
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('5 s')).toBeUndefined();
    expect(parseSize('512kb')).toBe(512 * 1024);
    expect(parseSize('2GB')).toBe(2 * 1024 ** 3);
    expect(parseSize('2m')).toBe(2 * 1024 ** 2);
    expect(parseSize('-1')).toBeUndefined();
  });
});

describe('configuration: server.tls', () => {
  it('is off by default; paths come from the file or MQLITE_TLS_CERT/KEY/CA; an empty tls section is all defaults', () => {
    expect(loadConfig(undefined, { env: {} }).server.tls).toEqual({ cert: undefined, key: undefined, ca: undefined });
    expect(loadConfig(file('server:\n  tls:\n'), { env: {} }).server.tls).toEqual({ cert: undefined, key: undefined, ca: undefined });
    const c = loadConfig(file('server:\n  tls: {cert: /etc/mqlite/cert.pem, key: /etc/mqlite/key.pem}\n'), { env: { MQLITE_TLS_CA: '/etc/mqlite/ca.pem' } });
    expect(c.server.tls).toEqual({ cert: '/etc/mqlite/cert.pem', key: '/etc/mqlite/key.pem', ca: '/etc/mqlite/ca.pem' });
    const env = loadConfig(undefined, { env: { MQLITE_TLS_CERT: 'c.pem', MQLITE_TLS_KEY: 'k.pem' } });
    expect(env.server.tls).toMatchObject({ cert: 'c.pem', key: 'k.pem' });
  });

  it('stops on a tls value that is not a path, naming the key', () => {
    expect(() => loadConfig(file('server:\n  tls: {cert: 42}\n'), { env: {} })).toThrow(/'server.tls.cert' is 42, expected a file path/);
    expect(() => loadConfig(file('server:\n  tls: {certificate: x.pem}\n'), { env: {} })).toThrow(/unknown key 'server.tls.certificate'/);
  });
});

describe('cluster configuration (docs/DESIGN.md, "Cluster")', () => {
  it('file stays the default; jetstream reads its servers, replicas, cluster name, node id and lease', () => {
    const d = loadConfig(undefined, { env: {} });
    expect(d.persistence.backend).toBe('file');
    expect(d.persistence.jetstream).toEqual({ servers: ['nats://127.0.0.1:4222'], replicas: 3, timeout: 5000 });
    expect(d.cluster).toMatchObject({ name: 'mqlite', lease_ttl: 5000, lease_renew: 1000 });
    const c = loadConfig(
      file('persistence:\n  backend: jetstream\n  jetstream: {servers: [nats://10.0.0.1:4222, nats://10.0.0.2:4222], replicas: 5}\ncluster: {name: prod, node_id: a-1, lease_ttl: 10s, lease_renew: 2s}\n'),
      { env: { MQLITE_NODE_ID: 'b-2' } },
    );
    expect(c.persistence.jetstream.servers).toEqual(['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222']);
    expect(c.persistence.jetstream.replicas).toBe(5);
    expect(c.cluster).toEqual({ name: 'prod', node_id: 'b-2', lease_ttl: 10_000, lease_renew: 2000 });
    const e = loadConfig(undefined, { env: { MQLITE_PERSISTENCE_BACKEND: 'jetstream', MQLITE_NATS_URL: 'nats://h1:4222, nats://h2:4222', MQLITE_CLUSTER_NAME: 'c' } });
    expect(e.persistence.jetstream.servers).toEqual(['nats://h1:4222', 'nats://h2:4222']);
    expect(e.cluster.name).toBe('c');
  });

  it('stops on wrong cluster values, naming the key', () => {
    const env = (extra: Record<string, string>) => () => loadConfig(undefined, { env: { MQLITE_PERSISTENCE_BACKEND: 'jetstream', ...extra } });
    expect(env({ MQLITE_PERSISTENCE_BACKEND: 'nats' })).toThrow(/'persistence.backend' is "nats", expected one of file, jetstream/);
    expect(env({ MQLITE_NATS_URL: 'http://h:4222' })).toThrow(/'persistence.jetstream.servers'.*"http:\/\/h:4222" is not one/);
    expect(env({ MQLITE_NATS_URL: ' , ' })).toThrow(/'persistence.jetstream.servers'.*a list of nats:\/\/ URLs/);
    expect(env({ MQLITE_NODE_ID: 'node one' })).toThrow(/'cluster.node_id' is "node one", expected 1-64 of A-Z a-z 0-9 _ -/);
    expect(env({ MQLITE_PERSISTENCE: 'false' })).toThrow(/'persistence.backend' is jetstream but 'persistence.enabled' is false/);
    expect(() => loadConfig(file('persistence:\n  backend: jetstream\n  jetstream: {replicas: 7}\n'), { env: {} })).toThrow(/'persistence.jetstream.replicas' is 7: JetStream keeps 1 to 5 replicas/);
    expect(() => loadConfig(file('persistence: {backend: jetstream}\ncluster: {lease_ttl: 5s, lease_renew: 3s}\n'), { env: {} })).toThrow(/'cluster.lease_renew' is 3000 ms with 'cluster.lease_ttl' 5000 ms: renew at least twice per lease/);
    expect(() => loadConfig(file('persistence: {backend: jetstream}\ncluster: {lease_ttl: 500ms, lease_renew: 100ms}\n'), { env: {} })).toThrow(/'cluster.lease_ttl' is 500 ms: use at least 1s/);
    expect(() => loadConfig(file('cluster: {lease_ttl: 5}\n'), { env: {} })).toThrow(/'cluster.lease_ttl' is 5, expected a duration with a unit/);
  });
});
