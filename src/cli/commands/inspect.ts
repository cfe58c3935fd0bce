/**
 * Looking without taking (docs/DESIGN.md, "Peek", "Stats"): `peek` at a queue's pending messages
 * (and, through dlq.ts, at the dead-letter queue), and `stats` of a topic.
 */
import type { ClientMessage, ClientQueueStats, ClientTopicStats, PeekPage } from '../../client/types.js';
import { formatDuration } from '../args.js';
import type { Ctx } from '../context.js';
import { PEEKED_COLUMNS, peekedRow, peekedToJson } from '../messages.js';
import { policyLine, policyToJson } from './policy.js';

// ------------------------------------------------------------------- peek

export interface PeekCliOptions {
  limit?: number;
  cursor?: string;
  desc?: boolean;
  /** Bytes of each payload to show (the full size is shown beside it). */
  preview?: number;
}

export type Peeked = ClientMessage & { payloadSize: number };

export async function peekPage(ctx: Ctx, ns: string, topic: string, queue: number | 'dlq', opts: PeekCliOptions): Promise<PeekPage> {
  return (await ctx.client()).peek(ns, topic, queue === 'dlq' ? -1 : queue, {
    limit: opts.limit,
    cursor: opts.cursor,
    order: opts.desc ? 'desc' : 'asc',
    previewBytes: opts.preview,
    dlq: queue === 'dlq',
  });
}

/** The command that shows the next page, on stderr, so stdout stays the page. */
export function nextPageNote(ctx: Ctx, command: string, page: PeekPage, opts: PeekCliOptions): void {
  if (page.nextCursor === undefined) return;
  const flags = [opts.limit !== undefined ? `--limit ${opts.limit}` : '', opts.desc ? '--desc' : '', opts.preview !== undefined ? `--preview ${opts.preview}` : '']
    .filter((f) => f !== '')
    .join(' ');
  ctx.out.note(`more: mqlite-cli ${command}${flags === '' ? '' : ` ${flags}`} --cursor ${page.nextCursor}`);
}

export function pageToJson(page: PeekPage, row: (m: Peeked) => Record<string, unknown>): Record<string, unknown> {
  return { messages: page.messages.map(row), next_cursor: page.nextCursor };
}

/** (docs/DESIGN.md, "Peek") up to --limit pending messages from the head (or the tail with --desc), not consumed. */
export async function peek(ctx: Ctx, ns: string, topic: string, queue: number, opts: PeekCliOptions): Promise<void> {
  const page = await peekPage(ctx, ns, topic, queue, opts);
  if (ctx.out.json) return ctx.out.jsonResult(pageToJson(page, peekedToJson));
  if (page.messages.length === 0) return ctx.out.note(`no pending messages in ${ns}/${topic} queue ${queue}${opts.cursor ? ' past the cursor' : ''}`);
  ctx.out.table(PEEKED_COLUMNS, page.messages.map(peekedRow));
  nextPageNote(ctx, `peek ${ns} ${topic} ${queue}`, page, opts);
}

// ------------------------------------------------------------------- stats

function countersToJson(s: Omit<ClientQueueStats, 'queueId'>): Record<string, unknown> {
  return {
    pending: s.pending,
    in_flight: s.inFlight,
    delayed: s.delayed,
    published: s.published,
    acked: s.acked,
    redelivered: s.redelivered,
    dead_lettered: s.deadLettered,
    expired: s.expired,
    publish_rate: s.publishRate,
    ack_rate: s.ackRate,
    oldest_pending_age_ms: s.oldestPendingAgeMs,
  };
}

export function statsToJson(s: ClientTopicStats): Record<string, unknown> {
  return {
    namespace: s.namespace,
    topic: s.topic,
    queue_count: s.queueCount,
    version: s.version,
    draining: s.draining,
    paused: s.paused,
    purged: s.purged,
    dlq_depth: s.dlqDepth,
    policy: policyToJson(s.policy),
    ...countersToJson(s),
    queues: s.queues.map((q) => ({ queue_id: q.queueId, ...countersToJson(q) })),
  };
}

const STATS_COLUMNS = [
  { header: 'QUEUE' },
  ...['PENDING', 'IN FLIGHT', 'DELAYED', 'PUBLISHED', 'ACKED', 'REDELIVERED', 'DEAD-LETTERED', 'EXPIRED', 'PUB/S', 'ACK/S', 'OLDEST'].map((header) => ({ header, align: 'right' as const })),
];

/** An age for a human: ms below a second, tenths of seconds below a minute, whole seconds above. */
function formatAge(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return formatDuration(Math.round(ms / 1000) * 1000);
}

function statsRow(label: string, s: Omit<ClientQueueStats, 'queueId'>): string[] {
  const rate = (r: number): string => (r === 0 ? '0' : r.toFixed(1));
  return [
    label,
    String(s.pending),
    String(s.inFlight),
    String(s.delayed),
    String(s.published),
    String(s.acked),
    String(s.redelivered),
    String(s.deadLettered),
    String(s.expired),
    rate(s.publishRate),
    rate(s.ackRate),
    s.oldestPendingAgeMs > 0 ? formatAge(s.oldestPendingAgeMs) : '-',
  ];
}

/**
 * (docs/DESIGN.md, "Stats") one row a queue, then the dead-letter queue's depth and
 * the topic's totals. Depths survive a restart; totals and rates count
 * since the broker started.
 */
export async function stats(ctx: Ctx, ns: string, topic: string): Promise<void> {
  const s = await (await ctx.client()).topicStats(ns, topic);
  if (ctx.out.json) return ctx.out.jsonResult(statsToJson(s));
  if (ctx.out.tty) {
    const shape = `${s.queueCount} queue${s.queueCount === 1 ? '' : 's'}, version ${s.version}${s.draining ? ', draining' : ''}${s.paused ? ', paused (nothing is delivered)' : ''}`;
    ctx.out.line(`${ctx.out.paint('bold', `${ns}/${topic}`)}: ${shape}; ${policyLine(s.policy)}`);
  }
  const dlqRow = ['dlq', String(s.dlqDepth), ...Array<string>(STATS_COLUMNS.length - 2).fill('-')];
  ctx.out.table(STATS_COLUMNS, [...s.queues.map((q) => statsRow(String(q.queueId), q)), dlqRow, statsRow('total', s)]);
}
