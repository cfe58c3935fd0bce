/**
 * Starts the peers (redis-server, nats-server) on 127.0.0.1, each on a free
 * port with a private temporary data directory, and stops them. Every
 * process started here is also killed if this process exits without
 * stopping it (an exception, Ctrl-C), so no peer outlives a run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../free-port.js';

export { freePort };

export interface PeerProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Debian puts nats-server in /usr/sbin, which a non-root PATH may lack. */
export function findBinary(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/usr/local/bin'])) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${name} not found (scripts/install-peers.sh installs it)`);
}

export function binaryVersion(name: string, pattern: RegExp): string {
  const out = execFileSync(findBinary(name), ['--version'], { encoding: 'utf8' });
  return pattern.exec(out)?.[1] ?? out.trim();
}


async function waitForPort(port: number, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before listening`);
    const open = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port} within 15 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startPeer(name: string, args: (port: number, dir: string) => string[]): Promise<PeerProcess> {
  const dir = mkdtempSync(join(tmpdir(), `mqlite-peers-${name}-`));
  const port = await freePort();
  const child = spawn(findBinary(name), args(port, dir), { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  // Kept for error messages only: a healthy peer's banner would bury the progress lines.
  let log = '';
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    live.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, name);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return { port, pid: child.pid!, stop };
}

/**
 * Redis with the AOF on (`appendonly yes`) and the given `appendfsync`; RDB
 * snapshots and automatic AOF rewrites off, as the MQLite side runs with
 * its rewrite threshold out of reach, so neither pays for a rewrite mid-run.
 */
export function startRedis(appendfsync: 'everysec' | 'always'): Promise<PeerProcess> {
  return startPeer('redis-server', (port, dir) => [
    '--bind', '127.0.0.1',
    '--port', String(port),
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', appendfsync,
    '--auto-aof-rewrite-percentage', '0',
    '--save', '',
    '--daemonize', 'no',
    '--protected-mode', 'yes',
    '--loglevel', 'warning',
    '--logfile', '',
  ]);
}

/** nats-server with JetStream, file storage in the private directory, defaults otherwise. */
export function startNats(): Promise<PeerProcess> {
  return startPeer('nats-server', (port, dir) => {
    const config = join(dir, 'nats.conf');
    writeFileSync(config, `listen: "127.0.0.1:${port}"\njetstream {\n  store_dir: "${join(dir, 'js')}"\n}\n`);
    return ['-c', config];
  });
}
