/**
 * config.yaml (docs/DESIGN.md, "Configuration (config.yaml)"). Every key has a default, so the
 * broker starts with no file. Keys stay compatible with existing MQLite
 * config files. A wrong key or value stops startup with a message naming
 * it; environment variables override the common keys (ENV_OVERRIDES).
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname, totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { parse } from 'yaml';
import type { FsyncPolicy } from './aof/store.js';
import type { ApiKeyConfig } from './auth/api-keys.js';
import { isValidName } from './broker/broker.js';
import { PERMISSIONS, type Permission } from './auth/access.js';
import type { LogFormat } from './log.js';

export interface FrontConfig {
  enabled: boolean;
  port: number;
}

export interface Config {
  server: {
    host: string;
    grpc: FrontConfig;
    http: FrontConfig & { sse_heartbeat: number };
    tcp: FrontConfig;
    /** PEM file paths; cert and key turn TLS on for every front, ca adds client certificates (mutual TLS). */
    tls: { cert?: string; key?: string; ca?: string };
  };
  persistence: {
    enabled: boolean;
    /** Where the log lives (docs/DESIGN.md, "Cluster"): the AOF file, or a NATS JetStream stream. */
    backend: 'file' | 'jetstream';
    jetstream: {
      /** nats:// URLs of the engine's nodes. */
      servers: string[];
      /** Replicas of the stream and of the ownership bucket, made when they are first created. */
      replicas: number;
      /** Milliseconds to wait for the engine: connecting, and each acknowledgement. */
      timeout: number;
    };
    aof: {
      fsync: FsyncPolicy;
      dir: string;
      filename: string;
      rewrite_min_size: number;
      rewrite_percentage: number;
      /** Milliseconds: first wait before rebuilding a failed AOF, doubling to 30 s. */
      retry_interval: number;
    };
  };
  /** docs/DESIGN.md, "Cluster": read with persistence.backend jetstream only. */
  cluster: {
    /** Names the stream, the ownership bucket's key and the nodes that share them. */
    name: string;
    /** This node's name in the ownership record and in standby answers. */
    node_id: string;
    /** Milliseconds an owner holds the broker without renewing (the ownership bucket's TTL). */
    lease_ttl: number;
    /** Milliseconds between an owner's renewals, and between a standby's attempts to take over. */
    lease_renew: number;
  };
  log: { level: string; format: LogFormat };
  /** docs/PROTOCOL.md, "Compatibility mode". */
  compat: { original: boolean };
  /** Milliseconds. */
  ack_timeout: number;
  /** Milliseconds. */
  drain_timeout: number;
  limits: {
    max_payload: number;
    max_batch: number;
    max_headers: number;
    max_frame: number;
    max_body: number;
    max_inflight_per_subscription: number;
    max_queues_per_topic: number;
    // Limits (docs/DESIGN.md, "Limits"):
    max_connections: number;
    max_subscriptions_per_connection: number;
    max_namespaces: number;
    max_topics_per_namespace: number;
    /** Bytes; 0 disables. */
    memory_high_water: number;
  };
  // ---- security: API keys (docs/DESIGN.md, "Authentication") ----
  security: {
    /** Empty: authentication off. */
    api_keys: ApiKeyConfig[];
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Kind = 'bool' | 'port' | 'string' | 'name' | 'path?' | 'duration' | 'size' | 'count' | 'percent' | 'api_keys' | 'nats_urls' | readonly string[];

/** The schema: every key, its kind and its default. */
const SCHEMA: Record<string, { kind: Kind; def: unknown }> = {
  'server.host': { kind: 'string', def: '127.0.0.1' },
  'server.grpc.enabled': { kind: 'bool', def: true },
  'server.grpc.port': { kind: 'port', def: 9090 },
  'server.http.enabled': { kind: 'bool', def: true },
  'server.http.port': { kind: 'port', def: 8080 },
  'server.http.sse_heartbeat': { kind: 'duration', def: 15_000 },
  'server.tcp.enabled': { kind: 'bool', def: true },
  'server.tcp.port': { kind: 'port', def: 7070 },
  // TLS: optional PEM paths; src/server/tls.ts reads and checks the files.
  'server.tls.cert': { kind: 'path?', def: undefined },
  'server.tls.key': { kind: 'path?', def: undefined },
  'server.tls.ca': { kind: 'path?', def: undefined },
  'persistence.enabled': { kind: 'bool', def: true },
  'persistence.backend': { kind: ['file', 'jetstream'], def: 'file' },
  'persistence.jetstream.servers': { kind: 'nats_urls', def: ['nats://127.0.0.1:4222'] },
  'persistence.jetstream.replicas': { kind: 'count', def: 3 },
  'persistence.jetstream.timeout': { kind: 'duration', def: 5000 },
  'persistence.aof.fsync': { kind: ['always', 'everysec', 'no'], def: 'everysec' },
  'persistence.aof.dir': { kind: 'string', def: './data' },
  'persistence.aof.filename': { kind: 'string', def: 'appendonly.aof' },
  'persistence.aof.rewrite_min_size': { kind: 'size', def: 64 * 1024 * 1024 },
  'persistence.aof.rewrite_percentage': { kind: 'percent', def: 100 },
  'persistence.aof.retry_interval': { kind: 'duration', def: 1000 },
  'cluster.name': { kind: 'name', def: 'mqlite' },
  'cluster.node_id': { kind: 'name', def: defaultNodeId() },
  'cluster.lease_ttl': { kind: 'duration', def: 5000 },
  'cluster.lease_renew': { kind: 'duration', def: 1000 },
  'log.level': { kind: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], def: 'info' },
  'log.format': { kind: ['json', 'text'], def: 'json' },
  ack_timeout: { kind: 'duration', def: 30_000 },
  drain_timeout: { kind: 'duration', def: 30_000 },
  'limits.max_payload': { kind: 'size', def: 4 * 1024 * 1024 },
  'limits.max_batch': { kind: 'count', def: 1000 },
  'limits.max_headers': { kind: 'count', def: 64 },
  'limits.max_frame': { kind: 'size', def: 16 * 1024 * 1024 },
  'limits.max_body': { kind: 'size', def: 16 * 1024 * 1024 },
  'limits.max_inflight_per_subscription': { kind: 'count', def: 1000 },
  'limits.max_queues_per_topic': { kind: 'count', def: 1024 },
  // Limits (docs/DESIGN.md, "Limits").
  'limits.max_connections': { kind: 'count', def: 10_000 },
  'limits.max_subscriptions_per_connection': { kind: 'count', def: 100 },
  'limits.max_namespaces': { kind: 'count', def: 10_000 },
  'limits.max_topics_per_namespace': { kind: 'count', def: 10_000 },
  'limits.memory_high_water': { kind: 'size', def: defaultMemoryHighWater() },
  // ---- security ----
  'security.api_keys': { kind: 'api_keys', def: [] },
  // The original Go MQLite's answers for its existing clients (docs/PROTOCOL.md, "Compatibility mode").
  'compat.original': { kind: 'bool', def: false },
};

