/**
 * Starts the built broker (`dist/cmd/mqlite.js`) in a child process on free
 * ports with a private data directory, so a benchmark's client and the
 * server do not share one core.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export interface ServerProcess {
  ports: { grpc: number; http: number; tcp: number };
  pid: number;
  dataDir: string;
  /** Resolves with the exit code once the process ends. */
  exitCode: Promise<number | null>;
  /** SIGTERM, wait for the exit, remove the data directory (unless the caller gave it). */
  stop(): Promise<void>;
}

// Works from bench/ (tests, through vitest) and from dist/bench/ (npm run bench).
const here = dirname(fileURLToPath(import.meta.url));
const root = here.endsWith(join('dist', 'bench')) ? join(here, '..', '..') : join(here, '..');
/**
 * The broker the benchmarks start: this tree's build, or another one's
 * (`MQLITE_BENCH_ENTRY=/other/dist/cmd/mqlite.js`) to compare two builds
 * in one window with the same benchmark code.
 */
export const serverEntry = process.env.MQLITE_BENCH_ENTRY || join(root, 'dist', 'cmd', 'mqlite.js');
/**
 * Flags for the broker's node process (`MQLITE_BENCH_NODE_FLAGS="--single-threaded-gc"`),
 * space-separated: to compare runtime settings in one window, as above for builds.
 */
const nodeFlags = (process.env.MQLITE_BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');

/**
 * The API key the benchmarks' clients send: $MQLITE_API_KEY. The broker
 * child inherits the environment, so `MQLITE_API_KEYS=k MQLITE_API_KEY=k
 * npm run bench` measures with authentication on.
 */
export const benchApiKey: string | undefined = process.env.MQLITE_API_KEY || undefined;

export async function startServerProcess(
  opts: {
    fsync?: 'always' | 'everysec' | 'no';
    persistence?: boolean;
    extraConfig?: Record<string, unknown>;
    dataDir?: string;
    onLog?: (rec: Record<string, unknown>) => void;
    /** Each line of the child's stderr (default: it goes to this process's stderr). */
    onStderr?: (line: string) => void;
    /** The child's environment (default: this process's). */
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<ServerProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'mqlite-bench-'));
  const config = {
    server: { host: '127.0.0.1', grpc: { port: 0 }, http: { port: 0 }, tcp: { port: 0 } },
    persistence: { enabled: opts.persistence ?? true, aof: { fsync: opts.fsync ?? 'everysec', dir: join(dataDir, 'aof'), rewrite_min_size: '1gb' } },
    log: { level: 'info', format: 'json' },
    ...opts.extraConfig,
  };
  const configPath = join(dataDir, 'config.yaml');
  writeFileSync(configPath, stringify(config));
  const child = spawn(process.execPath, [...nodeFlags, serverEntry, '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  // A startup failure is printed on stderr (cmd/mqlite.ts): kept for the error below.
  let said = '';
  createInterface({ input: child.stderr! }).on('line', (line) => {
    said = line;
    if (opts.onStderr) opts.onStderr(line);
    else process.stderr.write(`${line}\n`);
  });
  const ports = { grpc: 0, http: 0, tcp: 0 };
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      // Not left running behind the caller's back.
      child.kill('SIGKILL');
      reject(new Error('broker did not report ready within 20 s'));
    }, 20_000);
    // What the broker said last on stderr or at warn or above: why it exited, in the error.
    void exited.then((code) => reject(new Error(`broker exited with code ${code} before it was ready${said && `: ${said}`}`)));
    lines.on('line', (line) => {
      let rec: { msg?: string; front?: keyof typeof ports; port?: number; level?: number };
      try {
        rec = JSON.parse(line);
      } catch {
        said = line;
        return;
      }
      if ((rec.level ?? 0) >= 40) said = rec.msg ?? line;
      opts.onLog?.(rec);
      if (rec.msg === 'listening' && rec.front) ports[rec.front] = rec.port!;
      if (rec.msg === 'mqlite ready') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    ports,
    pid: child.pid!,
    dataDir,
    exitCode: exited,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
