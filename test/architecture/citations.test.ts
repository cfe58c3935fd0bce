/**
 * Comments cite the contracts by section: every citation of the form
 * docs/PROTOCOL.md or docs/DESIGN.md followed by a quoted title must
 * name a heading that exists, and nothing cites an issue number, which
 * means nothing to a reader of the code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && ext.test(e.name))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

const CODE = [...files('src', /\.(ts|md)$/), ...files('cmd', /\.ts$/), ...files('bench', /\.ts$/), ...files('test', /\.ts$/), ...files('proto', /\.proto$/), ...files('docs', /\.md$/), 'config.yaml', 'README.md', 'Dockerfile'];

function headings(doc: string): Set<string> {
  const text = readFileSync(join(ROOT, 'docs', doc), 'utf8');
  return new Set([...text.matchAll(/^#+\s+(.*)$/gm)].map((m) => m[1]!.trim()));
}

const HEADINGS: Record<string, Set<string>> = { PROTOCOL: headings('PROTOCOL.md'), DESIGN: headings('DESIGN.md'), CLIENT: headings('CLIENT.md') };

describe('citations in the code', () => {
  it('every cited section of docs/PROTOCOL.md and docs/DESIGN.md exists', () => {
    const missing: string[] = [];
    let cited = 0;
    for (const file of CODE) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(/docs\/(PROTOCOL|DESIGN|CLIENT)\.md,?\s*\(?((?:"[^"\n]+"(?:,?\s*(?:and\s*)?)?)+)/g)) {
        for (const t of m[2]!.matchAll(/"([^"\n]+)"/g)) {
          cited++;
          if (!HEADINGS[m[1]!]!.has(t[1]!)) missing.push(`${file}: docs/${m[1]}.md "${t[1]}"`);
        }
      }
    }
    expect(cited).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });

  it('no comment, test name or document cites an issue number', () => {
    const found: string[] = [];
    for (const file of CODE) {
      if (file === 'test/architecture/citations.test.ts') continue;
      const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (/\bissues? ?#?\d+|issue-\d+|issue\d+/i.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });
});