/**
 * The default of limits.memory_high_water: 3/4 of the memory the process
 * may use (its cgroup limit, else the machine's RAM), and at most 3/4 of
 * V8's heap limit. Payloads live outside the heap, but each message also
 * costs heap, and the accounted figure counts at least that much per
 * message, so under this mark neither the heap nor the container runs out.
 */
export function defaultMemoryHighWater(): number {
  const constrained = process.constrainedMemory?.() ?? 0;
  const memory = constrained > 0 ? Math.min(constrained, totalmem()) : totalmem();
  return Math.floor(0.75 * Math.min(memory, getHeapStatistics().heap_size_limit));
}

/** The host name, as a node id may spell it. */
function defaultNodeId(): string {
  return hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'node';
}

/** Environment variables and the key each overrides. */
export const ENV_OVERRIDES: Record<string, string> = {
  MQLITE_HOST: 'server.host',
  MQLITE_GRPC_PORT: 'server.grpc.port',
  MQLITE_HTTP_PORT: 'server.http.port',
  MQLITE_TCP_PORT: 'server.tcp.port',
  MQLITE_PERSISTENCE: 'persistence.enabled',
  MQLITE_AOF_DIR: 'persistence.aof.dir',
  MQLITE_FSYNC: 'persistence.aof.fsync',
  MQLITE_LOG_LEVEL: 'log.level',
  MQLITE_LOG_FORMAT: 'log.format',
  MQLITE_ACK_TIMEOUT: 'ack_timeout',
  // comma-separated full-access keys; replaces the file's list
  MQLITE_API_KEYS: 'security.api_keys',
  MQLITE_TLS_CERT: 'server.tls.cert',
  MQLITE_TLS_KEY: 'server.tls.key',
  MQLITE_TLS_CA: 'server.tls.ca',
  MQLITE_COMPAT_ORIGINAL: 'compat.original',
  MQLITE_PERSISTENCE_BACKEND: 'persistence.backend',
  // comma-separated nats:// URLs
  MQLITE_NATS_URL: 'persistence.jetstream.servers',
  MQLITE_CLUSTER_NAME: 'cluster.name',
  MQLITE_NODE_ID: 'cluster.node_id',
};

