/**
 * The REPL on a terminal, in process: stdin and stdout are streams that say
 * they are TTYs, so readline runs its terminal mode (prompt, Tab completion,
 * history, Ctrl-C) exactly as it does for a person at a keyboard.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRepl } from '../../src/cli/repl.js';
import type { GlobalOptions } from '../../src/cli/session.js';
import { startBroker, type Running } from './harness.js';

// eslint-disable-next-line no-control-regex
const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

class Terminal {
  readonly input = Object.assign(new PassThrough(), { isTTY: true });
  readonly output = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
  text = '';
  private waiters: (() => void)[] = [];

  constructor() {
    this.output.setEncoding('utf8');
    this.output.on('data', (d: string) => {
      this.text += d;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  type(keys: string): void {
    this.input.write(keys);
  }

  async until(test: (screen: string) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test(plain(this.text))) {
      if (Date.now() > deadline) throw new Error(`timed out; screen: ${plain(this.text).slice(-800)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

describe('REPL on a terminal', () => {
  let b: Running;
  beforeAll(async () => {
    b = await startBroker();
    await b.broker.createNamespace('tty');
    await b.broker.createTopic('tty', 'events', 1);
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('prompts, completes command names with Tab, keeps history, and Ctrl-C stops a running sub', async () => {
    const term = new Terminal();
    const history = join(mkdtempSync(join(tmpdir(), 'mqlite-cli-hist-')), 'history');
    const globals: GlobalOptions = { proto: 'tcp', host: '127.0.0.1', port: b.ports.tcp, color: true };
    const stderr = { text: '', write: (s: string) => ((stderr.text += s), true), isTTY: true };
    const done = runRepl({
      io: { stdin: term.input, stdout: term.output, stderr, env: { MQLITE_CLI_HISTORY: history } },
      globals,
      version: '9.9.9',
    });
    await term.until((s) => s.includes(`mqlite tcp 127.0.0.1:${b.ports.tcp}> `));

    // "to" + Tab completes to "topic ", then the rest is typed.
    term.type('to\t');
    await term.until((s) => s.includes('> topic '));
    term.type('list tty\r');
    await term.until((s) => /TOPIC\s+QUEUES\s+VERSION\s*\r?\nevents\s+1\s+0/.test(s));

    await b.broker.publish('tty', 'events', Buffer.from('{"n":1}'));
    term.type('sub tty events 0\r');
    await term.until((s) => s.includes('{"n":1}'));
    term.type('\x03');
    await term.until(() => stderr.text.includes('received 1 message'));

    term.type('exit\r');
    expect(await done).toBe(0);
    expect(readFileSync(history, 'utf8')).toBe('topic list tty\nsub tty events 0\n');
    // The message printed by sub was acked after printing.
    expect(b.broker.stats().inflight).toBe(0);
  });
});
