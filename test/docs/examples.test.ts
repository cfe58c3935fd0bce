/**
 * The curl examples of the README's "Quick start" and of the HTTP front's
 * "curl, route by route" run as written, in order, against a real broker
 * (on a free port instead of 8080), and answer what the comment under each
 * says: the same fields, where the comment gives a value without "...".
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBroker } from '../cli/harness.js';

const root = join(import.meta.dirname, '../..');

interface Example {
  command: string;
  /** The JSON of the comment line right under it, when it parses. */
  expected: unknown;
  line: number;
}

/** The `sh` block that follows `marker` in `file`, as commands with their expected answers. */
function examples(file: string, marker: string): Example[] {
  const text = readFileSync(join(root, file), 'utf8');
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`${file} has no "${marker}"`);
  const start = text.indexOf('```sh\n', at) + 6;
  const lines = text.slice(start, text.indexOf('```', start)).split('\n');
  const firstLine = text.slice(0, start).split('\n').length;
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('curl ')) continue;
    const line = firstLine + i;
    let command = lines[i]!;
    while (command.endsWith('\\')) command = `${command.slice(0, -1)} ${lines[++i]!.trim()}`;
    let expected: unknown;
    const comment = /^# (?:\d{3} )?(\{.*\})$/.exec(lines[i + 1] ?? '');
    if (comment) {
      try {
        expected = JSON.parse(comment[1]!);
      } catch {
        expected = undefined; // an elided shape ({...})
      }
    }
    out.push({ command, expected, line });
  }
  return out;
}

/** `actual` has every field of `expected` with its value, but for strings with "..." (elided). */
function matches(actual: unknown, expected: unknown, path = ''): void {
  if (typeof expected === 'string' && expected.includes('...')) return;
  if (expected === null || typeof expected !== 'object') return void expect(actual, path).toEqual(expected);
  expect(typeof actual, path).toBe('object');
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual) && actual.length, path).toBe(expected.length);
    expected.forEach((e, i) => matches((actual as unknown[])[i], e, `${path}[${i}]`));
    return;
  }
  for (const [k, v] of Object.entries(expected)) matches((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
}

function sh(command: string, port: number): Promise<{ code: number; out: string }> {
  const cmd = command.replace(/localhost:8080|127\.0\.0\.1:8080/g, `127.0.0.1:${port}`);
  // A stream (SSE) is cut after a moment, as a user's Ctrl-C would.
  const streaming = /curl -sN /.test(cmd);
  return new Promise((resolve) =>
    execFile('sh', ['-c', streaming ? cmd.replace('curl -sN ', 'curl -sN --max-time 1 ') : cmd], { env: { ...process.env, B: `http://127.0.0.1:${port}` } }, (err, stdout) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout }),
    ),
  );
}

describe('documented curl examples run as written', () => {
  let running: Awaited<ReturnType<typeof startBroker>>;
  beforeEach(async () => {
    running = await startBroker();
  });
  afterEach(() => running.stop());

  for (const [file, marker] of [
    ['README.md', 'Try it:'],
    ['src/server/http/README.md', '## curl, route by route'],
  ] as const) {
    it(`${file}, "${marker}"`, async () => {
      const list = examples(file, marker);
      expect(list.length).toBeGreaterThan(3);
      for (const ex of list) {
        const r = await sh(ex.command.replace(/^B=.*$/, ''), running.ports.http);
        const where = `${file}:${ex.line}: ${ex.command}\n${r.out}`;
        if (/curl -sN /.test(ex.command)) {
          expect(r.out, where).toContain(': subscribed');
          continue;
        }
        expect(r.code, where).toBe(0);
        const body = JSON.parse(r.out) as { success?: boolean };
        if ('success' in body) expect(body.success, where).toBe(true);
        if (ex.expected !== undefined) matches(body, ex.expected, where);
      }
    });
  }
});
