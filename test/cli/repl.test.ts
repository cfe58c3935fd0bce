/** The REPL driven through stdin (not a terminal: one command per line, results printed). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startBroker, type Running } from './harness.js';

describe('REPL over stdin', () => {
  let b: Running;
  beforeAll(async () => {
    b = await startBroker();
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('runs each line as a command over one connection, keeps going after an error, and exits with the last failure', async () => {
    const script = [
      'ns create repl',
      '# a comment',
      '',
      'topic create repl t --queues 2',
      "pub repl t '{\"hello\": \"world\"}' --queue 1 -H who=repl",
      'topic create repl t',
      'consume repl t 1 --auto-ack',
      'bogus',
      'topic list repl',
    ].join('\n');
    const r = await runCli([...b.args('tcp')], { input: script + '\n' });
    const out = r.stdout.split('\n');
    expect(out[0]).toBe('namespace repl created');
    expect(out[1]).toBe('topic repl/t created with 2 queues');
    expect(out[2]).toMatch(/^published [0-9a-f-]{36} to repl\/t queue 1$/);
    expect(out[3]).toMatch(/\t1\t1\t\S+\twho=repl\t\{"hello": "world"\}$/);
    expect(out[4]).toBe('t\t2\t0');
    expect(r.stderr).toMatch(/ALREADY_EXISTS: .*already exists/);
    expect(r.stderr).toContain("unknown command 'bogus'");
    // The last failure was a usage error.
    expect(r.code).toBe(2);
  });

  it('global options given at launch apply to every line; exit stops reading; no failure exits 0', async () => {
    const r = await runCli(['repl', ...b.args('http'), '--json'], { input: 'ns list\nhealth\nexit\nns create never\n' });
    expect(r.code, r.stderr).toBe(0);
    const [list, health] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(list).toContain('repl');
    expect(health).toMatchObject({ status: 'ok', proto: 'http' });
    expect(b.broker.listNamespaces()).not.toContain('never');
  });

  it("takes the Go MQLite CLI's command names and comma-separated ids", async () => {
    const r1 = await runCli([...b.args('tcp-json')], { input: 'create-ns legacy\ncreate-topic legacy t 2\nlist-topics legacy\nlist-ns\n' });
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toBe('namespace legacy created\ntopic legacy/t created with 2 queues\nt\t2\t0\nlegacy\nrepl\n');
    for (let i = 0; i < 2; i++) await b.broker.publish('legacy', 't', Buffer.from('{}'), { queueId: 0 });
    const ids = (await b.broker.consume('legacy', 't', 0, 2, false)).map((m) => m.id);
    const inflight = b.broker.stats().inflight;
    const r2 = await runCli([...b.args('tcp-json')], { input: `ack legacy t 0 ${ids.join(',')}\n` });
    expect(r2.stdout).toBe('acked 2 messages in legacy/t\n');
    expect(b.broker.stats().inflight).toBe(inflight - 2);
  });

  it('help lists the commands; a command that needs stdin data refuses inside the REPL', async () => {
    const r = await runCli([...b.args('grpc')], { input: 'help\npub repl t\n' });
    expect(r.stdout).toMatch(/Commands:[\s\S]*consume[\s\S]*bench/);
    expect(r.stderr).toMatch(/payload cannot come from stdin inside the REPL/);
    expect(r.code).toBe(2);
  });
});
