/**
 * The package as a user gets it: `npm pack` of this checkout, installed
 * into a fresh app (dependencies from the npm registry or its cache, so
 * this needs the registry the first time), compiled with strict types,
 * run, and its bins called. The app is test/package/app.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../client/server-process.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
let dir: string;
let app: string;

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mqlite-pack-'));
  // --ignore-scripts: `npm test` has just built dist/, and prepack's build would race the other test files reading it.
  npm(['pack', ROOT, '--pack-destination', dir, '--ignore-scripts'], dir);
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
  app = join(dir, 'app');
  cpSync(join(import.meta.dirname, 'app'), app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  npm(['install', join(dir, tgz), '@types/node@20', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], app);
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the npm package', () => {
  it('holds what a user runs and nothing else', () => {
    const [report] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT)) as [{ files: { path: string }[] }];
    const files = report.files.map((f) => f.path);
    const allowed = /^(dist\/(cmd|src|gen)\/.*\.(js|d\.ts)|proto\/.*\.proto|docs\/.*\.md|examples\/.*\.mjs|config\.yaml|README\.md|LICENSE|package\.json)$/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
    for (const needed of ['dist/src/client/index.js', 'dist/src/client/index.d.ts', 'dist/src/server/embed.d.ts', 'dist/cmd/mqlite.js', 'dist/cmd/mqlite-cli.js', 'dist/src/server/http/ui/script.js', 'dist/src/server/http/ui/page.js', 'dist/src/server/http/ui/style.js', 'LICENSE']) {
      expect(files).toContain(needed);
    }
    expect(files.some((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.endsWith('.map'))).toBe(false);
  });

  it('compiles an app importing mqlite and mqlite/server with strict types, and refuses wrong calls', () => {
    const r = spawnSync(TSC, ['-p', app], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 60_000);

  it('runs it: on each protocol a worker processes 10,000 messages 16 at a time, each acked once, a failing one retried then dead-lettered', () => {
    const r = spawnSync(process.execPath, [join(app, 'out', 'main.js')], { cwd: app, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    const results = JSON.parse(r.stdout) as Record<string, { handled: number; once: number; twice: number; acked: number; pending: number; inFlight: number; dlq: number; msgsPerS: number }>;
    expect(Object.keys(results)).toHaveLength(4);
    for (const [url, x] of Object.entries(results)) {
      console.log(`packed app over ${url}: ${x.msgsPerS} msgs/s through the worker`);
      // policy max_retries 1: each failing message is handled twice, then dead-lettered
      expect({ url, ...x, msgsPerS: 0 }).toEqual({ url, handled: 10_000, once: 9_998, twice: 2, acked: 9_998, pending: 0, inFlight: 0, dlq: 2, msgsPerS: 0 });
    }
  }, 150_000);

  it('installs the two commands', () => {
    const bin = join(app, 'node_modules', '.bin');
    const server = spawnSync(join(bin, 'mqlite'), ['--help'], { encoding: 'utf8' });
    expect(server.status).toBe(0);
    expect(server.stdout).toContain('MQLITE_TCP_PORT');
    const version = spawnSync(join(bin, 'mqlite'), ['--version'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const cli = spawnSync(join(bin, 'mqlite-cli'), ['--version'], { encoding: 'utf8' });
    expect(cli.status).toBe(0);
    expect(cli.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('serves the dashboard from the installed package: /ui, its script and its stylesheet, with nothing fetched from elsewhere', async () => {
    const [http, tcp, grpc] = [await freePort(), await freePort(), await freePort()];
    const server = spawn(join(app, 'node_modules', '.bin', 'mqlite'), [], {
      env: { ...process.env, MQLITE_HTTP_PORT: String(http), MQLITE_TCP_PORT: String(tcp), MQLITE_GRPC_PORT: String(grpc), MQLITE_PERSISTENCE: 'false', MQLITE_LOG_LEVEL: 'info', MQLITE_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolveUp, reject) => {
        let out = '';
        server.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if ((out.match(/listening/gi) ?? []).length >= 3) resolveUp();
        });
        server.on('exit', (code) => reject(new Error(`the installed mqlite exited (${code}): ${out}`)));
      });
      const get = async (path: string) => {
        const r = await fetch(`http://127.0.0.1:${http}${path}`);
        return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
      };
      const page = await get('/ui');
      expect([page.status, page.type]).toEqual([200, 'text/html; charset=utf-8']);
      expect(page.text).toContain('<title>MQLite dashboard</title>');
      const script = await get('/ui/app.js');
      expect([script.status, script.type]).toEqual([200, 'text/javascript; charset=utf-8']);
      expect(script.text).toContain("api('GET', '/v1/server')");
      const css = await get('/ui/app.css');
      expect([css.status, css.type]).toEqual([200, 'text/css; charset=utf-8']);
      for (const t of [page.text, script.text, css.text]) expect(t).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
      expect((await get('/v1/server')).status).toBe(200);
    } finally {
      server.kill('SIGKILL');
    }
  }, 30_000);
});
