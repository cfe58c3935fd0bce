/**
 * `pub`, `pub-batch`, `consume`, `sub`, and the calls on in-flight messages
 * (`ack`, `nack`, `renew`): one code path over CliClient for every protocol.
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { BatchPublishEntry, ClientMessage, ClientError, PublishExtras, SubscribeOptions } from '../../client/types.js';
import { formatDuration, optionalDuration, parseDurationOption } from '../args.js';
import type { Ctx } from '../context.js';
import { CommandFailure, UsageError } from '../errors.js';
import { headersForHuman, isoTime, isResizeNotice, MESSAGE_COLUMNS, messageRow, messageToJson, payloadForHuman } from '../messages.js';

// ------------------------------------------------------------------- stdin

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** Stdin for a payload or ids; refused in the REPL (stdin holds its commands) and on a terminal. */
function dataStdin(ctx: Ctx, what: string): NodeJS.ReadableStream {
  if (ctx.session.repl) throw new UsageError(`${what} cannot come from stdin inside the REPL; give it as an argument or @file`);
  const stdin = ctx.session.io.stdin;
  if (stdin.isTTY) throw new UsageError(`no ${what}: give it as an argument or @file, or pipe it on stdin`);
  return stdin;
}

// ------------------------------------------------------------------- pub

export interface PubOptions {
  header?: Record<string, string>;
  key?: string;
  queue?: number;
  count: number;
  lines?: boolean;
  dedupId?: string;
  /** A duration (parsed when the command runs). */
  delay?: string;
  /** Unix ms (parsed by timeArg). */
  deliverAt?: number;
  /** A duration (parsed when the command runs). */
  ttl?: string;
}

type Extras = Pick<PublishExtras, 'dedupId' | 'delayMs' | 'deliverAtMs' | 'ttlMs'>;

/** The publish extensions (dedup id, delay, deliver-at, ttl) given on the command line, or undefined when none is. */
async function publishExtras(o: Pick<PubOptions, 'dedupId' | 'delay' | 'deliverAt' | 'ttl'>): Promise<Extras | undefined> {
  const delayMs = await optionalDuration('--delay <duration>', o.delay, { allowZero: true });
  const ttlMs = await optionalDuration('--ttl <duration>', o.ttl);
  if (o.dedupId === undefined && delayMs === undefined && o.deliverAt === undefined && ttlMs === undefined) return undefined;
  return { dedupId: o.dedupId, delayMs, deliverAtMs: o.deliverAt, ttlMs };
}

/** When a delayed message becomes visible, and when it expires, for the line that reports the publish. */
function visibility(extras: Extras | undefined): string {
  let text = '';
  if (extras?.delayMs !== undefined && extras.delayMs > 0) text = `, delivered after ${formatDuration(extras.delayMs)}`;
  else if (extras?.deliverAtMs !== undefined) text = `, delivered at ${new Date(extras.deliverAtMs).toISOString()}`;
  if (extras?.ttlMs !== undefined) text += `, expires after ${formatDuration(extras.ttlMs)} unless the topic's message TTL is shorter`;
  return text;
}

/** The payloads named by the argument: the text itself, `@file`, or stdin (absent or `-`). */
async function* payloads(ctx: Ctx, arg: string | undefined, lines: boolean): AsyncGenerator<Uint8Array | string> {
  let source: Buffer | string | NodeJS.ReadableStream;
  if (arg === undefined || arg === '-' || arg === '@-') source = dataStdin(ctx, 'payload');
  else if (arg.startsWith('@')) {
    try {
      source = await readFile(arg.slice(1));
    } catch (err) {
      throw new UsageError(`cannot read payload file ${arg.slice(1)}: ${(err as Error).message}`);
    }
  } else source = arg;
  if (!lines) {
    yield typeof source === 'string' || Buffer.isBuffer(source) ? source : await readAll(source);
    return;
  }
  // Lines of a file or stdin are bytes, as the whole file is: stored as they are on every protocol.
  if (typeof source === 'string') {
    for (const line of source.split(/\r?\n/)) if (line !== '') yield line;
    return;
  }
  if (Buffer.isBuffer(source)) {
    for (const line of source.toString().split(/\r?\n/)) if (line !== '') yield Buffer.from(line);
    return;
  }
  // Streamed, so a large input is published as it is read.
  for await (const line of createInterface({ input: source, crlfDelay: Infinity })) if (line !== '') yield Buffer.from(line);
}

