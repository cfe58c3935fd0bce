/**
 * The command tree of `mqlite-cli`, shared by one-shot use and the REPL
 * (which parses each of its lines with a fresh tree over one session).
 */
import { Command, Option } from 'commander';
import { booleanArg, headerArg, int32Arg, intArg, leaseQueueArg, parseDurationOption, queueIdArg, timeArg } from './args.js';
import type { AofOptions } from './commands/aof.js';
import type { BenchOptions } from './commands/bench.js';
import type { RedriveOptions } from './commands/dlq.js';
import type { PeekCliOptions } from './commands/inspect.js';
import type { ConsumeOptions, NackCliOptions, PubBatchOptions, PubOptions, RenewOptions, SubOptions } from './commands/messaging.js';
import type { PolicyOptions } from './commands/policy.js';
import { type Endpoint, parseUrl } from '../client/url.js';
import { ctxOf, type Ctx } from './context.js';
import { UsageError } from './errors.js';
import { PROTOS, type Session } from './session.js';

export interface ProgramHooks {
  /** `repl`, or no command at all (one-shot use only). */
  startRepl?(cmd: Command): Promise<void>;
  version: string;
}

const EXAMPLES = `
Examples:
  mqlite-cli ns create shop
  mqlite-cli topic create shop orders --queues 4
  mqlite-cli pub shop orders '{"sku":"A1","qty":2}' -H source=cli --key customer-42
  mqlite-cli pub shop orders @order.json
  seq 1 100 | mqlite-cli pub shop orders --lines
  mqlite-cli consume shop orders 0 --batch 10
  mqlite-cli --proto http sub shop orders 0 --auto-ack
  mqlite-cli --json consume shop orders 0 --batch 5 | jq -r '.[].id' | mqlite-cli ack shop orders 0 -
  mqlite-cli pub shop orders '{"sku":"A1"}' --dedup-id order-1001 --delay 30s
  mqlite-cli pub-batch shop orders @orders.ndjson --atomic
  mqlite-cli nack shop orders 0 <id> --delay 2s
  mqlite-cli peek shop orders 0 --limit 10 --preview 64
  mqlite-cli dlq list shop orders && mqlite-cli dlq redrive shop orders
  mqlite-cli topic policy shop orders --max-retries 5 --retry-base 1s --retry-cap 1m
  mqlite-cli stats shop orders
  mqlite-cli bench --proto grpc --msgs 100000 --size 1024 --pub 4 --sub 4
  mqlite-cli aof check ./data
  mqlite-cli                       (opens the interactive prompt)

Protocols and default ports: tcp (protobuf frames) 7070, tcp-json 7070, http 8080, grpc 9090.
Output: tables and colour on a terminal (NO_COLOR or --no-color turns colour off),
tab-separated rows without a header when piped, one JSON document with --json
(int64 values such as timestamps and versions as decimal strings; a payload that
is JSON as that value, anything else base64 with "payload_encoding": "base64").
Exit status: 0 done, 1 the server (or the transport) reported an error, whose
reason is printed on stderr, 2 the command line is wrong.`;

// Each command's module is loaded when the command runs: a one-shot command
// pays only for its own code at startup.
const admin = (): Promise<typeof import('./commands/admin.js')> => import('./commands/admin.js');
const messaging = (): Promise<typeof import('./commands/messaging.js')> => import('./commands/messaging.js');
const aofCommands = (): Promise<typeof import('./commands/aof.js')> => import('./commands/aof.js');
const inspect = (): Promise<typeof import('./commands/inspect.js')> => import('./commands/inspect.js');
const dlqCommands = (): Promise<typeof import('./commands/dlq.js')> => import('./commands/dlq.js');
const policy = (): Promise<typeof import('./commands/policy.js')> => import('./commands/policy.js');

/**
 * Wraps a handler: commander calls actions with (arguments..., options,
 * command); the handler gets the context built from the command's options
 * (globals included), then the arguments and the options.
 */
function run<A extends unknown[]>(session: Session, handler: (ctx: Ctx, ...args: A) => Promise<void>) {
  return async (...args: unknown[]): Promise<void> => {
    const cmd = args[args.length - 1] as Command;
    await handler(ctxOf(session, cmd), ...(args.slice(0, -1) as A));
  };
}

