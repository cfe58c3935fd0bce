/**
 * What a command runs against: the global options, the output, and a
 * client opened on first use. A one-shot command gets a session of its own;
 * the REPL keeps one session, so its commands share one connection.
 */
import { readFileSync } from 'node:fs';
import { openOwner } from '../client/cluster.js';
import type { ClientTlsOptions, MqliteClient, QueueFeaturesClient } from '../client/types.js';
import { UsageError } from './errors.js';
import { Output, type OutStream } from './output.js';

/** What every command drives: the base calls and the queue features (the extensions of docs/PROTOCOL.md), on every protocol. */
export type CliClient = MqliteClient & QueueFeaturesClient;

export const PROTOS = ['tcp', 'tcp-json', 'http', 'grpc'] as const;
export type Proto = (typeof PROTOS)[number];

export const DEFAULT_PORTS: Readonly<Record<Proto, number>> = { tcp: 7070, 'tcp-json': 7070, http: 8080, grpc: 9090 };
export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_TIMEOUT_MS = 10_000;

/** The global options, as commander parses them. */
export interface GlobalOptions {
  proto: Proto;
  host: string;
  port?: number;
  httpPort?: number;
  json?: boolean;
  /** Per-request time limit in ms; each command has its default when absent. */
  timeout?: number;
  color: boolean;
  /** `--api-key`, else $MQLITE_API_KEY (set by the program's preAction hook). */
  apiKey?: string;
  /** TLS (docs/PROTOCOL.md, "TLS"): on with --tls, or implied by any of the PEM files (--tls-ca, --tls-cert, --tls-key). */
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** The nodes of a cluster, from a --url listing several (the first is host and port). */
  nodes?: { host: string; port: number }[];
}

export interface Endpoint {
  proto: Proto;
  host: string;
  port: number;
  timeoutMs: number;
  apiKey?: string;
  /** Set: connect with TLS. */
  tls?: ClientTlsOptions;
  /** Several: the nodes of a cluster; the client goes to the one that owns the broker. */
  nodes?: readonly { host: string; port: number }[];
}

function readPem(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`option '${option}' cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * The TLS options of --tls, --tls-ca, --tls-cert, --tls-key (the files are
 * read here); undefined without TLS. (Not --key: `pub --key` is the routing key.)
 */
export function tlsOf(g: Pick<GlobalOptions, 'tls' | 'tlsCa' | 'tlsCert' | 'tlsKey'>): ClientTlsOptions | undefined {
  if (!g.tls && g.tlsCa === undefined && g.tlsCert === undefined && g.tlsKey === undefined) return undefined;
  if ((g.tlsCert === undefined) !== (g.tlsKey === undefined)) {
    const [given, missing] = g.tlsCert === undefined ? ['--tls-key', '--tls-cert'] : ['--tls-cert', '--tls-key'];
    throw new UsageError(`option '${given}' needs '${missing}' too: a client certificate goes with its private key`);
  }
  return {
    ca: g.tlsCa === undefined ? undefined : readPem('--tls-ca <file>', g.tlsCa),
    cert: g.tlsCert === undefined ? undefined : readPem('--tls-cert <file>', g.tlsCert),
    key: g.tlsKey === undefined ? undefined : readPem('--tls-key <file>', g.tlsKey),
  };
}

export function endpointOf(g: GlobalOptions): Endpoint {
  return { proto: g.proto, host: g.host, port: g.port ?? DEFAULT_PORTS[g.proto], timeoutMs: g.timeout ?? DEFAULT_TIMEOUT_MS, apiKey: g.apiKey, tls: tlsOf(g), nodes: g.nodes };
}

export function hostPort(host: string, port: number): string {
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

/** The HTTP front's base URL: `--http-port`, else `--port` when the protocol is http, else 8080. */
export function httpBaseUrl(g: GlobalOptions): string {
  const port = g.httpPort ?? (g.proto === 'http' ? g.port : undefined) ?? DEFAULT_HTTP_PORT;
  return `${tlsOf(g) ? 'https' : 'http'}://${hostPort(g.host, port)}`;
}