/**
 * Requests in flight per publisher. TCP answers in request order and the
 * server handles a connection's frames in order, so pipelining keeps the
 * published order; so does gRPC, whose publishes share one PublishStream,
 * applied in the order sent (docs/PROTOCOL.md, "PublishStream"). Over HTTP
 * concurrent requests may be reordered, so they go one at a time.
 */
function publishWindow(ctx: Ctx): number {
  return ctx.g.proto === 'http' ? 1 : 64;
}

export async function pub(ctx: Ctx, ns: string, topic: string, payloadArg: string | undefined, opts: PubOptions): Promise<void> {
  const extras = await publishExtras(opts);
  const publishOpts = { headers: opts.header, routingKey: opts.key, queueId: opts.queue };
  const client = await ctx.client();
  type Published = { message_id: string; queue_id: number; duplicate?: boolean };
  // The plain call where no extension is asked for: the request an older broker knows.
  const publishOne = (payload: Uint8Array | string): Promise<Published> =>
    extras === undefined
      ? client.publish(ns, topic, payload, publishOpts).then((r) => ({ message_id: r.messageId, queue_id: r.queueId }))
      : client.publishEx(ns, topic, payload, { ...publishOpts, ...extras }).then((r) => ({ message_id: r.messageId, queue_id: r.queueId, duplicate: r.duplicate }));
  const results: Published[] = [];
  const window = publishWindow(ctx);
  const inflight: Promise<void>[] = [];
  let failure: Error | undefined;
  publishing: for await (const payload of payloads(ctx, payloadArg, opts.lines === true)) {
    for (let i = 0; i < opts.count; i++) {
      const slot = results.length;
      results.push({ message_id: '', queue_id: -1 });
      inflight.push(
        publishOne(payload).then(
          (r) => {
            results[slot] = r;
          },
          (err: Error) => {
            failure ??= err;
          },
        ),
      );
      if (inflight.length >= window) await inflight.shift();
      if (failure) break publishing;
    }
  }
  await Promise.all(inflight);
  // The first failure stops publishing; what was published before it stays published.
  if (failure) throw failure;
  const many = opts.lines === true || opts.count !== 1;
  if (ctx.out.json) return ctx.out.jsonResult(many ? results : results[0]);
  if (results.length === 0) return ctx.out.note('nothing to publish (no lines)');
  if (!many) {
    const r = results[0]!;
    // (docs/DESIGN.md, "Deduplication") a repeat inside the window is answered with the original's ids.
    if (r.duplicate) return ctx.out.done(`duplicate of ${r.message_id} (${ns}/${topic} queue ${r.queue_id}): not enqueued again`);
    return ctx.out.done(`published ${r.message_id} to ${ns}/${topic} queue ${r.queue_id}${visibility(extras)}`);
  }
  const duplicates = results.filter((r) => r.duplicate).length;
  const fresh = results.filter((r) => !r.duplicate);
  const dupNote = duplicates > 0 ? `; ${duplicates} duplicate${duplicates === 1 ? '' : 's'} not enqueued again` : '';
  ctx.out.done(`published ${fresh.length} messages to ${ns}/${topic} (${queueSpread(fresh)})${visibility(extras)}${dupNote}`);
}

function queueSpread(results: readonly { queue_id: number }[]): string {
  const perQueue = new Map<number, number>();
  for (const r of results) perQueue.set(r.queue_id, (perQueue.get(r.queue_id) ?? 0) + 1);
  return (
    [...perQueue.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([q, n]) => `queue ${q}: ${n}`)
      .join(', ') || 'none'
  );
}

// ------------------------------------------------------------------- pub-batch

export interface PubBatchOptions {
  header?: Record<string, string>;
  key?: string;
  queue?: number;
  atomic?: boolean;
  delay?: string;
  deliverAt?: number;
  ttl?: string;
}

/**
 * One message per non-empty line of a file or stdin, in one call: `partial`
 * reports each failure by index and exits 1 if any failed; `--atomic`
 * publishes all or nothing. The batch is bounded by the broker's
 * limits.max_batch, which answers a larger one with its reason.
 */