/**
 * `--url`, else $MQLITE_URL, sets --proto, --host, --port and --tls (one
 * way to name a broker, as the client's connect() takes it). Given with
 * one of those on the command line, it is a usage error; $MQLITE_URL
 * gives way to them. Several URLs, comma-separated, name the nodes of a
 * cluster (docs/CLIENT.md, "Clusters"), one protocol for all: commands go
 * to the node that owns the broker.
 */
function applyUrl(program: Command, envUrl: string | undefined): void {
  const flag: unknown = program.getOptionValue('url');
  const fromFlag = typeof flag === 'string';
  const text = fromFlag ? flag : envUrl;
  if (text === undefined || text === '') return;
  const explicit = ['proto', 'host', 'port'].filter((k) => program.getOptionValueSource(k) === 'cli');
  const where = fromFlag ? '--url' : 'MQLITE_URL';
  if (explicit.length > 0) {
    if (fromFlag) throw new UsageError(`--url names the broker: leave out --${explicit.join(', --')}`);
    return;
  }
  let eps: Endpoint[];
  try {
    eps = text.split(',').map((u) => parseUrl(u.trim()));
  } catch (err) {
    throw new UsageError(`${where}: ${(err as Error).message}`);
  }
  const ep = eps[0]!;
  const odd = eps.find((e) => e.protocol !== ep.protocol || e.tls !== ep.tls || e.encoding !== ep.encoding);
  if (odd !== undefined) throw new UsageError(`${where}: the nodes of a cluster take one protocol: ${odd.url} differs from ${ep.url}`);
  program.setOptionValue('proto', ep.protocol === 'tcp' && ep.encoding === 'json' ? 'tcp-json' : ep.protocol);
  program.setOptionValue('host', ep.host);
  program.setOptionValue('port', ep.port);
  if (ep.tls) program.setOptionValue('tls', true);
  if (eps.length > 1) program.setOptionValue('nodes', eps.map((e) => ({ host: e.host, port: e.port })));
}

