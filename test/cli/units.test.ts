/** The CLI's pure parts: REPL word splitting, completion, JSON text with bigints and raw payloads, percentiles. */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { formatDuration, leaseQueueArg, parseDurationOption, splitWords, timeArg } from '../../src/cli/args.js';
import { percentiles } from '../../src/cli/commands/bench.js';
import { minifyJson, RawJson, toJsonText } from '../../src/cli/json.js';
import { messageToJson } from '../../src/cli/messages.js';
import { buildProgram } from '../../src/cli/program.js';
import { completer } from '../../src/cli/repl.js';
import { Session } from '../../src/cli/session.js';

describe('splitWords (REPL lines)', () => {
  it('splits like a shell for plain words and quotes', () => {
    expect(splitWords(`pub shop orders '{"a": 1}' -H "k=v w" x\\ y`)).toEqual(['pub', 'shop', 'orders', '{"a": 1}', '-H', 'k=v w', 'x y']);
    expect(splitWords(`a "say \\"hi\\"" ''`)).toEqual(['a', 'say "hi"', '']);
    expect(() => splitWords(`pub 'open`)).toThrow(/unterminated/);
  });
});

describe('durations, times and queues of the queue-feature options', () => {
  it('formats a duration so that it parses back to the same ms', async () => {
    for (const [ms, text] of [
      [0, '0s'],
      [250, '250ms'],
      [1500, '1s500ms'],
      [60_000, '1m'],
      [5_400_000, '1h30m'],
      [90_061_001, '25h1m1s1ms'],
    ] as const) {
      expect(formatDuration(ms)).toBe(text);
      if (ms > 0) expect(await parseDurationOption('--x', text)).toBe(ms);
    }
    await expect(parseDurationOption('--delay <duration>', '0')).rejects.toThrow(/--delay/);
    expect(await parseDurationOption('--delay <duration>', '0s', { allowZero: true })).toBe(0);
  });

  it('reads --deliver-at as ISO 8601 only, and dlq (or -1) as the queue of dead letters', () => {
    expect(timeArg('2030-01-02T03:04:05.678Z')).toBe(Date.UTC(2030, 0, 2, 3, 4, 5, 678));
    expect(() => timeArg('1700000000000')).toThrow(/ISO 8601/);
    expect(() => timeArg('2030-13-45T00:00:00Z')).toThrow(/ISO 8601/);
    expect([leaseQueueArg('dlq'), leaseQueueArg('-1'), leaseQueueArg('3')]).toEqual([-1, -1, 3]);
    expect(() => leaseQueueArg('-2')).toThrow(/dlq/);
  });
});

describe('completion of command names', () => {
  const io = { stdin: process.stdin, stdout: { write: () => true }, stderr: { write: () => true }, env: {} };
  const tree: Command = buildProgram(new Session(io, true), { version: '0.0.0' });
  const complete = completer(tree);

  it('completes top-level and subcommand names, and options after a dash', () => {
    expect(complete('to')).toEqual([['topic '], 'to']);
    expect(complete('')[0]).toEqual(expect.arrayContaining(['ns', 'topic', 'pub', 'consume', 'sub', 'ack', 'health', 'aof', 'bench', 'exit']));
    expect(complete('topic re')).toEqual([['rebalance', 'resize', 'resume'], 're']);
    expect(complete('dlq ')[0]).toEqual(['consume', 'help', 'list', 'peek', 'redrive']);
    expect(complete('pub shop orders x --de')).toEqual([['--dedup-id', '--delay', '--deliver-at'], '--de']);
    expect(complete('aof ')[0]).toEqual(['check', 'fix', 'help', 'rewrite']);
    // The Go CLI's names work but are not offered.
    expect(complete('create')[0]).toEqual([]);
    expect(complete('pub shop orders x --li')).toEqual([['--lines '], '--li']);
  });
});

describe('JSON text', () => {
  it('writes bigints as decimal strings and raw payload JSON unchanged, on one line', () => {
    const text = toJsonText({ t: 1795336082300076000n, p: new RawJson('{\n  "big": 12345678901234567890,\n  "s": "a b"\n}') });
    expect(text).toBe('{"t":"1795336082300076000","p":{"big":12345678901234567890,"s":"a b"}}');
    expect(minifyJson('[ "a \\" b" , 1 ]')).toBe('["a \\" b",1]');
  });

  it('shows a message as the JSON surfaces do: JSON payloads as values, other bytes as base64', () => {
    const base = { id: 'i', namespace: 'n', topic: 't', queueId: 0, timestamp: 5n, headers: {}, deliveryCount: 1 };
    expect(toJsonText(messageToJson({ ...base, payload: Buffer.from('{"a":1}') }))).toContain('"payload":{"a":1},"timestamp":"5"');
    expect(toJsonText(messageToJson({ ...base, payload: Buffer.from([0xff]) }))).toContain('"payload":"/w==","payload_encoding":"base64"');
  });
});

describe('percentiles', () => {
  it('takes the nearest rank', () => {
    const samples = Float64Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(samples, 100)).toEqual({ p50: 50, p90: 90, p99: 99, max: 100 });
    expect(percentiles(new Float64Array(4), 0)).toBeNull();
  });
});