/** How an environment override is named in errors. */
const ENV_SOURCE = 'environment variable ';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/**
 * Go-style durations ("30s", "1m30s", "500ms"), and 0. A bare number is
 * refused wherever a duration is read (config file, environment, CLI
 * flags: docs/DESIGN.md, "Configuration (config.yaml)"): the file read it
 * as seconds and the CLI as milliseconds, so `30` meant two things.
 */
export function parseDuration(v: unknown): number | undefined {
  if (v === 0 || v === '0') return 0;
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  const s = v.trim();
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    consumed = re.lastIndex;
  }
  return consumed === s.length ? Math.round(total) : undefined;
}

/** What to write instead of a bare number `n` where a duration is expected. */
export function durationHint(n: unknown): string {
  const text = typeof n === 'number' ? String(n) : typeof n === 'string' ? n.trim() : '';
  if (!/^\d+(\.\d+)?$/.test(text)) return 'a duration such as "30s", "500ms" or "1m30s"';
  return `a duration with a unit: write "${text}s" for seconds or "${text}ms" for milliseconds (a bare number is refused)`;
}

/** Bytes, as a number or "64mb", "512kb", "1gb". */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+)\s*([kmg]?b?)$/i.exec(v.trim());
  if (!m) return undefined;
  const unit = SIZE_UNITS[m[2]!.toLowerCase().replace(/^([kmg])$/, '$1b')];
  return unit === undefined ? undefined : Number(m[1]) * unit;
}

function coerce(key: string, kind: Kind, raw: unknown, from: string): unknown {
  // before `fail`, which quotes the value: a key must never reach an error message
  if (kind === 'api_keys') return apiKeys(key, raw, from);
  const fail = (expected: string): never => {
    throw new ConfigError(`${from}: '${key}' is ${JSON.stringify(raw)}, expected ${expected}`);
  };
  if (Array.isArray(kind)) return kind.includes(raw as string) ? raw : fail(`one of ${kind.join(', ')}`);
  const text = typeof raw === 'string' ? raw.trim() : raw;
  switch (kind) {
    case 'bool':
      if (typeof text === 'boolean') return text;
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      return fail('true or false');
    case 'port': {
      const n = typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : text;
      return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 65535 ? n : fail('a port number 0-65535 (0 picks a free port)');
    }
    case 'count':
    case 'percent': {
      const n = typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : text;
      return Number.isInteger(n) && (n as number) >= (kind === 'count' ? 1 : 0) ? n : fail(kind === 'count' ? 'a whole number >= 1' : 'a whole number >= 0');
    }
    case 'string':
      return typeof text === 'string' && text !== '' ? text : fail('a non-empty string');
    case 'name':
      // a cluster or node name is part of NATS subjects, stream and key names
      return typeof text === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(text) ? text : fail('1-64 of A-Z a-z 0-9 _ -');
    case 'nats_urls': {
      const list = typeof text === 'string' ? text.split(',').map((u) => u.trim()).filter((u) => u !== '') : text;
      if (!Array.isArray(list) || list.length === 0) return fail('a list of nats:// URLs (in the environment: comma-separated)');
      for (const u of list) {
        if (typeof u !== 'string' || !/^(nats|tls):\/\/[^\s/]+(:\d+)?\/?$/.test(u)) return fail(`nats://host:port URLs; ${JSON.stringify(u)} is not one`);
      }
      return list;
    }
    case 'path?':
      // null (an empty YAML value) leaves an optional path unset.
      if (text === null) return undefined;
      return typeof text === 'string' && text !== '' ? text : fail('a file path');
    case 'duration':
      return parseDuration(text) ?? fail(durationHint(text));
    case 'size':
      return parseSize(text) ?? fail('a size in bytes such as 1048576, "512kb" or "64mb"');
  }
  return fail('a valid value');
}

