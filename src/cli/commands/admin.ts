/** `ns create|delete|list`, `topic create|delete|list|resize|rebalance|pause|resume`, and `purge`. */
import type { Ctx } from '../context.js';

export async function nsCreate(ctx: Ctx, name: string): Promise<void> {
  await (await ctx.client()).createNamespace(name);
  if (ctx.out.json) ctx.out.jsonResult({ ok: true, namespace: name });
  else ctx.out.done(`namespace ${name} created`);
}

export async function nsDelete(ctx: Ctx, name: string): Promise<void> {
  await (await ctx.client()).deleteNamespace(name);
  if (ctx.out.json) ctx.out.jsonResult({ ok: true, namespace: name });
  else ctx.out.done(`namespace ${name} deleted`);
}

export async function nsList(ctx: Ctx): Promise<void> {
  const names = (await (await ctx.client()).listNamespaces()).sort();
  if (ctx.out.json) return ctx.out.jsonResult(names);
  if (names.length === 0 && ctx.out.tty) return ctx.out.note('no namespaces');
  ctx.out.table([{ header: 'NAMESPACE' }], names.map((n) => [n]));
}

export async function topicCreate(ctx: Ctx, ns: string, name: string, queues: number): Promise<void> {
  await (await ctx.client()).createTopic(ns, name, queues);
  if (ctx.out.json) ctx.out.jsonResult({ ok: true, namespace: ns, topic: name, queue_count: queues });
  else ctx.out.done(`topic ${ns}/${name} created with ${queues} queue${queues === 1 ? '' : 's'}`);
}

export async function topicDelete(ctx: Ctx, ns: string, name: string): Promise<void> {
  await (await ctx.client()).deleteTopic(ns, name);
  if (ctx.out.json) ctx.out.jsonResult({ ok: true, namespace: ns, topic: name });
  else ctx.out.done(`topic ${ns}/${name} deleted`);
}

export async function topicList(ctx: Ctx, ns: string): Promise<void> {
  const topics = (await (await ctx.client()).listTopics(ns)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (ctx.out.json) return ctx.out.jsonResult(topics.map((t) => ({ name: t.name, queue_count: t.queueCount, version: t.version, paused: t.paused })));
  if (topics.length === 0 && ctx.out.tty) return ctx.out.note(`no topics in ${ns}`);
  ctx.out.table(
    [{ header: 'TOPIC' }, { header: 'QUEUES', align: 'right' }, { header: 'VERSION', align: 'right' }],
    topics.map((t) => [t.name, String(t.queueCount), String(t.version)]),
  );
}

export async function topicResize(ctx: Ctx, ns: string, name: string, count: number): Promise<void> {
  const r = await (await ctx.client()).resizeTopic(ns, name, count);
  if (ctx.out.json) return ctx.out.jsonResult({ ok: true, new_queue_count: r.newQueueCount, version: r.version, draining: r.draining });
  const queues = `${r.newQueueCount} queue${r.newQueueCount === 1 ? '' : 's'}`;
  if (r.draining) {
    // A shrink completes later: the version moves when the removed queues are drained.
    ctx.out.done(`topic ${ns}/${name} shrinking to ${queues}: the removed queues drain first (version ${r.version} until then)`);
  } else ctx.out.done(`topic ${ns}/${name} resized to ${queues} (version ${r.version})`);
}

export async function topicRebalance(ctx: Ctx, ns: string, name: string): Promise<void> {
  await (await ctx.client()).rebalanceTopic(ns, name);
  if (ctx.out.json) ctx.out.jsonResult({ ok: true, namespace: ns, topic: name });
  else ctx.out.done(`topic ${ns}/${name} rebalanced`);
}

/** docs/DESIGN.md, "Pause": publishes accepted, deliveries held until `topic resume`. */
export async function topicPause(ctx: Ctx, ns: string, name: string): Promise<void> {
  await (await ctx.client()).pauseTopic(ns, name);
  if (ctx.out.json) ctx.out.jsonResult({ ok: true, namespace: ns, topic: name, paused: true });
  else ctx.out.done(`topic ${ns}/${name} paused: publishes are accepted, nothing is delivered until \`topic resume ${ns} ${name}\``);
}

export async function topicResume(ctx: Ctx, ns: string, name: string): Promise<void> {
  await (await ctx.client()).resumeTopic(ns, name);
  if (ctx.out.json) ctx.out.jsonResult({ ok: true, namespace: ns, topic: name, paused: false });
  else ctx.out.done(`topic ${ns}/${name} resumed: deliveries go on in order`);
}

/**
 * docs/DESIGN.md, "Purge": the pending and delayed messages of one queue,
 * of every queue (no queue given), or of the dead-letter queue (`dlq`, -1).
 * In-flight messages stay.
 */
export async function purge(ctx: Ctx, ns: string, topic: string, queue: number | undefined): Promise<void> {
  const dlq = queue === -1;
  const purged = await (await ctx.client()).purge(ns, topic, dlq ? { dlq } : { queueId: queue });
  if (ctx.out.json) return ctx.out.jsonResult({ ok: true, purged });
  const where = dlq ? `the dead-letter queue of ${ns}/${topic}` : queue === undefined ? `every queue of ${ns}/${topic}` : `${ns}/${topic} queue ${queue}`;
  ctx.out.done(`purged ${purged} message${purged === 1 ? '' : 's'} from ${where} (in-flight messages are kept)`);
}
