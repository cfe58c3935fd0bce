/**
 * docs/DESIGN.md, "Durability contract (the AOF)": after kill -9 at a random moment (while
 * publishes, acks, auto-ack consumes and AOF rewrites run), every answered
 * mutation survived and nothing acked came back.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/** Where the child logs the acks it sends (crash-child.ts: not stdout, whose lines a kill may drop). */
const SENT_LOG = 'crash-sent.log';

/**
 * Runs the child until SIGKILL. With `stopReadingMs`, the parent stops
 * reading the child's stdout that long before the kill, as a parent busy
 * on a loaded machine does: the child's lines then queue up in it and die
 * with it.
 */
function runUntilKilled(dir: string, fsync: string, killAfterMs: number, seen: Seen, stopReadingMs = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    const p: ChildProcess = spawn(process.execPath, [child, dir, fsync, 'run'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (d) => (stderr += d));
    createInterface({ input: p.stdout! }).on('line', (line) => {
      if (line === 'READY') {
        if (stopReadingMs > 0) setTimeout(() => p.stdout!.pause(), killAfterMs - stopReadingMs);
        setTimeout(() => p.kill('SIGKILL'), killAfterMs);
      }
      const [kind, id] = line.split(' ');
      if (kind === 'P') seen.published.add(id!);
      else if (kind === 'S') seen.inDoubt.add(id!);
      else if (kind === 'A' || kind === 'C') seen.gone.add(id!);
    });
    p.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child exited ${code}: ${stderr}`));
      // Acks sent, answered or not: the child wrote these before sending them.
      const sent = join(dir, SENT_LOG);
      if (existsSync(sent)) for (const line of readFileSync(sent, 'utf8').split('\n')) if (line.startsWith('S ')) seen.inDoubt.add(line.slice(2));
      resolve();
    });
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

// Regression: the ack bookkeeping must not depend on how fast the parent
// reads. The child once announced acks on stdout (a pipe, written
// asynchronously by Node on Linux): with the parent not reading, the `S`
// lines of the last acks stayed queued in the child while the acks reached
// the AOF, the kill dropped them, and those acked ids were reported as
// "answered publishes lost" (1 run in 5-10 under load; here every time).
it('counts an ack as sent even when the parent stopped reading before the kill', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-crash-slowreader-'));
  dirs.push(dir);
  const seen: Seen = { published: new Set(), gone: new Set(), inDoubt: new Set() };
  await runUntilKilled(dir, 'everysec', 900, seen, 400);
  const recovered = new Set(recoveredIds(dir, 'everysec'));
  const lost = [...seen.published].filter((id) => !seen.gone.has(id) && !seen.inDoubt.has(id) && !recovered.has(id));
  expect(lost, `answered publishes lost (dir ${dir})`).toEqual([]);
  expect([...seen.gone].filter((id) => recovered.has(id))).toEqual([]);
  expect(seen.inDoubt.size).toBeGreaterThan(0);
}, 60_000);
