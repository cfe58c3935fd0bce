/** gen/ is generated from proto/ and never edited: fail when it is stale. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('generated code', () => {
  it('gen/ matches what `npm run gen` makes from proto/', () => {
    const out = mkdtempSync(join(tmpdir(), 'mqlite-gen-'));
    try {
      execFileSync('npx', ['buf', 'generate', '--output', out], { stdio: 'pipe' });
      const fresh = join(out, 'gen');
      expect(files('gen')).toEqual(files(fresh));
      for (const f of files(fresh)) {
        expect(readFileSync(join('gen', f), 'utf8'), `gen/${f} is stale: run npm run gen and commit`).toBe(readFileSync(join(fresh, f), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('the proto passes buf lint', () => {
    execFileSync('npx', ['buf', 'lint'], { stdio: 'pipe' });
  });
});