// ---- security.api_keys ----

/** Shortest key accepted: a guessable key is no protection, so a short one stops startup. */
export const MIN_API_KEY_LENGTH = 16;
const API_KEY_FIELDS = new Set(['key', 'name', 'namespaces', 'permissions']);

/**
 * A list whose items are a key string (full access) or `{key, name?,
 * namespaces?, permissions?}`; from the environment, comma-separated keys.
 * Errors name the item (`security.api_keys[2].key`), never the key.
 */
function apiKeys(path: string, raw: unknown, from: string): ApiKeyConfig[] {
  const fail = (at: string, problem: string): never => {
    throw new ConfigError(`${from}: '${at}' ${problem}`);
  };
  let items: unknown[];
  if (raw === null || raw === undefined) items = [];
  // a string is the environment's form only: in a file it is a mistake for a list
  else if (typeof raw === 'string' && from.startsWith(ENV_SOURCE)) items = raw.split(',').map((k) => k.trim()).filter((k) => k !== '');
  else if (Array.isArray(raw)) items = raw;
  else return fail(path, 'must be a list of keys: each a string (full access) or {key, namespaces?, permissions?}');
  const seenKeys = new Set<string>();
  const seenNames = new Set<string>();
  return items.map((item, i): ApiKeyConfig => {
    const at = `${path}[${i}]`;
    const entry = typeof item === 'string' ? { key: item } : item;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      return fail(at, 'must be a key string or a mapping {key, namespaces?, permissions?}');
    }
    const e = entry as Record<string, unknown>;
    for (const field of Object.keys(e)) if (!API_KEY_FIELDS.has(field)) fail(`${at}.${field}`, `is not a field of an API key (fields: ${[...API_KEY_FIELDS].join(', ')})`);
    const key = e.key;
    if (typeof key !== 'string' || key === '') return fail(`${at}.key`, 'must be a non-empty string');
    if (/\s|,/.test(key)) fail(`${at}.key`, 'must not contain whitespace or commas');
    if (key.length < MIN_API_KEY_LENGTH) {
      fail(`${at}.key`, `is ${key.length} characters long: use at least ${MIN_API_KEY_LENGTH} (e.g. the output of 'openssl rand -hex 32')`);
    }
    if (seenKeys.has(key)) fail(`${at}.key`, 'repeats an earlier key: each key must be listed once');
    seenKeys.add(key);
    const out: ApiKeyConfig = { key };
    if (e.name !== undefined) {
      if (typeof e.name !== 'string' || e.name === '') fail(`${at}.name`, 'must be a non-empty string');
      if (seenNames.has(e.name as string)) fail(`${at}.name`, `repeats the name '${e.name as string}'`);
      out.name = e.name as string;
    }
    out.name ??= `key-${i + 1}`;
    seenNames.add(out.name);
    if (e.namespaces !== undefined) {
      const ns = e.namespaces;
      if (!Array.isArray(ns) || ns.length === 0) return fail(`${at}.namespaces`, 'must be a non-empty list of namespace names (leave it out for every namespace)');
      ns.forEach((n, j) => {
        if (!isValidName(n)) fail(`${at}.namespaces[${j}]`, `is ${JSON.stringify(n)}: a namespace name is 1-128 of A-Z a-z 0-9 . _ -`);
      });
      out.namespaces = ns as string[];
    }
    if (e.permissions !== undefined) {
      const ps = e.permissions;
      if (!Array.isArray(ps) || ps.length === 0) return fail(`${at}.permissions`, `must be a non-empty list of ${PERMISSIONS.join(', ')} (leave it out for all)`);
      ps.forEach((p, j) => {
        if (!PERMISSIONS.includes(p as Permission)) fail(`${at}.permissions[${j}]`, `is ${JSON.stringify(p)}, expected one of ${PERMISSIONS.join(', ')}`);
      });
      out.permissions = [...new Set(ps as Permission[])];
    }
    return out;
  });
}

