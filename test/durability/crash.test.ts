/**
 * DESIGN.md, "Durability contract": after kill -9 at a random moment (while
 * publishes, acks, auto-ack consumes and AOF rewrites run), every answered
 * mutation survived and nothing acked came back.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';

const child = join(process.cwd(), 'dist', 'test', 'fixtures', 'crash-child.js');
const dirs: string[] = [];

interface Seen {
  published: Set<string>;
  /** Acked or auto-ack consumed, answered: must never come back. */
  gone: Set<string>;
  /** Ack sent but maybe not answered: may or may not be back. */
  inDoubt: Set<string>;
}
afterAll(() => { if (!process.env.KEEP_CRASH_DIRS) dirs.forEach((d) => rmSync(d, { recursive: true, force: true })); });

function runUntilKilled(dir: string, fsync: string, killAfterMs: number, seen: Seen): Promise<void> {
  return new Promise((resolve, reject) => {
    const p: ChildProcess = spawn(process.execPath, [child, dir, fsync, 'run'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (d) => (stderr += d));
    createInterface({ input: p.stdout! }).on('line', (line) => {
      if (line === 'READY') setTimeout(() => p.kill('SIGKILL'), killAfterMs);
      const [kind, id] = line.split(' ');
      if (kind === 'P') seen.published.add(id!);
      else if (kind === 'S') seen.inDoubt.add(id!);
      else if (kind === 'A' || kind === 'C') seen.gone.add(id!);
    });
    p.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code}: ${stderr}`))));
  });
}

function recoveredIds(dir: string, fsync: string): string[] {
  const r = spawnSync(process.execPath, [child, dir, fsync, 'dump'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`recovery failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

describe.each(['everysec', 'always'])('kill -9 with fsync %s', (fsync) => {
  it('keeps every answered publish and brings back no acked message, across repeated crashes', async () => {
    const dir = mkdtempSync(join(tmpdir(), `mqlite-crash-${fsync}-`));
    dirs.push(dir);
    const seen: Seen = { published: new Set(), gone: new Set(), inDoubt: new Set() };
    for (let round = 0; round < 4; round++) {
      await runUntilKilled(dir, fsync, 150 + Math.floor(Math.random() * 600), seen);
      const recovered = new Set(recoveredIds(dir, fsync));
      const lost = [...seen.published].filter((id) => !seen.gone.has(id) && !seen.inDoubt.has(id) && !recovered.has(id));
      const cameBack = [...seen.gone].filter((id) => recovered.has(id));
      expect(lost, `round ${round}: answered publishes lost (dir ${dir})`).toEqual([]);
      expect(cameBack, `round ${round}: acked messages back`).toEqual([]);
    }
    expect(seen.published.size).toBeGreaterThan(100);
    expect(seen.gone.size).toBeGreaterThan(10);
  }, 60_000);
});