export async function pubBatch(ctx: Ctx, ns: string, topic: string, source: string | undefined, opts: PubBatchOptions): Promise<void> {
  let text: string;
  if (source === undefined || source === '-' || source === '@-') text = (await readAll(dataStdin(ctx, 'batch'))).toString('utf8');
  else if (source.startsWith('@')) {
    try {
      text = await readFile(source.slice(1), 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read batch file ${source.slice(1)}: ${(err as Error).message}`);
    }
  } else throw new UsageError(`the batch comes from @file or stdin (- or nothing), one message a line; got '${source}'`);
  const extras = await publishExtras(opts);
  const lineNumbers: number[] = [];
  const entries: BatchPublishEntry[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line === '') return;
    lineNumbers.push(i + 1);
    entries.push({ payload: line, headers: opts.header, routingKey: opts.key, queueId: opts.queue, ...extras });
  });
  if (entries.length === 0) {
    if (ctx.out.json) return ctx.out.jsonResult([]);
    return ctx.out.note('nothing to publish (no lines)');
  }
  const items = await (await ctx.client()).publishBatch(ns, topic, entries, opts.atomic ? 'atomic' : 'partial');
  const rows = items.map((item, index) =>
    item.ok
      ? { index, line: lineNumbers[index]!, ok: true as const, message_id: item.messageId, queue_id: item.queueId, duplicate: item.duplicate }
      : { index, line: lineNumbers[index]!, ok: false as const, code: item.code, error: item.error },
  );
  const failed = rows.filter((r) => !r.ok);
  if (ctx.out.json) ctx.out.jsonResult(rows);
  else {
    const published = rows.filter((r) => r.ok && !r.duplicate) as { queue_id: number }[];
    const duplicates = rows.filter((r) => r.ok && r.duplicate).length;
    const dupNote = duplicates > 0 ? `; ${duplicates} duplicate${duplicates === 1 ? '' : 's'} not enqueued again` : '';
    const mode = opts.atomic ? 'atomic batch' : 'batch';
    ctx.out.done(`published ${published.length} of ${rows.length} messages to ${ns}/${topic} in one ${mode} (${queueSpread(published)})${visibility(extras)}${dupNote}`);
    for (const f of failed) if (!f.ok) ctx.out.warn(`message ${f.index} (line ${f.line}): ${f.code}: ${f.error}`);
  }
  if (failed.length > 0) throw new CommandFailure(`${failed.length} of ${rows.length} messages were not published`, 'BATCH_PARTIAL');
}

// ------------------------------------------------------------------- consume

export interface ConsumeOptions {
  batch: number;
  autoAck?: boolean;
  ack?: boolean;
}

export async function consume(ctx: Ctx, ns: string, topic: string, queue: number, opts: ConsumeOptions): Promise<void> {
  if (opts.autoAck && opts.ack) throw new UsageError('--auto-ack and --ack exclude each other');
  const client = await ctx.client();
  const messages = await client.consume(ns, topic, queue, { batchSize: opts.batch, autoAck: opts.autoAck === true });
  await showConsumed(ctx, messages, { ns, topic, queueArg: String(queue), empty: `no messages in ${ns}/${topic} queue ${queue}` }, opts, (ids) => client.ack(ns, topic, queue, ids));
}

/**
 * Prints what a consume took (from a queue or the dead-letter queue), acks
 * it after printing with --ack, and otherwise says how to ack or nack it.
 */
export async function showConsumed(
  ctx: Ctx,
  messages: readonly ClientMessage[],
  where: { ns: string; topic: string; queueArg: string; empty: string },
  opts: ConsumeOptions,
  ack: (ids: string[]) => Promise<void>,
): Promise<void> {
  const ids = messages.map((m) => m.id);
  if (opts.ack && ids.length > 0) await ack(ids);
  if (ctx.out.json) return ctx.out.jsonResult(messages.map(messageToJson));
  if (messages.length === 0) return ctx.out.note(where.empty);
  ctx.out.table(MESSAGE_COLUMNS, messages.map(messageRow));
  if (!opts.autoAck && !opts.ack) {
    const target = `${where.ns} ${where.topic} ${where.queueArg} ${ids.join(' ')}`;
    ctx.out.note(`${ids.length} in flight; ack within the broker's ack_timeout (renew to extend it), or they are delivered again:`);
    ctx.out.note(`  mqlite-cli ack ${target}`);
    ctx.out.note(`  mqlite-cli nack ${target}      (retry later)`);
  }
}

// ------------------------------------------------------------------- sub

export interface SubOptions {
  count?: number;
  autoAck?: boolean;
  /** With --json: one object a line (JSON Lines) instead of one array. */
  ndjson?: boolean;
}

function streamLine(ctx: Ctx, m: ClientMessage): string {
  const o = ctx.out;
  const meta = [o.paint('dim', isoTime(m.timestamp)), o.paint('cyan', `q${m.queueId}`), o.paint('dim', m.id)];
  if (m.deliveryCount > 1) meta.push(o.paint('yellow', `delivery=${m.deliveryCount}`));
  const headers = headersForHuman(m.headers);
  if (headers !== '') meta.push(o.paint('magenta', headers));
  return `${meta.join(' ')} ${payloadForHuman(m.payload)}`;
}

interface AckPolicy {
  /** Send once this many wait. */
  maxBatch: number;
  /** Send once the oldest has waited this long. */
  maxDelayMs: number;
}

/** Acks of printed messages, sent in batches as the policy says, and at the end. */
class AckBatcher {
  private ids: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly sent: Promise<void>[] = [];

  constructor(
    private readonly send: (ids: string[]) => Promise<void>,
    private readonly policy: () => AckPolicy,
    private readonly onError: (err: Error) => void,
  ) {}

  add(id: string): void {
    this.ids.push(id);
    const { maxBatch, maxDelayMs } = this.policy();
    if (this.ids.length >= maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), maxDelayMs);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.ids.length === 0) return;
    const ids = this.ids;
    this.ids = [];
    this.sent.push(this.send(ids).catch(this.onError));
  }

  /** Sends what waits and resolves when every ack was answered. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.all(this.sent);
  }
}

/**
 * Streams a queue until Ctrl-C, `--count` messages, or the server ends the
 * stream. With `--count`, messages are acked after printing even with
 * `--auto-ack`, so a message pushed past the count is never lost: it stays
 * in flight and is delivered again after the broker's ack_timeout. On
 * every protocol, `max_inflight` = count keeps the server from pushing more
 * than the count (docs/PROTOCOL.md, "Subscribe"), so the rest stays pending,
 * as long as the acks are held until the count is reached (they are, for up
 * to 10 s; counts up to the broker's default bound of 1000).
 */
export async function sub(ctx: Ctx, ns: string, topic: string, queue: number, opts: SubOptions): Promise<void> {
  const client = await ctx.client();
  // --ndjson asks for JSON by itself.
  const jsonOut = ctx.out.json || opts.ndjson === true;
  const ackAfterPrint = !opts.autoAck || opts.count !== undefined;
  // The broker's default bound on max_inflight is 1000 (limits.max_inflight_per_subscription).
  let capped = opts.count !== undefined && opts.count <= 1000 && ackAfterPrint;
  let received = 0;
  let stopping = false;
  let finish!: (err: ClientError | Error | undefined) => void;
  const finished = new Promise<ClientError | Error | undefined>((resolve) => (finish = resolve));
  const stop = (err: ClientError | Error | undefined): void => {
    if (stopping) return;
    stopping = true;
    finish(err);
  };
  let ackFailure: Error | undefined;
  // Under the cap every ack would let one more message in: held until the
  // count is reached (or 10 s, so that a slow stream is not redelivered).
  const policy = (): AckPolicy => (capped ? { maxBatch: Infinity, maxDelayMs: 10_000 } : { maxBatch: 100, maxDelayMs: 200 });
  const acks = new AckBatcher((ids) => client.ack(ns, topic, queue, ids), policy, (err) => {
    ackFailure ??= err;
    stop(err);
  });
  const array = jsonOut && !opts.ndjson ? ctx.out.jsonArrayStream() : undefined;
  const onMessage = (m: ClientMessage): void => {
    if (stopping) return;
    if (array) array.push(messageToJson(m));
    else if (jsonOut) ctx.out.jsonLine(messageToJson(m));
    if (isResizeNotice(m)) {
      if (!jsonOut) {
        const h = m.headers;
        ctx.out.line(ctx.out.paint('yellow', `-- topic ${ns}/${topic} resized: ${h['_queue_count']} queues, version ${h['_version']}`));
      }
      return;
    }
    if (!jsonOut) ctx.out.line(streamLine(ctx, m));
    received++;
    if (ackAfterPrint) acks.add(m.id);
    if (opts.count !== undefined && received >= opts.count) stop(undefined);
  };
  const subOpts: SubscribeOptions = {
    autoAck: !ackAfterPrint,
    onMessage,
    onEnd: (err) => stop(err ?? undefined),
  };
  if (capped) subOpts.maxInflight = opts.count;
  const unregister = ctx.session.onInterrupt(() => stop(undefined));
  try {
    // Before subscribing: the first messages can arrive before the subscribe call returns.
    if (!jsonOut && ctx.out.tty) ctx.out.note(`streaming ${ns}/${topic} queue ${queue}${opts.count === undefined ? '; Ctrl-C to stop' : ''}`);
    let subscription;
    try {
      subscription = await client.subscribe(ns, topic, queue, subOpts);
    } catch (err) {
      // A broker configured with a lower bound refuses the cap: go without it.
      if (!(capped && /max_inflight/.test((err as Error).message))) throw err;
      capped = false;
      delete subOpts.maxInflight;
      subscription = await client.subscribe(ns, topic, queue, subOpts);
    }
    const err = await finished;
    // Closed before the last acks go: an ack frees a slot of the in-flight
    // bound, and an open subscription would fill it with one more message.
    await subscription.close();
    await acks.drain();
    if (err ?? ackFailure) throw err ?? ackFailure;
    array?.close();
  } finally {
    unregister();
    // What was printed stays one JSON document even when the stream failed.
    if (array?.started) array.close();
  }
  if (!jsonOut) ctx.out.note(`received ${received} message${received === 1 ? '' : 's'}`);
}

// ------------------------------------------------------------------- ack

/** Ids as arguments or `-` for stdin, separated by whitespace or commas (as the Go MQLite CLI took them). */
async function readIds(ctx: Ctx, idArgs: string[], verb: string): Promise<string[]> {
  const text = idArgs.length === 1 && idArgs[0] === '-' ? (await readAll(dataStdin(ctx, 'message ids'))).toString('utf8') : idArgs.join(' ');
  const ids = text.split(/[\s,]+/).filter((s) => s !== '');
  if (ids.length === 0) throw new UsageError(`no message ids to ${verb}`);
  return ids;
}

const messagesWord = (n: number): string => `${n} message${n === 1 ? '' : 's'}`;

export async function ack(ctx: Ctx, ns: string, topic: string, queue: number, idArgs: string[]): Promise<void> {
  const ids = await readIds(ctx, idArgs, 'ack');
  await (await ctx.client()).ack(ns, topic, queue, ids);
  if (ctx.out.json) ctx.out.jsonResult({ ok: true, acked: ids.length });
  else ctx.out.done(`acked ${messagesWord(ids.length)} in ${ns}/${topic}`);
}

// ------------------------------------------------------------------- nack, renew

export interface NackCliOptions {
  delay?: string;
}

/**
 * (docs/DESIGN.md, "Nack, retries and dead letters") in-flight messages go back after --delay, or after the
 * topic's backoff; past max_retries they go to the dead-letter queue. Ids
 * not in flight are ignored, as for ack: the counts say what happened.
 */
export async function nack(ctx: Ctx, ns: string, topic: string, queue: number, idArgs: string[], opts: NackCliOptions): Promise<void> {
  const ids = await readIds(ctx, idArgs, 'nack');
  const delayMs = await optionalDuration('--delay <duration>', opts.delay, { allowZero: true });
  const r = await (await ctx.client()).nack(ns, topic, queue, ids, delayMs === undefined ? {} : { delayMs });
  if (ctx.out.json) return ctx.out.jsonResult({ ok: true, requeued: r.requeued, delayed: r.delayed, dead_lettered: r.deadLettered });
  const taken = r.requeued + r.delayed + r.deadLettered;
  const when = delayMs === undefined ? "the topic's backoff" : `--delay ${formatDuration(delayMs)}`;
  ctx.out.done(`nacked ${messagesWord(taken)} in ${ns}/${topic}: ${r.requeued} requeued now, ${r.delayed} delayed (${when}), ${r.deadLettered} dead-lettered`);
  const ignored = ids.length - taken;
  if (ignored > 0) ctx.out.note(`${ignored === 1 ? '1 id was' : `${ignored} ids were`} not in flight (acked, expired or unknown) and ${ignored === 1 ? 'was' : 'were'} ignored`);
}

export interface RenewOptions {
  extend: string;
}

/** (docs/DESIGN.md, "Leases") the ack deadline of each message becomes now + --extend; an expired lease is an error. */
export async function renew(ctx: Ctx, ns: string, topic: string, queue: number, idArgs: string[], opts: RenewOptions): Promise<void> {
  const ids = await readIds(ctx, idArgs, 'renew');
  const extendMs = await parseDurationOption('--extend <duration>', opts.extend);
  await (await ctx.client()).renewLease(ns, topic, queue, ids, extendMs);
  if (ctx.out.json) ctx.out.jsonResult({ ok: true, renewed: ids.length, extend_ms: extendMs });
  else ctx.out.done(`renewed the lease of ${messagesWord(ids.length)} in ${ns}/${topic}: ack within ${formatDuration(extendMs)}`);
}
