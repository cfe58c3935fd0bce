/**
 * The server process with API keys (docs/PROTOCOL.md, "Authentication"): keys from the config
 * file and from MQLITE_API_KEYS, the startup log says auth is on and how
 * many keys (never a key), every front then requires one, /health stays
 * open; a weak key stops startup naming the item.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serverEntry, startServerProcess } from '../../bench/server-process.js';
import { GrpcClient } from '../../src/client/grpc/index.js';
import { HttpClient } from '../../src/client/http/index.js';
import { TcpClient } from '../../src/client/tcp/index.js';

const FILE_KEY = 'file-key-2b7e151628aed2a6abf7';
const SCOPED_KEY = 'scoped-key-3c4fcf098815f7aba6d2';
const ENV_KEY = 'env-key-ae2d8a571e03ac9c9eb7';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'mqlite-auth-entry-'));
  dirs.push(d);
  return d;
};
/** The environment without any MQLITE_API_KEYS of the caller's. */
const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const { MQLITE_API_KEYS: _ignored, ...rest } = process.env;
  return { ...rest, ...extra };
};

describe('server process with API keys', () => {
  it('keys from the config file: logged as on with the count, required on every front, /health open', async () => {
    const logs: Record<string, unknown>[] = [];
    const lines: string[] = [];
    const server = await startServerProcess({
      persistence: false,
      env: env(),
      extraConfig: { security: { api_keys: [FILE_KEY, { key: SCOPED_KEY, name: 'shop-reader', namespaces: ['shop'], permissions: ['read'] }] } },
      onLog: (r) => {
        logs.push(r);
        lines.push(JSON.stringify(r));
      },
    });
    try {
      expect(logs.find((l) => l.auth === 'api_keys')).toMatchObject({ keys: 2, scoped: 1, level: 30 });
      const health = await fetch(`http://127.0.0.1:${server.ports.http}/health`);
      expect(health.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${server.ports.http}/v1/namespaces`)).status).toBe(401);

      const tcp = await TcpClient.connect({ host: '127.0.0.1', port: server.ports.tcp, encoding: 'protobuf', apiKey: FILE_KEY });
      await tcp.createNamespace('shop');
      await tcp.close();
      const http = new HttpClient({ baseUrl: `http://127.0.0.1:${server.ports.http}`, apiKey: SCOPED_KEY });
      expect(await http.listNamespaces()).toEqual(['shop']);
      await expect(http.createTopic('shop', 'orders', 1)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      await http.close();
      const grpc = new GrpcClient({ host: '127.0.0.1', port: server.ports.grpc, timeoutMs: 5000 });
      await expect(grpc.listNamespaces()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      await grpc.close();
      // the refusals were logged at warn, without the key (the child's log lines may trail its replies)
      const warned = (): number => logs.filter((l) => l.level === 40 && l.reason !== undefined).length;
      for (let i = 0; i < 200 && warned() < 3; i++) await new Promise((r) => setTimeout(r, 10));
      expect(warned()).toBeGreaterThanOrEqual(3);
    } finally {
      await server.stop();
    }
    const all = lines.join('\n');
    expect(all).not.toContain(FILE_KEY);
    expect(all).not.toContain(SCOPED_KEY);
  });

  it('keys from MQLITE_API_KEYS replace the file list', async () => {
    const logs: Record<string, unknown>[] = [];
    const server = await startServerProcess({
      persistence: false,
      env: env({ MQLITE_API_KEYS: `${ENV_KEY}` }),
      extraConfig: { security: { api_keys: [FILE_KEY] } },
      onLog: (r) => logs.push(r),
    });
    try {
      expect(logs.find((l) => l.auth === 'api_keys')).toMatchObject({ keys: 1 });
      const ok = new GrpcClient({ host: '127.0.0.1', port: server.ports.grpc, apiKey: ENV_KEY, timeoutMs: 5000 });
      expect(await ok.listNamespaces()).toEqual([]);
      await ok.close();
      await expect(TcpClient.connect({ host: '127.0.0.1', port: server.ports.tcp, encoding: 'json', apiKey: FILE_KEY })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    } finally {
      await server.stop();
    }
  });

  it('without keys the log says authentication is off', async () => {
    const logs: Record<string, unknown>[] = [];
    const server = await startServerProcess({ persistence: false, env: env(), onLog: (r) => logs.push(r) });
    try {
      expect(logs.find((l) => l.auth === 'off')).toBeDefined();
      expect(logs.find((l) => l.auth === 'api_keys')).toBeUndefined();
    } finally {
      await server.stop();
    }
  });

  it('a weak key stops startup with exit 2, naming the item and not the key', () => {
    const cfg = join(tempDir(), 'weak.yaml');
    writeFileSync(cfg, 'security:\n  api_keys: [hunter2]\n');
    const r = spawnSync(process.execPath, [serverEntry, '--config', cfg], { encoding: 'utf8', env: env() });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("'security.api_keys[0].key' is 7 characters long: use at least 16");
    expect(r.stderr + r.stdout).not.toContain('hunter2');
  });

  it('--help lists MQLITE_API_KEYS', () => {
    const r = spawnSync(process.execPath, [serverEntry, '--help'], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/MQLITE_API_KEYS\s+security\.api_keys/);
  });
});