/**
 * One client per protocol, all behind CliClient, so every command has one
 * code path. Each is loaded when used: gRPC's runtime alone costs a few
 * hundred ms of startup, which a `--proto tcp` command should not pay.
 */
async function openOne(e: Endpoint): Promise<CliClient> {
  switch (e.proto) {
    case 'tcp':
    case 'tcp-json': {
      const { TcpClient } = await import('../client/tcp/index.js');
      return TcpClient.connect({ host: e.host, port: e.port, encoding: e.proto === 'tcp' ? 'protobuf' : 'json', timeoutMs: e.timeoutMs, apiKey: e.apiKey, tls: e.tls });
    }
    case 'http': {
      const { HttpClient } = await import('../client/http/index.js');
      return new HttpClient({ baseUrl: `http://${hostPort(e.host, e.port)}`, timeoutMs: e.timeoutMs, apiKey: e.apiKey, tls: e.tls });
    }
    case 'grpc': {
      const { GrpcClient } = await import('../client/grpc/index.js');
      // Publishes go over one PublishStream: many in flight, in order (docs/CLIENT.md, "Publishing over a gRPC stream").
      return new GrpcClient({ host: e.host, port: e.port, timeoutMs: e.timeoutMs, apiKey: e.apiKey, tls: e.tls, publishStream: true });
    }
  }
}

/**
 * The client for `e`; with the nodes of a cluster, the client of the node
 * that owns the broker (docs/CLIENT.md, "Clusters"): a standby answers
 * UNAVAILABLE naming the owner, and is passed over, as is a node down.
 */
export async function openClient(e: Endpoint): Promise<CliClient> {
  const nodes = e.nodes;
  if (nodes === undefined || nodes.length < 2) return openOne(e);
  return (await openOwner(nodes.length, (i) => openOne({ ...e, ...nodes[i]! }))).conn;
}

export interface SessionIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: OutStream;
  stderr: OutStream;
  env: NodeJS.ProcessEnv;
}

export type InterruptHandler = () => void;

export class Session {
  private cached: { key: string; client: Promise<CliClient> } | undefined;
  private readonly interruptHandlers = new Set<InterruptHandler>();

  constructor(
    readonly io: SessionIO,
    /** Inside the REPL: stdin is the REPL's, and confirmations go through it. */
    readonly repl: boolean,
    private readonly asker?: (question: string) => Promise<string | undefined>,
  ) {}

  output(g: Pick<GlobalOptions, 'json' | 'color'>): Output {
    return new Output(this.io.stdout, this.io.stderr, { json: g.json === true, color: g.color === false ? false : undefined, env: this.io.env });
  }

  /** The client for these options; reused while they stay the same. */
  async client(g: GlobalOptions): Promise<CliClient> {
    const e = endpointOf(g);
    const key = `${e.proto} ${e.host} ${e.port} ${JSON.stringify(e.nodes ?? [])} ${e.timeoutMs} ${e.apiKey ?? ''} ${e.tls ? `tls ${g.tlsCa} ${g.tlsCert} ${g.tlsKey}` : ''}`;
    if (this.cached?.key !== key) {
      await this.close();
      const client = openClient(e);
      // A failed connect is not kept: the next command tries again.
      client.catch(() => {
        if (this.cached?.client === client) this.cached = undefined;
      });
      this.cached = { key, client };
    }
    return this.cached.client;
  }

  async close(): Promise<void> {
    const c = this.cached;
    this.cached = undefined;
    if (c === undefined) return;
    try {
      await (await c.client).close();
    } catch {
      // Nothing to close when the connect itself failed.
    }
  }

  /** Asks the user a question on the terminal; undefined when nobody can answer. */
  ask(question: string): Promise<string | undefined> {
    if (this.asker) return this.asker(question);
    return Promise.resolve(undefined);
  }

  /** Registers what Ctrl-C does while a command runs; returns the unregister function. */
  onInterrupt(handler: InterruptHandler): () => void {
    this.interruptHandlers.add(handler);
    return () => this.interruptHandlers.delete(handler);
  }

  /** Ctrl-C: runs the handlers; false when no command wanted it. */
  interrupt(): boolean {
    if (this.interruptHandlers.size === 0) return false;
    for (const h of [...this.interruptHandlers]) h();
    return true;
  }
}
