/**
 * The layers run one way (docs/DESIGN.md, "Shape"): the core knows no
 * network and no wire format, persistence knows no core, the clients know
 * no server, the fronts know one another only through what they share, and
 * the protocol folder knows nothing of ours. Read from the imports of every
 * file under src/ and cmd/, so a change that bends a layer back fails here
 * naming the file and the import.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

interface Import {
  readonly from: string;
  /** Repository-relative path without extension for our files; the bare specifier otherwise. */
  readonly to: string;
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

const SPECIFIER = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    const to = spec.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.(js|ts)$/, '') : spec;
    out.push({ from: file, to });
  }
  return out;
}

const FILES = [...sources('src'), ...sources('cmd')];
const IMPORTS = FILES.flatMap(importsOf);

const under = (dir: string) => (path: string) => path === dir || path.startsWith(`${dir}/`);

/** Every import from a file under `from` that `bad` matches, as "file -> import". */
function violations(from: string, bad: (to: string) => boolean): string[] {
  return IMPORTS.filter((i) => under(from)(i.from) && bad(i.to)).map((i) => `${i.from} -> ${i.to}`);
}

/** Every cycle in a directed graph, each as "a -> b -> a" (depth-first, one report per back edge). */
function cycles(edges: ReadonlyMap<string, readonly string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return found;
}

const NETWORK = /^(node:)?(net|http|https|http2|tls|dgram)$|^@grpc\/|^hono($|\/)|^@hono\//;
const FRONTS = ['src/server/tcp', 'src/server/http', 'src/server/grpc'];

describe('layers run one way', () => {
  it('reads the imports of every source file', () => {
    expect(FILES.length).toBeGreaterThan(50);
    expect(IMPORTS.some((i) => i.from === 'cmd/mqlite.ts' && i.to === 'src/server/embed')).toBe(true);
  });

  it('the clients import nothing from the server or the core', () => {
    expect(violations('src/client', (to) => under('src/server')(to) || under('src/broker')(to))).toEqual([]);
  });

  it('the CLI imports nothing from the server or the core (it is a client)', () => {
    expect(violations('src/cli', (to) => under('src/server')(to) || under('src/broker')(to))).toEqual([]);
  });

  it('persistence imports nothing from the core or the fronts', () => {
    expect(violations('src/aof', (to) => under('src/broker')(to) || under('src/server')(to))).toEqual([]);
  });

  it('the core imports no front, client, CLI, network module or wire encoding', () => {
    const bad = (to: string) =>
      ['src/server', 'src/client', 'src/cli', 'gen'].some((d) => under(d)(to)) ||
      NETWORK.test(to) ||
      // The protocol's constants (header names) are fine; its encoders are not.
      (under('src/protocol')(to) && to !== 'src/protocol/message');
    expect(violations('src/broker', bad)).toEqual([]);
  });

  it('no import cycle inside the core or inside persistence (each file one idea, read bottom up)', () => {
    for (const dir of ['src/broker', 'src/aof']) {
      const edges = new Map<string, string[]>();
      for (const i of IMPORTS) {
        if (under(dir)(i.from) && under(dir)(i.to)) {
          const from = i.from.replace(/\.ts$/, '');
          edges.set(from, [...(edges.get(from) ?? []), i.to]);
        }
      }
      expect(cycles(edges), dir).toEqual([]);
    }
  });

  it('no front imports another front (what they share is in src/server/, the command table included)', () => {
    const found = FRONTS.flatMap((front) => violations(front, (to) => FRONTS.some((other) => other !== front && under(other)(to))));
    expect(found).toEqual([]);
  });

  it('the protocol folder imports nothing of ours but gen/', () => {
    expect(violations('src/protocol', (to) => (to.startsWith('src/') && !under('src/protocol')(to)) || to.startsWith('cmd/'))).toEqual([]);
  });
});
