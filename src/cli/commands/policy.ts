/**
 * `topic policy`: a topic's retry policy (max_retries, backoff base and
 * cap) and dedup window (docs/PROTOCOL.md, "Topic policy"). Without flags it shows the policy; each
 * flag given changes that value and leaves the others as they are.
 */
import type { ClientTopicPolicy } from '../../client/types.js';
import { formatDuration, optionalDuration } from '../args.js';
import type { Ctx } from '../context.js';

export interface PolicyOptions {
  maxRetries?: number;
  /** Durations, parsed when the command runs. */
  retryBase?: string;
  retryCap?: string;
  dedupWindow?: string;
}

export function policyToJson(p: ClientTopicPolicy): Record<string, unknown> {
  return { max_retries: p.maxRetries, retry_base_ms: p.retryBaseMs, retry_cap_ms: p.retryCapMs, dedup_window_ms: p.dedupWindowMs };
}

const retriesText = (p: ClientTopicPolicy): string => (p.maxRetries < 0 ? 'unlimited' : String(p.maxRetries));
const dedupText = (p: ClientTopicPolicy): string => (p.dedupWindowMs === 0 ? 'off' : formatDuration(p.dedupWindowMs));

/** The policy on one line (the header of `stats`). */
export function policyLine(p: ClientTopicPolicy): string {
  return `max retries ${retriesText(p)}, backoff ${formatDuration(p.retryBaseMs)} to ${formatDuration(p.retryCapMs)}, dedup window ${dedupText(p)}`;
}

/** `--dedup-window off` is 0, which turns deduplication off. */
async function dedupWindow(value: string | undefined): Promise<number | undefined> {
  return value === 'off' ? 0 : optionalDuration('--dedup-window <duration>', value, { allowZero: true });
}

export async function topicPolicy(ctx: Ctx, ns: string, topic: string, o: PolicyOptions): Promise<void> {
  const given: Partial<ClientTopicPolicy> = {
    maxRetries: o.maxRetries,
    retryBaseMs: await optionalDuration('--retry-base <duration>', o.retryBase, { allowZero: true }),
    retryCapMs: await optionalDuration('--retry-cap <duration>', o.retryCap, { allowZero: true }),
    dedupWindowMs: await dedupWindow(o.dedupWindow),
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
    ],
  );
}
