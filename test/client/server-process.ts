/**
 * The broker as a separate process (dist/cmd/mqlite.js) on chosen ports,
 * for tests that kill it or run programs against it as a user would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../bench/free-port.js';

export { freePort };

const SERVER = join(import.meta.dirname, '../../dist/cmd/mqlite.js');
const children = new Set<ChildProcess>();

/** Kills every broker process these helpers started and that still runs. */
export function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
}


export interface Ports {
  tcp: number;
  http: number;
  grpc: number;
}

/** Starts the broker process; resolves once it logs that it listens. */
export function startServer(dir: string, ports: Ports): Promise<ChildProcess> {
  const p = spawn(process.execPath, [SERVER], {
    env: {
      ...process.env,
      MQLITE_TCP_PORT: String(ports.tcp),
      MQLITE_HTTP_PORT: String(ports.http),
      MQLITE_GRPC_PORT: String(ports.grpc),
      MQLITE_AOF_DIR: dir,
      MQLITE_FSYNC: 'always',
      MQLITE_LOG_FORMAT: 'json',
      MQLITE_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(p);
  p.on('exit', () => children.delete(p));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${out}`)), 20_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      // one line per front: wait for all three
      if ((out.match(/listening/gi) ?? []).length >= 3) {
        clearTimeout(timer);
        p.stdout!.off('data', onData);
        p.stdout!.resume();
        resolve(p);
      }
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => reject(new Error(`broker exited ${code}: ${out}`)));
  });
}

