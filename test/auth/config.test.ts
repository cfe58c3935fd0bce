/**
 * `security.api_keys` and MQLITE_API_KEYS (docs/PROTOCOL.md, "Authentication"): the accepted
 * shapes, and a clear error naming the bad item (never quoting a key) for
 * every bad one.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const file = (text: string): string => {
  const p = join(mkdtempSync(join(tmpdir(), 'mqlite-auth-config-')), 'config.yaml');
  writeFileSync(p, text);
  return p;
};
const K1 = 'k1-0123456789abcdef';
const K2 = 'k2-0123456789abcdef';

/** The ConfigError of loading `yaml`; fails when it loads. */
function errorOf(yaml: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig(file(yaml), { env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the config loaded');
}

describe('security.api_keys', () => {
  it('is empty by default: authentication off', () => {
    expect(loadConfig(undefined, { env: {} }).security.api_keys).toEqual([]);
  });

  it('takes plain keys (full access) and scoped keys', () => {
    const c = loadConfig(
      file(`security:\n  api_keys:\n    - ${K1}\n    - {key: ${K2}, name: shop, namespaces: [shop, shop-eu], permissions: [read, write]}\n`),
      { env: {} },
    );
    expect(c.security.api_keys).toEqual([
      { key: K1, name: 'key-1' },
      { key: K2, name: 'shop', namespaces: ['shop', 'shop-eu'], permissions: ['read', 'write'] },
    ]);
  });

  it('MQLITE_API_KEYS gives comma-separated full-access keys and replaces the file list', () => {
    const c = loadConfig(file(`security:\n  api_keys: [{key: ${K1}, permissions: [read]}]\n`), { env: { MQLITE_API_KEYS: ` ${K2} , ${K1},` } });
    expect(c.security.api_keys).toEqual([
      { key: K2, name: 'key-1' },
      { key: K1, name: 'key-2' },
    ]);
  });

  it('refuses bad entries, naming the item and never quoting the key', () => {
    const cases: [string, RegExp][] = [
      ['security:\n  api_keys: short-key\n', /'security.api_keys' must be a list of keys/],
      ['security:\n  api_keys: [short-key]\n', /'security.api_keys\[0\].key' is 9 characters long: use at least 16/],
      [`security:\n  api_keys: [${K1}, ${K1}]\n`, /'security.api_keys\[1\].key' repeats an earlier key/],
      [`security:\n  api_keys: [${K1}, 42]\n`, /'security.api_keys\[1\]' must be a key string or a mapping/],
      [`security:\n  api_keys: [{name: x}]\n`, /'security.api_keys\[0\].key' must be a non-empty string/],
      [`security:\n  api_keys: [{key: ${K1}, namespace: [a]}]\n`, /'security.api_keys\[0\].namespace' is not a field of an API key/],
      [`security:\n  api_keys: [{key: ${K1}, permissions: [read, delete]}]\n`, /'security.api_keys\[0\].permissions\[1\]' is "delete", expected one of read, write, admin/],
      [`security:\n  api_keys: [{key: ${K1}, permissions: []}]\n`, /'security.api_keys\[0\].permissions' must be a non-empty list/],
      [`security:\n  api_keys: [{key: ${K1}, namespaces: []}]\n`, /'security.api_keys\[0\].namespaces' must be a non-empty list/],
      [`security:\n  api_keys: [{key: ${K1}, namespaces: ["a b"]}]\n`, /'security.api_keys\[0\].namespaces\[0\]' is "a b": a namespace name is/],
      [`security:\n  api_keys: ["${K1} x"]\n`, /'security.api_keys\[0\].key' must not contain whitespace/],
      [`security:\n  api_keys: [{key: ${K1}, name: a}, {key: ${K2}, name: a}]\n`, /'security.api_keys\[1\].name' repeats the name 'a'/],
      ['security:\n  api_key: []\n', /unknown key 'security.api_key'/],
    ];
    for (const [yaml, expected] of cases) {
      const msg = errorOf(yaml);
      expect(msg).toMatch(expected);
      expect(msg).not.toContain(K1);
      expect(msg).not.toContain('short-key');
    }
  });

  it('refuses a weak key from MQLITE_API_KEYS, naming the variable', () => {
    expect(() => loadConfig(undefined, { env: { MQLITE_API_KEYS: `${K1},tooshort` } })).toThrow(
      /environment variable MQLITE_API_KEYS: 'security.api_keys\[1\].key' is 8 characters long/,
    );
  });
});
