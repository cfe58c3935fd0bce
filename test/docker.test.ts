/**
 * The Docker image's health check and build context. No Docker engine runs
 * here, so the HEALTHCHECK's own command, read from the Dockerfile, is run
 * as the image would run it (from the package root, through sh) against a
 * real broker and against nothing.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from './cli/harness.js';
import { freePort } from './client/server-process.js';

const root = join(import.meta.dirname, '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

/** The HEALTHCHECK's CMD, its line continuations joined. */
function healthCommand(): string {
  const joined = dockerfile.replace(/\\\n\s*/g, ' ');
  const m = /^HEALTHCHECK\s.*?\bCMD\s+(.+)$/m.exec(joined);
  if (!m) throw new Error('the Dockerfile has no HEALTHCHECK ... CMD line');
  return m[1]!.trim();
}

/** Run in a child while this process keeps serving the broker under test (so never spawnSync). */
function runHealth(httpPort: number): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) =>
    execFile('sh', ['-c', healthCommand()], { cwd: root, env: { ...process.env, MQLITE_HTTP_PORT: String(httpPort) }, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );
}

describe('Dockerfile HEALTHCHECK', () => {
  let broker: Awaited<ReturnType<typeof startBroker>>;
  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(() => broker.stop());

  it('is healthy against a running broker, on the port MQLITE_HTTP_PORT names', async () => {
    const r = await runHealth(broker.ports.http);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('ok');
  });

  it('is unhealthy when nothing answers', async () => {
    const r = await runHealth(await freePort());
    expect(r.status).not.toBe(0);
  });
});

describe('.dockerignore', () => {
  it('keeps the heavy and the private directories out of the build context', () => {
    const ignored = new Set(
      readFileSync(join(root, '.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#')),
    );
    for (const dir of ['node_modules', 'dist', 'data', '.git']) expect(ignored.has(dir), dir).toBe(true);
    // ...and nothing the Dockerfile copies.
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) expect(ignored.has(src), `${src} is copied by the Dockerfile`).toBe(false);
    }
  });
});
