/**
 * The dead-letter queue of a topic (docs/DESIGN.md, "Nack, retries and dead letters"): `dlq list`, `dlq
 * peek`, `dlq consume`, `dlq redrive`. Messages land there past the
 * topic's max_retries, with the reason and their delivery count in headers.
 */
// The headers the broker adds when it dead-letters a message: the reason, the deliveries it had.
import { DLQ_COUNT_HEADER, DLQ_REASON_HEADER } from '../../protocol/message.js';
import type { Ctx } from '../context.js';
import { UsageError } from '../errors.js';
import { isoTime, payloadForHuman, PEEKED_COLUMNS, peekedRow, peekedToJson } from '../messages.js';
import { nextPageNote, pageToJson, peekPage, type PeekCliOptions, type Peeked } from './inspect.js';
import { showConsumed, type ConsumeOptions } from './messaging.js';

/** Payload bytes shown by `dlq list`: enough to recognise a message. */
const LIST_PREVIEW_BYTES = 48;

function dlqListRow(m: Peeked): Record<string, unknown> {
  return {
    id: m.id,
    reason: m.headers[DLQ_REASON_HEADER] ?? null,
    delivery_count: Number(m.headers[DLQ_COUNT_HEADER] ?? m.deliveryCount),
    timestamp: m.timestamp,
    payload_size: m.payloadSize,
  };
}

/** One row a dead letter: why and after how many deliveries it died, and a glimpse of its payload. */
export async function dlqList(ctx: Ctx, ns: string, topic: string, opts: PeekCliOptions): Promise<void> {
  const page = await peekPage(ctx, ns, topic, 'dlq', { ...opts, preview: LIST_PREVIEW_BYTES });
  const listOpts = { ...opts, preview: undefined };
  if (ctx.out.json) return ctx.out.jsonResult(pageToJson(page, dlqListRow));
  if (page.messages.length === 0) return ctx.out.note(`the dead-letter queue of ${ns}/${topic} is empty${opts.cursor ? ' past the cursor' : ''}`);
  ctx.out.table(
    [{ header: 'ID' }, { header: 'REASON' }, { header: 'DELIVERIES', align: 'right' }, { header: 'TIME' }, { header: 'SIZE', align: 'right' }, { header: 'PAYLOAD' }],
    page.messages.map((m) => {
      const glimpse = payloadForHuman(m.payload);
      return [
        m.id,
        m.headers[DLQ_REASON_HEADER] ?? '-',
        m.headers[DLQ_COUNT_HEADER] ?? String(m.deliveryCount),
        isoTime(m.timestamp),
        String(m.payloadSize),
        m.payload.length < m.payloadSize ? `${glimpse}…` : glimpse,
      ];
    }),
  );
  nextPageNote(ctx, `dlq list ${ns} ${topic}`, page, listOpts);
}

/** The dead-letter queue's messages in full, as `peek` shows a queue. */
export async function dlqPeek(ctx: Ctx, ns: string, topic: string, opts: PeekCliOptions): Promise<void> {
  const page = await peekPage(ctx, ns, topic, 'dlq', opts);
  if (ctx.out.json) return ctx.out.jsonResult(pageToJson(page, peekedToJson));
  if (page.messages.length === 0) return ctx.out.note(`the dead-letter queue of ${ns}/${topic} is empty${opts.cursor ? ' past the cursor' : ''}`);
  ctx.out.table(PEEKED_COLUMNS, page.messages.map(peekedRow));
  nextPageNote(ctx, `dlq peek ${ns} ${topic}`, page, opts);
}

/**
 * Takes messages from the head of the dead-letter queue, as `consume` does
 * from a queue: without --auto-ack or --ack they are in flight (queue dlq)
 * until acked; a nack, or their lease passing, puts them back at its head.
 */
export async function dlqConsume(ctx: Ctx, ns: string, topic: string, opts: ConsumeOptions): Promise<void> {
  if (opts.autoAck && opts.ack) throw new UsageError('--auto-ack and --ack exclude each other');
  const client = await ctx.client();
  const messages = await client.consumeDlq(ns, topic, { batchSize: opts.batch, autoAck: opts.autoAck === true });
  await showConsumed(ctx, messages, { ns, topic, queueArg: 'dlq', empty: `the dead-letter queue of ${ns}/${topic} is empty` }, opts, (ids) => client.ack(ns, topic, -1, ids));
}

export interface RedriveOptions {
  max?: number;
}

/** Moves up to --max (default all) dead letters back to the topic's queues, with a fresh delivery count. */
export async function dlqRedrive(ctx: Ctx, ns: string, topic: string, opts: RedriveOptions): Promise<void> {
  const moved = await (await ctx.client()).redriveDlq(ns, topic, opts.max);
  if (ctx.out.json) return ctx.out.jsonResult({ ok: true, moved });
  ctx.out.done(`redrove ${moved} message${moved === 1 ? '' : 's'} from the dead-letter queue of ${ns}/${topic} back to its queues`);
}