export function buildProgram(session: Session, hooks: ProgramHooks): Command {
  const { io } = session;
  const program = new Command('mqlite-cli')
    .description('Command-line client of the MQLite broker: every command over tcp, tcp-json, http or grpc, an interactive prompt, and a benchmark')
    .version(hooks.version, '-V, --version')
    .option('--url <url>', 'the broker as a URL: tcp://host:7070 (?encoding=json), tls://, http://, https://, grpc://, grpcs://; the nodes of a cluster comma-separated (default: $MQLITE_URL; instead of --proto, --host, --port, --tls)')
    .addOption(new Option('--proto <proto>', 'protocol').choices(PROTOS).default('tcp'))
    .option('--host <host>', 'broker host', '127.0.0.1')
    .addOption(new Option('--port <port>', 'broker port (default: 7070 tcp/tcp-json, 8080 http, 9090 grpc)').argParser(intArg(1, 65535)))
    .addOption(new Option('--http-port <port>', "HTTP front port for 'aof rewrite' (default: --port with --proto http, else 8080)").argParser(intArg(1, 65535)))
    .option('--json', 'machine-readable output: one JSON document')
    .option('--timeout <duration>', 'time limit of each request: 5s, 500ms... (default: 10s; aof rewrite 10m)')
    .option('--no-color', 'no colour even on a terminal (NO_COLOR works too)')
    .option('--api-key <key>', 'API key for a broker with security.api_keys (default: $MQLITE_API_KEY, which other local users cannot see in ps)')
    .option('--tls', 'connect with TLS (implied by --tls-ca, --tls-cert and --tls-key)')
    .option('--tls-ca <file>', "PEM CA certificate(s) to trust for the broker's certificate (default: the system's)")
    .option('--tls-cert <file>', 'PEM client certificate, for a broker with mutual TLS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    })
    .addHelpText('after', EXAMPLES)
    .hook('preAction', async () => {
      const raw: unknown = program.getOptionValue('timeout');
      if (typeof raw === 'string') program.setOptionValue('timeout', await parseDurationOption('--timeout <duration>', raw));
      applyUrl(program, io.env.MQLITE_URL);
      const envKey = io.env.MQLITE_API_KEY;
      if (program.getOptionValue('apiKey') === undefined && envKey) program.setOptionValue('apiKey', envKey);
    });

  // ---------------------------------------------------------------- ns
  const ns = program.command('ns').description('namespaces: create, delete, list');
  ns.command('create')
    .description('create a namespace (1-128 chars of A-Z a-z 0-9 . _ -)')
    .argument('<name>', 'namespace name')
    .action(run(session, async (ctx, name: string) => (await admin()).nsCreate(ctx, name)));
  ns.command('delete')
    .description('delete a namespace with its topics and messages')
    .argument('<name>', 'namespace name')
    .action(run(session, async (ctx, name: string) => (await admin()).nsDelete(ctx, name)));
  ns.command('list')
    .alias('ls')
    .description('list the namespaces')
    .action(run(session, async (ctx) => (await admin()).nsList(ctx)));

  // ---------------------------------------------------------------- topic
  const topic = program.command('topic').description('topics: create, delete, list, resize, rebalance, pause, resume');
  topic
    .command('create')
    .description('create a topic with its queues')
    .argument('<namespace>', 'namespace name')
    .argument('<name>', 'topic name')
    .addOption(new Option('-q, --queues <n>', 'number of queues').argParser(intArg(1)).default(1))
    .action(run(session, async (ctx, nsName: string, name: string, o: { queues: number }) => (await admin()).topicCreate(ctx, nsName, name, o.queues)));
  topic
    .command('delete')
    .description('delete a topic with its messages')
    .argument('<namespace>', 'namespace name')
    .argument('<name>', 'topic name')
    .action(run(session, async (ctx, nsName: string, name: string) => (await admin()).topicDelete(ctx, nsName, name)));
  topic
    .command('list')
    .alias('ls')
    .description('list the topics of a namespace with their queue counts and versions')
    .argument('<namespace>', 'namespace name')
    .action(run(session, async (ctx, nsName: string) => (await admin()).topicList(ctx, nsName)));
  topic
    .command('resize')
    .description('change the number of queues (shrinking drains the removed queues first)')
    .argument('<namespace>', 'namespace name')
    .argument('<name>', 'topic name')
    .argument('<queues>', 'new number of queues', intArg(1))
    .action(run(session, async (ctx, nsName: string, name: string, count: number) => (await admin()).topicResize(ctx, nsName, name, count)));
  topic
    .command('rebalance')
    .description('spread the pending messages evenly over the active queues')
    .argument('<namespace>', 'namespace name')
    .argument('<name>', 'topic name')
    .action(run(session, async (ctx, nsName: string, name: string) => (await admin()).topicRebalance(ctx, nsName, name)));
  topic
    .command('pause')
    .description('hold deliveries (consume answers nothing, subscribers get nothing); publishes are still accepted')
    .argument('<namespace>', 'namespace name')
    .argument('<name>', 'topic name')
    .action(run(session, async (ctx, nsName: string, name: string) => (await admin()).topicPause(ctx, nsName, name)));
  topic
    .command('resume')
    .description('deliver again, in order, after a pause')
    .argument('<namespace>', 'namespace name')
    .argument('<name>', 'topic name')
    .action(run(session, async (ctx, nsName: string, name: string) => (await admin()).topicResume(ctx, nsName, name)));
  topic
    .command('policy')
    .description("show a topic's retry, dedup, ack timeout and expiry policy, or change the values given")
    .argument('<namespace>', 'namespace name')
    .argument('<name>', 'topic name')
    .addOption(new Option('--max-retries <n>', 'deliveries retried before a nacked or expired message goes to the dead-letter queue (-1: retry forever)').argParser(int32Arg))
    .option('--retry-base <duration>', 'first retry delay of the exponential backoff: 1s, 500ms...')
    .option('--retry-cap <duration>', 'longest retry delay of the backoff')
    .option('--dedup-window <duration>', 'how long a dedup id is remembered: 1h, 10m... (0 or off: deduplication off)')
    .option('--ack-timeout <duration>', "ack deadline of later deliveries from this topic: 2m, 30s... (0 or default: the broker's ack_timeout)")
    .option('--message-ttl <duration>', 'messages published from now on expire this long after publish: 1h, 10m... (0 or off: never)')
    .addOption(new Option('--dead-letter-expired <bool>', 'expired messages go to the dead-letter queue (reason expired) instead of being dropped: true or false').argParser(booleanArg))
    .addHelpText(
      'after',
      `
A nack without --delay retries after base * 2^(delivery-1), capped, with
jitter; past max_retries the message goes to the topic's dead-letter queue.
Values not given keep their current value. A new ack timeout applies to
deliveries made after the change, a new message TTL to messages published
after it. An expired message is never delivered. --json prints the policy
with durations in ms.

Examples:
  mqlite-cli topic policy shop orders
  mqlite-cli topic policy shop orders --max-retries 5 --retry-base 1s --retry-cap 1m --dedup-window 1h
  mqlite-cli topic policy shop orders --ack-timeout 2m --message-ttl 1h --dead-letter-expired true`,
    )
    .action(run(session, async (ctx, nsName: string, name: string, o: PolicyOptions) => (await policy()).topicPolicy(ctx, nsName, name, o)));

  // The names of the Go MQLite CLI's REPL, kept working for its users (not in the help).
  program
    .command('create-ns', { hidden: true })
    .argument('<name>')
    .action(run(session, async (ctx, name: string) => (await admin()).nsCreate(ctx, name)));
  program.command('list-ns', { hidden: true }).action(run(session, async (ctx) => (await admin()).nsList(ctx)));
  program
    .command('create-topic', { hidden: true })
    .argument('<namespace>')
    .argument('<name>')
    .argument('[queues]', 'number of queues', intArg(1), 1)
    .action(run(session, async (ctx, nsName: string, name: string, queues: number) => (await admin()).topicCreate(ctx, nsName, name, queues)));
  program
    .command('list-topics', { hidden: true })
    .argument('<namespace>')
    .action(run(session, async (ctx, nsName: string) => (await admin()).topicList(ctx, nsName)));

  // ---------------------------------------------------------------- messages
  /** The options of a publish shared by pub and pub-batch; `scope` ends each description (pub-batch: every message). */
  const publishOptions = (cmd: Command, scope: string): Command =>
    cmd
      .option('-H, --header <key=value>', `a header (repeatable)${scope}`, headerArg)
      .option('-k, --key <routing-key>', `routing key: the same key always lands on the same queue${scope}`)
      .addOption(new Option('--queue <id>', `publish to this queue (default: routing key, else round-robin)${scope}`).argParser(intArg(0, 2 ** 31 - 1)))
      .addOption(new Option('--delay <duration>', `invisible for this long after publish: 5s, 1m30s...${scope}`).conflicts('deliverAt'))
      .addOption(new Option('--deliver-at <time>', `invisible until this ISO 8601 time, e.g. 2026-05-01T12:00:00Z${scope}`).argParser(timeArg))
      .option('--ttl <duration>', `never delivered after this long from publish: 30s, 1h... (the topic's message TTL wins when shorter)${scope}`);
  publishOptions(
    program
      .command('pub')
      .alias('publish')
      .description('publish a message: the payload argument, @file, or stdin (when absent or -)')
      .argument('<namespace>', 'namespace name')
      .argument('<topic>', 'topic name')
      .argument('[payload]', 'the payload text, @path to read a file, or - for stdin'),
    '',
  )
    .addOption(new Option('-n, --count <n>', 'publish each payload n times').argParser(intArg(1)).default(1))
    .option('-l, --lines', 'one message per line of the input (empty lines skipped)')
    .option('--dedup-id <id>', "deduplication id: a repeat within the topic's dedup window is not enqueued again")
    .addHelpText(
      'after',
      `
A payload that is a JSON document travels as that JSON value on the JSON
protocols (http, tcp-json); anything else as a string there, and as raw bytes
on tcp and grpc. --json prints {message_id, queue_id}, or an array of them
with --count or --lines (with duplicate: true|false once --dedup-id, --delay
or --deliver-at is given). A repeated --dedup-id is answered with the
original message's id ("duplicate of <id>") and not enqueued again.

Examples:
  mqlite-cli pub shop orders '{"sku":"A1"}' -H trace=abc --key customer-42
  mqlite-cli pub shop orders @image.png --queue 2     (bytes: tcp or grpc)
  mqlite-cli pub shop orders '{"sku":"A1"}' --dedup-id order-1001
  mqlite-cli pub shop reminders 'call back' --delay 15m
  mqlite-cli pub shop offers '{"sku":"A1"}' --ttl 10m
  tail -f app.log | mqlite-cli pub logs app --lines`,
    )
    .action(
      run(session, async (ctx, nsName: string, topicName: string, payload: string | undefined, o: PubOptions) => (await messaging()).pub(ctx, nsName, topicName, payload, o)),
    );
  publishOptions(
    program
      .command('pub-batch')
      .description('publish one message per line of @file or stdin in one call (partial by default, or --atomic)')
      .argument('<namespace>', 'namespace name')
      .argument('<topic>', 'topic name')
      .argument('[source]', '@path to read the lines from a file, or - (or nothing) for stdin'),
    '; for every message',
  )
    .option('--atomic', 'all or nothing: one invalid message fails the whole batch, and nothing is published')
    .addHelpText(
      'after',
      `
Empty lines are skipped. Without --atomic each message is published or
fails on its own: the failures are listed by index (and line) and the exit
status is 1 if any failed. A batch holds up to the broker's limits.max_batch
messages (1000 by default): split larger inputs (split -l 1000). --json
prints one object per message: {index, line, ok, message_id, queue_id,
duplicate} or {index, line, ok: false, code, error}.

Examples:
  mqlite-cli pub-batch shop orders @orders.ndjson
  seq 1 500 | mqlite-cli pub-batch shop numbers --atomic`,
    )
    .action(
      run(session, async (ctx, nsName: string, topicName: string, source: string | undefined, o: PubBatchOptions) => (await messaging()).pubBatch(ctx, nsName, topicName, source, o)),
    );
  program
    .command('consume')
    .description('take up to --batch messages from a queue and print them')
    .argument('<namespace>', 'namespace name')
    .argument('<topic>', 'topic name')
    .argument('<queue>', 'queue id', queueIdArg)
    .addOption(new Option('-b, --batch <n>', 'most messages to take').argParser(intArg(1)).default(1))
    .option('--auto-ack', 'ack on delivery (otherwise the messages stay in flight until acked)')
    .option('--ack', 'ack the messages after printing them')
    .addHelpText(
      'after',
      `
Without --auto-ack or --ack the messages are in flight: ack them within the
broker's ack_timeout (the command to do so is printed on stderr), or they are
delivered again. --json prints an array of messages.`,
    )
    .action(run(session, async (ctx, nsName: string, topicName: string, queue: number, o: ConsumeOptions) => (await messaging()).consume(ctx, nsName, topicName, queue, o)));
  program
    .command('sub')
    .alias('subscribe')
    .description('stream the messages of a queue until Ctrl-C or --count (SSE over http)')
    .argument('<namespace>', 'namespace name')
    .argument('<topic>', 'topic name')
    .argument('<queue>', 'queue id', queueIdArg)
    .addOption(new Option('-n, --count <n>', 'stop after n messages').argParser(intArg(1)))
    .option('--auto-ack', 'let the broker ack on delivery (otherwise each message is acked after printing)')
    .option('--ndjson', 'JSON output with one object a line (JSON Lines) rather than one array')
    .addHelpText(
      'after',
      `
Each message is printed as it arrives. --json prints one JSON array, an
element a line, closed when the stream ends (Ctrl-C, --count or an error),
so the output is one valid JSON document; --ndjson prints one object a line
instead, for tools that read a stream. A resize of the topic shows as
a notice (in JSON, a message whose id starts with _resize_). With --count the messages
are acked after printing, and the subscription asks the broker for an
in-flight bound of the count (up to 1000, on every protocol), so no more
than the count leave the queue; a broker that ignores the bound (older
than it) may push a few more, which stay in flight and are delivered
again after its ack_timeout.`,
    )
    .action(run(session, async (ctx, nsName: string, topicName: string, queue: number, o: SubOptions) => (await messaging()).sub(ctx, nsName, topicName, queue, o)));
  program
    .command('ack')
    .description('acknowledge in-flight messages by id (- reads the ids from stdin)')
    .argument('<namespace>', 'namespace name')
    .argument('<topic>', 'topic name')
    .argument('<queue>', 'queue id the messages were consumed from (dlq: from the dead-letter queue)', leaseQueueArg)
    .argument('<id...>', 'message ids (spaces or commas between them), or - to read them from stdin')
    .action(run(session, async (ctx, nsName: string, topicName: string, queue: number, ids: string[]) => (await messaging()).ack(ctx, nsName, topicName, queue, ids)));
  program
    .command('nack')
    .description("give in-flight messages back: redelivered after --delay or the topic's backoff, dead-lettered past max_retries")
    .argument('<namespace>', 'namespace name')
    .argument('<topic>', 'topic name')
    .argument('<queue>', 'queue id the messages were consumed from (dlq: from the dead-letter queue)', leaseQueueArg)
    .argument('<id...>', 'message ids (spaces or commas between them), or - to read them from stdin')
    .option('--delay <duration>', "redeliver after this long (0: at once, at the head); default: the topic's backoff")
    .addHelpText(
      'after',
      `
Without --delay the retry waits base * 2^(delivery-1), capped, with jitter
(see topic policy). A message delivered more than max_retries times goes to
the dead-letter queue, with _dlq_reason and _delivery_count headers. A
message consumed from the dead-letter queue goes back to its head. Ids not
in flight are ignored. --json prints {ok, requeued, delayed, dead_lettered}.`,
    )
    .action(
      run(session, async (ctx, nsName: string, topicName: string, queue: number, ids: string[], o: NackCliOptions) =>
        (await messaging()).nack(ctx, nsName, topicName, queue, ids, o),
      ),
    );
  program
    .command('renew')
    .description('extend the lease (ack deadline) of in-flight messages to now + --extend')
    .argument('<namespace>', 'namespace name')
    .argument('<topic>', 'topic name')
    .argument('<queue>', 'queue id the messages were consumed from (dlq: from the dead-letter queue)', leaseQueueArg)
    .argument('<id...>', 'message ids (spaces or commas between them), or - to read them from stdin')
    .requiredOption('--extend <duration>', 'the new lease, from now: 30s, 5m...')
    .addHelpText(
      'after',
      `
Either every lease is renewed or none: a message whose lease already expired
(or that was acked) fails the command with FAILED_PRECONDITION; consume it
again instead.`,
    )
    .action(
      run(session, async (ctx, nsName: string, topicName: string, queue: number, ids: string[], o: RenewOptions) =>
        (await messaging()).renew(ctx, nsName, topicName, queue, ids, o),
      ),
    );

  // ---------------------------------------------------------------- inspection
  const peekOptions = (cmd: Command, withPreview: boolean, defaultLimit: string): Command => {
    cmd
      .addOption(new Option('--limit <n>', `most messages on the page, up to 100 (default: ${defaultLimit})`).argParser(intArg(1)))
      .option('--cursor <cursor>', 'continue after the page that printed this cursor')
      .option('--desc', 'from the tail (the last to be delivered) rather than the head');
    if (withPreview) cmd.addOption(new Option('--preview <bytes>', 'show at most this many bytes of each payload (SIZE keeps the full size)').argParser(intArg(1)));
    return cmd;
  };
  const peekHelp = `
Nothing is consumed. When more messages follow, the command for the next
page is printed on stderr (--json: next_cursor). --json prints
{messages: [Message + payload_size], next_cursor}.`;
  peekOptions(
    program
      .command('peek')
      .description('look at the pending messages of a queue without consuming them')
      .argument('<namespace>', 'namespace name')
      .argument('<topic>', 'topic name')
      .argument('<queue>', 'queue id', queueIdArg),
    true,
    '20',
  )
    .addHelpText('after', peekHelp)
    .action(run(session, async (ctx, nsName: string, topicName: string, queue: number, o: PeekCliOptions) => (await inspect()).peek(ctx, nsName, topicName, queue, o)));
  program
    .command('purge')
    .description('remove the pending and delayed messages of a queue, of every queue of a topic, or of its dead-letter queue')
    .argument('<namespace>', 'namespace name')
    .argument('<topic>', 'topic name')
    .argument('[queue]', 'a queue id, or dlq (default: every queue)', leaseQueueArg)
    .addHelpText('after', '\nIn-flight messages are kept: they finish by ack, or come back and can be purged then.')
    .action(run(session, async (ctx, nsName: string, topicName: string, queue: number | undefined) => (await admin()).purge(ctx, nsName, topicName, queue)));
  program
    .command('stats')
    .description('depths, totals, rates and oldest age of each queue of a topic, its dead-letter queue and its totals')
    .argument('<namespace>', 'namespace name')
    .argument('<topic>', 'topic name')
    .addHelpText(
      'after',
      `
One row a queue, a dlq row (its depth under PENDING), and a total row.
Depths survive a restart; the totals and rates (messages/s over about 10 s)
count since the broker started. --json prints the topic's stats with a
queues array, ages in ms and the policy.`,
    )
    .action(run(session, async (ctx, nsName: string, topicName: string) => (await inspect()).stats(ctx, nsName, topicName)));

  const dlq = program.command('dlq').description("a topic's dead-letter queue: list, peek, consume, redrive");
  peekOptions(
    dlq
      .command('list')
      .alias('ls')
      .description('one line a dead letter: id, reason, deliveries, time, size and the start of the payload')
      .argument('<namespace>', 'namespace name')
      .argument('<topic>', 'topic name'),
    false,
    '20',
  )
    .addHelpText('after', '\n--json prints {messages: [{id, reason, delivery_count, timestamp, payload_size}], next_cursor}.')
    .action(run(session, async (ctx, nsName: string, topicName: string, o: PeekCliOptions) => (await dlqCommands()).dlqList(ctx, nsName, topicName, o)));
  peekOptions(
    dlq
      .command('peek')
      .description('look at the dead letters in full without consuming them')
      .argument('<namespace>', 'namespace name')
      .argument('<topic>', 'topic name'),
    true,
    '20',
  )
    .addHelpText('after', peekHelp)
    .action(run(session, async (ctx, nsName: string, topicName: string, o: PeekCliOptions) => (await dlqCommands()).dlqPeek(ctx, nsName, topicName, o)));
  dlq
    .command('consume')
    .description('take up to --batch messages from the head of the dead-letter queue')
    .argument('<namespace>', 'namespace name')
    .argument('<topic>', 'topic name')
    .addOption(new Option('-b, --batch <n>', 'most messages to take').argParser(intArg(1)).default(1))
    .option('--auto-ack', 'ack on delivery: the messages leave the dead-letter queue for good')
    .option('--ack', 'ack the messages after printing them')
    .addHelpText('after', '\nWithout --auto-ack or --ack they are in flight: ack them with queue dlq, or nack them back to its head.')
    .action(run(session, async (ctx, nsName: string, topicName: string, o: ConsumeOptions) => (await dlqCommands()).dlqConsume(ctx, nsName, topicName, o)));
  dlq
    .command('redrive')
    .description("move dead letters back to the topic's queues, with a fresh delivery count")
    .argument('<namespace>', 'namespace name')
    .argument('<topic>', 'topic name')
    .addOption(new Option('--max <n>', 'move at most n, from the head (default: all)').argParser(intArg(1)))
    .action(run(session, async (ctx, nsName: string, topicName: string, o: RedriveOptions) => (await dlqCommands()).dlqRedrive(ctx, nsName, topicName, o)));

  // ---------------------------------------------------------------- ops
  program
    .command('health')
    .description('check that the broker answers (GET /health over http, a round trip otherwise)')
    .action(run(session, async (ctx) => (await import('./commands/health.js')).health(ctx)));

  const aof = program.command('aof').description('the append-only file: check, fix (offline), rewrite (online)');
  aof
    .command('check')
    .description('verify every record of the AOF in <dir> (broker stopped) and report the first bad one; exit 1 if any')
    .argument('<dir>', 'the AOF directory (persistence.aof.dir)')
    .option('--filename <name>', 'base name of the AOF files, persistence.aof.filename (default: appendonly.aof)')
    .option('--force', 'check even though a running broker holds the directory')
    .action(run(session, async (ctx, dir: string, o: AofOptions) => (await aofCommands()).aofCheck(ctx, dir, o)));
  aof
    .command('fix')
    .description('cut the AOF in <dir> (broker stopped) at its first bad record, after confirmation or --yes')
    .argument('<dir>', 'the AOF directory (persistence.aof.dir)')
    .option('--filename <name>', 'base name of the AOF files, persistence.aof.filename (default: appendonly.aof)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--force', 'fix even though a running broker holds the directory (it keeps appending to what is cut)')
    .addHelpText(
      'after',
      `
Every record before the bad one is kept; the bad file is truncated there and
later files are removed from the manifest and renamed *.dropped (not deleted).`,
    )
    .action(run(session, async (ctx, dir: string, o: AofOptions) => (await aofCommands()).aofFix(ctx, dir, o)));
  aof
    .command('rewrite')
    .description('ask a running broker to compact its AOF now (POST /v1/admin/aof/rewrite on the HTTP front, whatever --proto is)')
    .addHelpText('after', '\nThe HTTP port is --http-port, else --port when --proto is http, else 8080.')
    .action(run(session, async (ctx) => (await aofCommands()).aofRewrite(ctx)));

  // ---------------------------------------------------------------- bench
  program
    .command('bench')
    .description('measure publish and consume throughput and latency, in the manner of nats bench')
    .addOption(new Option('--msgs <n>', 'messages to publish in all').argParser(intArg(1)).default(100_000))
    .addOption(new Option('--size <bytes>', 'payload size').argParser(intArg(0)).default(128))
    .addOption(new Option('--pub <n>', 'publishers, each its own client (over tcp its own connection)').argParser(intArg(1)).default(1))
    .addOption(new Option('--sub <n>', 'auto-ack subscribers, each its own client and stream (0: publish only)').argParser(intArg(0)).default(1))
    .addOption(new Option('--queues <n>', 'queues of the bench topic (default: max(1, --sub))').argParser(intArg(1)))
    .addOption(new Option('--window <n>', 'publish requests in flight per publisher').argParser(intArg(1)).default(32))
    .option('--namespace <name>', 'namespace of the temporary bench topic', 'bench')
    .addHelpText(
      'after',
      `
A fresh topic bench-<random> is created and deleted afterwards (and the
namespace too when the bench created it). Publish latency is the round trip
of each publish; consume latency runs from the publish call to the delivery
(needs --size >= 16: the send time rides at the head of the payload). A
progress bar is drawn on stderr when it is a terminal; --json prints one object.
fsync is the broker's setting (persistence.aof.fsync), not the bench's.

Examples:
  mqlite-cli bench --msgs 200000 --size 1024
  mqlite-cli bench --proto grpc --pub 4 --sub 4
  mqlite-cli --json bench --proto http --sub 0`,
    )
    .action(run(session, async (ctx, o: BenchOptions) => (await import('./commands/bench.js')).bench(ctx, o)));

  // ---------------------------------------------------------------- repl
  if (hooks.startRepl) {
    const startRepl = hooks.startRepl;
    program
      .command('repl')
      .description('interactive prompt with the same commands (also what mqlite-cli with no command opens)')
      .action(async (_o: unknown, cmd: Command) => startRepl(cmd));
    // Set after the subcommands exist, so that they do not inherit it: the
    // root takes the stray word only to name it as an unknown command.
    program.allowExcessArguments(true);
    program.action(async (_o: unknown, cmd: Command) => {
      if (cmd.args.length > 0) program.error(`error: unknown command '${cmd.args[0]}'`, { code: 'commander.unknownCommand', exitCode: 2 });
      await startRepl(cmd);
    });
  }
  return program;
}
