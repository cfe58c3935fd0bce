/**
 * An in-process broker with its three fronts on port 0, and a runner that
 * spawns the built CLI (dist/cmd/mqlite-cli.js) against it, as a user would.
 * `npm test` builds first; run `npm run build` before `npx vitest run test/cli`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Broker, type BrokerOptions } from '../../src/broker/broker.js';
import { silentLogger as logger } from '../../src/log.js';
import type { FrontHandle } from '../../src/server/front.js';
import { startGrpcServer } from '../../src/server/grpc/index.js';
import { startHttpServer } from '../../src/server/http/index.js';
import { startTcpServer } from '../../src/server/tcp/index.js';

export const CLI = join(import.meta.dirname, '../../dist/cmd/mqlite-cli.js');

export type Proto = 'tcp' | 'tcp-json' | 'http' | 'grpc';
export const PROTOS: readonly Proto[] = ['tcp', 'tcp-json', 'http', 'grpc'];

export interface Running {
  broker: Broker;
  ports: { tcp: number; http: number; grpc: number };
  /** Global options that point the CLI at this broker over `proto`. */
  args(proto: Proto): string[];
  stop(): Promise<void>;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<Running> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const { broker } = await Broker.open(opts);
  const host = '127.0.0.1';
  const fronts: FrontHandle[] = [];
  const tcp = await startTcpServer(broker, { host, port: 0, maxFrameBytes: 16 << 20, logger });
  fronts.push(tcp);
  const http = await startHttpServer(broker, { host, port: 0, maxBodyBytes: 16 << 20, sseHeartbeatMs: 15_000, sseMaxInflight: 1000, logger });
  fronts.push(http);
  const grpc = await startGrpcServer(broker, { host, port: 0, maxMessageBytes: 16 << 20, logger });
  fronts.push(grpc);
  const ports = { tcp: tcp.port, http: http.port, grpc: grpc.port };
  return {
    broker,
    ports,
    args(proto: Proto) {
      const port = proto === 'http' ? ports.http : proto === 'grpc' ? ports.grpc : ports.tcp;
      return ['--proto', proto, '--port', String(port), '--http-port', String(ports.http)];
    },
    async stop() {
      await Promise.allSettled(fronts.map((f) => f.close()));
      await broker.close();
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document (throws with the text when it is not). */
  json(): any;
}

export interface RunOptions {
  /** Written to stdin, which is then closed; stdin is empty otherwise. */
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Called once the process is running (to publish while it waits, say). */
  onSpawn?(child: import('node:child_process').ChildProcess): void;
}

export function runCli(args: readonly string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', MQLITE_CLI_HISTORY: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mqlite-cli ${args.join(' ')} did not finish; stdout: ${stdout.slice(-500)} stderr: ${stderr.slice(-500)}`));
    }, opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr,
        json() {
          try {
            return JSON.parse(stdout);
          } catch {
            throw new Error(`stdout of mqlite-cli ${args.join(' ')} is not JSON: ${stdout.slice(0, 500)} (stderr: ${stderr.slice(0, 500)})`);
          }
        },
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
    opts.onSpawn?.(child);
  });
}