function flatten(obj: unknown, prefix: string, out: Map<string, unknown>, from: string): void {
  if (obj === null || obj === undefined) return;
  if (typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError(`${from}: '${prefix || '(top level)'}' must be a mapping of keys`);
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (SCHEMA[key]) out.set(key, v);
    // A section left empty (`tls:` with its keys commented out) is null: all defaults.
    else if ((v === null || (typeof v === 'object' && !Array.isArray(v))) && Object.keys(SCHEMA).some((s) => s.startsWith(`${key}.`))) flatten(v, key, out, from);
    else throw new ConfigError(`${from}: unknown key '${key}' (known keys: ${Object.keys(SCHEMA).join(', ')})`);
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
  node[parts.at(-1)!] = value;
}

/**
 * Loads the config: defaults, then the file (if it exists; a missing file
 * is an error only when `required`), then environment overrides.
 */
export function loadConfig(path: string | undefined, opts: { required?: boolean; env?: NodeJS.ProcessEnv } = {}): Config {
  const values = new Map<string, unknown>();
  for (const [k, { def }] of Object.entries(SCHEMA)) values.set(k, def);
  if (path !== undefined) {
    if (existsSync(path)) {
      let doc: unknown;
      try {
        doc = parse(readFileSync(path, 'utf8'));
      } catch (err) {
        throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message}`);
      }
      const raw = new Map<string, unknown>();
      flatten(doc, '', raw, path);
      for (const [k, v] of raw) values.set(k, coerce(k, SCHEMA[k]!.kind, v, path));
    } else if (opts.required) {
      throw new ConfigError(`config file ${path} does not exist: pass an existing file to --config, or omit it to use the defaults`);
    }
  }
  const env = opts.env ?? process.env;
  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const v = env[name];
    if (v !== undefined && v !== '') values.set(key, coerce(key, SCHEMA[key]!.kind, v, `${ENV_SOURCE}${name}`));
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of values) setPath(out, k, v);
  checkTogether(out as unknown as Config);
  return out as unknown as Config;
}

/** The rules that tie keys together; each error names the keys. */
function checkTogether(c: Config): void {
  const p = c.persistence;
  if (p.backend === 'file') return;
  if (!p.enabled) {
    throw new ConfigError(`'persistence.backend' is jetstream but 'persistence.enabled' is false: a cluster node keeps its state in JetStream; set persistence.enabled: true, or persistence.backend: file`);
  }
  if (p.jetstream.replicas > 5) {
    throw new ConfigError(`'persistence.jetstream.replicas' is ${p.jetstream.replicas}: JetStream keeps 1 to 5 replicas (3 survives the loss of one engine node)`);
  }
  const { lease_ttl: ttl, lease_renew: renew } = c.cluster;
  if (ttl < 1000) throw new ConfigError(`'cluster.lease_ttl' is ${ttl} ms: use at least 1s (the engine expires keys with about a second's precision)`);
  if (renew === 0 || renew * 2 > ttl) {
    throw new ConfigError(`'cluster.lease_renew' is ${renew} ms with 'cluster.lease_ttl' ${ttl} ms: renew at least twice per lease (e.g. lease_ttl 5s, lease_renew 1s)`);
  }
}
