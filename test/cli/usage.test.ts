/** Help texts, usage errors (exit 2) and transport failures (exit 1), without a broker. */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli } from './harness.js';

/** A port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const COMMANDS = [
  'ns create',
  'ns delete',
  'ns list',
  'topic create',
  'topic delete',
  'topic list',
  'topic resize',
  'topic rebalance',
  'topic policy',
  'pub',
  'pub-batch',
  'consume',
  'sub',
  'ack',
  'nack',
  'renew',
  'peek',
  'stats',
  'dlq list',
  'dlq peek',
  'dlq consume',
  'dlq redrive',
  'health',
  'aof check',
  'aof fix',
  'aof rewrite',
  'bench',
];

describe('help', () => {
  it('--help lists every command, the global options and examples, exit 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['ns', 'topic', 'pub', 'pub-batch', 'consume', 'sub', 'ack', 'nack', 'renew', 'peek', 'stats', 'dlq', 'health', 'aof', 'bench', 'repl']) expect(r.stdout).toMatch(new RegExp(`\\n  ${c}\\b`));
    for (const o of ['--proto', '--host', '--port', '--json', '--timeout', '--http-port']) expect(r.stdout).toContain(o);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('Exit status');
  });

  it("every command's help names its arguments and options (read through one REPL session)", async () => {
    const r = await runCli([], { input: COMMANDS.map((c) => `${c} --help`).join('\n') + '\n' });
    expect(r.code, r.stderr).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(`Usage: mqlite-cli ${c}`);
    for (const o of [
      '--header',
      '--key',
      '--queue',
      '--count',
      '--lines',
      '--batch',
      '--auto-ack',
      '--yes',
      '--msgs',
      '--size',
      '--pub',
      '--sub',
      '--dedup-id',
      '--delay',
      '--deliver-at',
      '--atomic',
      '--extend',
      '--limit',
      '--cursor',
      '--desc',
      '--preview',
      '--max',
      '--max-retries',
      '--retry-base',
      '--retry-cap',
      '--dedup-window',
    ]) {
      expect(r.stdout).toContain(o);
    }
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('exit status 2 for a wrong command line', () => {
  it.each([
    [['--proto', 'smtp', 'ns', 'list'], /argument 'smtp' is invalid/],
    [['topic', 'create', 'shop'], /missing required argument 'name'/],
    [['topic', 'create', 'shop', 'orders', '--queues', 'zero'], /expected an integer >= 1/],
    [['consume', 'shop', 'orders', '-1'], /unknown option|expected an integer/],
    [['pub', 'shop', 'orders', 'x', '-H', 'novalue'], /expected key=value/],
    [['--timeout', 'soon', 'ns', 'list'], /duration/],
    // A bare number is no duration, in the CLI as in the config: it said ms here and seconds there.
    [['--timeout', '1', 'ns', 'list'], /'1' is invalid: expected a duration with a unit: write "1s" for seconds or "1ms" for milliseconds/],
    [['pub', 'shop', 'orders', 'x', '--delay', '500'], /--delay <duration>.*write "500s" for seconds or "500ms"/],
    [['pub', 'shop', 'orders', 'x', '--delay', 'later'], /--delay <duration>.*duration/],
    [['pub', 'shop', 'orders', 'x', '--deliver-at', '5pm'], /ISO 8601/],
    [['nack', 'shop', 'orders', 'q1', 'id'], /dlq/],
    [['renew', 'shop', 'orders', '0', 'id'], /required option '--extend <duration>'/],
    [['peek', 'shop', 'orders', '0', '--limit', '0'], /expected an integer >= 1/],
    [['pub-batch', 'shop', 'orders', 'not-a-source'], /@file or stdin/],
    [['dlq', 'purge', 'shop', 'orders'], /unknown command 'purge'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['ns', 'lst'], /unknown command 'lst'/],
  ])('%j', async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

describe('exit status 1 when the broker cannot be reached', () => {
  it.each([['tcp'], ['http'], ['grpc']])('%s', async (proto) => {
    const port = await closedPort();
    const r = await runCli(['--proto', proto, '--port', String(port), '--timeout', '3s', '--json', 'ns', 'list']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr).error.code).toBe('TRANSPORT');
  });
});

describe('colour', () => {
  it('only when asked (FORCE_COLOR stands in for a terminal here), never with NO_COLOR or --no-color', async () => {
    const port = await closedPort();
    const args = ['--port', String(port), 'ns', 'list'];
    const coloured = await runCli(args, { env: { FORCE_COLOR: '1' } });
    expect(coloured.stderr).toMatch(/\x1b\[31merror:/);
    const plain = await runCli([...args, '--no-color'], { env: { FORCE_COLOR: '1' } });
    expect(plain.stderr).toMatch(/^error: TRANSPORT: /);
    const piped = await runCli(args);
    expect(piped.stderr).not.toContain('\x1b[');
  });
});
