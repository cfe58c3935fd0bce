/**
 * `topic policy`: a topic's retry policy (max_retries, backoff base and
 * cap), dedup window, ack timeout and message expiry (docs/PROTOCOL.md,
 * "Topic policy"). Without flags it shows the policy; each flag given
 * changes that value and leaves the others as they are.
 */
import { encodePolicy } from '../../client/json-message.js';
import type { ClientTopicPolicy } from '../../client/types.js';
import { formatDuration, optionalDuration } from '../args.js';
import type { Ctx } from '../context.js';

export interface PolicyOptions {
  maxRetries?: number;
  /** Durations, parsed when the command runs. */
  retryBase?: string;
  retryCap?: string;
  dedupWindow?: string;
  ackTimeout?: string;
  messageTtl?: string;
  /** `true` or `false` (parsed by booleanArg). */
  deadLetterExpired?: boolean;
}

/** The policy as `--json` prints it: the JSON fronts' shape. */
export const policyToJson = (p: ClientTopicPolicy): Record<string, unknown> => encodePolicy(p);

const retriesText = (p: ClientTopicPolicy): string => (p.maxRetries < 0 ? 'unlimited' : String(p.maxRetries));
const dedupText = (p: ClientTopicPolicy): string => (p.dedupWindowMs === 0 ? 'off' : formatDuration(p.dedupWindowMs));
const ackTimeoutText = (p: ClientTopicPolicy): string => (p.ackTimeoutMs === 0 ? 'broker default' : formatDuration(p.ackTimeoutMs));
const ttlText = (p: ClientTopicPolicy): string => (p.messageTtlMs === 0 ? 'off' : formatDuration(p.messageTtlMs));

/** The policy on one line (the header of `stats`). */
export function policyLine(p: ClientTopicPolicy): string {
  const expiry = p.messageTtlMs === 0 ? '' : `, messages expire after ${ttlText(p)}${p.deadLetterExpired ? ' (to the dead-letter queue)' : ''}`;
  const ack = p.ackTimeoutMs === 0 ? '' : `, ack timeout ${ackTimeoutText(p)}`;
  return `max retries ${retriesText(p)}, backoff ${formatDuration(p.retryBaseMs)} to ${formatDuration(p.retryCapMs)}, dedup window ${dedupText(p)}${ack}${expiry}`;
}

/** `off` is 0 (deduplication off, no expiry), `default` too for the ack timeout (the broker's ack_timeout). */
async function durationOrOff(option: string, value: string | undefined, off: string): Promise<number | undefined> {
  return value === off ? 0 : optionalDuration(option, value, { allowZero: true });
}

export async function topicPolicy(ctx: Ctx, ns: string, topic: string, o: PolicyOptions): Promise<void> {
  const given: Partial<ClientTopicPolicy> = {
    maxRetries: o.maxRetries,
    retryBaseMs: await optionalDuration('--retry-base <duration>', o.retryBase, { allowZero: true }),
    retryCapMs: await optionalDuration('--retry-cap <duration>', o.retryCap, { allowZero: true }),
    dedupWindowMs: await durationOrOff('--dedup-window <duration>', o.dedupWindow, 'off'),
    ackTimeoutMs: await durationOrOff('--ack-timeout <duration>', o.ackTimeout, 'default'),
    messageTtlMs: await durationOrOff('--message-ttl <duration>', o.messageTtl, 'off'),
    deadLetterExpired: o.deadLetterExpired,
  };
  // Only the values given: an absent field keeps its current value.
  const change = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<ClientTopicPolicy>;
  const client = await ctx.client();
  const changing = Object.keys(change).length > 0;
  // Shown from the stats, a read: an empty change would still be a write.
  const policy = changing ? await client.setTopicPolicy(ns, topic, change) : (await client.topicStats(ns, topic)).policy;
  if (ctx.out.json) return ctx.out.jsonResult(policyToJson(policy));
  if (changing) ctx.out.note(`policy of ${ns}/${topic} updated`);
  ctx.out.table(
    [{ header: 'SETTING' }, { header: 'VALUE' }],
    [
      ['max_retries', retriesText(policy)],
      ['retry_base', formatDuration(policy.retryBaseMs)],
      ['retry_cap', formatDuration(policy.retryCapMs)],
      ['dedup_window', dedupText(policy)],
      ['ack_timeout', ackTimeoutText(policy)],
      ['message_ttl', ttlText(policy)],
      ['dead_letter_expired', String(policy.deadLetterExpired)],
    ],
  );
}
