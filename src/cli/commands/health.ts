/** `health`: GET /health over HTTP; a round trip (list namespaces) over TCP and gRPC, which have no health call. */
import { performance } from 'node:perf_hooks';
import type { MqliteClient } from '../../client/types.js';
import type { Ctx } from '../context.js';
import { CommandFailure } from '../errors.js';
import { endpointOf, hostPort } from '../session.js';

/** The HTTP client's `GET /health`; the other protocols have no such call. */
function hasHealth(client: MqliteClient): client is MqliteClient & { health(): Promise<{ status: string }> } {
  return typeof (client as { health?: unknown }).health === 'function';
}

export async function health(ctx: Ctx): Promise<void> {
  const e = endpointOf(ctx.g);
  const started = performance.now();
  const client = await ctx.client();
  const status = hasHealth(client) ? (await client.health()).status : (await client.listNamespaces(), 'ok');
  const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
  const address = hostPort(e.host, e.port);
  if (status !== 'ok') throw new CommandFailure(`${address} answers status ${status}`, 'UNHEALTHY');
  if (ctx.out.json) ctx.out.jsonResult({ status, proto: e.proto, address, latency_ms: latencyMs });
  else ctx.out.done(`${status}: ${e.proto} ${address} answered in ${latencyMs.toFixed(1)} ms`);
}
