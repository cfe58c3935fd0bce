/**
 * `npm run soak [-- options]`: holds many connections on every front for a
 * while under a steady publish rate, then checks that every publish the
 * broker answered ok was delivered at least once.
 *
 * By default it starts the built broker in a child process (AOF in a
 * temporary directory, fsync everysec); `--target HOST` runs against a
 * broker already running (ports from --tcp-port/--http-port/--grpc-port,
 * server RSS only with --pid).
 *
 * Every interval it prints published/s, delivered/s, errors, latency
 * (publish sent -> first delivery) p50/p99 for pushed and polled
 * deliveries, server RSS and open connections; at the end a summary, or
 * one JSON object with --json (interval lines then go to stderr). Exit
 * status: 0 when every answered publish was delivered and the server
 * lived; 1 otherwise; 2 for a wrong command line or too low a file limit.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/config.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { processCpuUs } from './stats.js';
import { LatencyHistogram } from './soak/histogram.js';
import { type Endpoints, type WorkloadPlan, Workload } from './soak/workload.js';

const USAGE = `usage: npm run soak -- [options]
  --duration 60s       how long to publish (e.g. 10m)
  --interval 10s       report period
  --rate 3000          publishes per second in all (a quarter each over TCP JSON, TCP protobuf, HTTP, gRPC)
  --tcp 1000           TCP connections: 10% publishers, 20% polling consumers, the rest subscribers (half JSON, half protobuf)
  --sse 200            SSE subscribers
  --grpc 200           gRPC Subscribe streams (one connection each)
  --http-pub 16        HTTP publishers   --grpc-pub 16   gRPC publishers
  --window 8           publishes in flight per publisher
  --size 256           payload bytes
  --push-queues 32     queues of the subscribed topic   --pull-queues 16   of the polled topic
  --pull-share 0.1     share of publishes that go to the polled topic
  --poll 500ms         wait of a consumer that found its queue empty
  --drain-timeout 60s  how long to wait at the end for undelivered messages
  --fsync everysec     AOF fsync policy of the broker started here
  --target HOST        use a running broker instead (--tcp-port 7070 --http-port 8080 --grpc-port 9090 [--pid PID])
  --json               one JSON object on stdout`;

function fail(message: string, code = 2): never {
  process.stderr.write(`soak: ${message}\n`);
  process.exit(code);
}

const { values: a } = (() => {
  try {
    return parseArgs({
      options: {
        duration: { type: 'string', default: '60s' },
        interval: { type: 'string', default: '10s' },
        rate: { type: 'string', default: '3000' },
        tcp: { type: 'string', default: '1000' },
        sse: { type: 'string', default: '200' },
        grpc: { type: 'string', default: '200' },
        'http-pub': { type: 'string', default: '16' },
        'grpc-pub': { type: 'string', default: '16' },
        window: { type: 'string', default: '8' },
        size: { type: 'string', default: '256' },
        'push-queues': { type: 'string', default: '32' },
        'pull-queues': { type: 'string', default: '16' },
        'pull-share': { type: 'string', default: '0.1' },
        poll: { type: 'string', default: '500ms' },
        'drain-timeout': { type: 'string', default: '60s' },
        fsync: { type: 'string', default: 'everysec' },
        target: { type: 'string' },
        'tcp-port': { type: 'string', default: '7070' },
        'http-port': { type: 'string', default: '8080' },
        'grpc-port': { type: 'string', default: '9090' },
        pid: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
})();
if (a.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const duration = (name: keyof typeof a): number => {
  const ms = parseDuration(a[name]);
  if (ms === undefined || ms <= 0) fail(`--${name} ${String(a[name])}: not a duration (e.g. 60s, 10m, 500ms)`);
  return ms;
};
const count = (name: keyof typeof a, min = 0): number => {
  const n = Number(a[name]);
  if (!Number.isInteger(n) || n < min) fail(`--${name} ${String(a[name])}: an integer >= ${min} is needed`);
  return n;
};
const durationMs = duration('duration');
const intervalMs = duration('interval');
const drainMs = duration('drain-timeout');
const rate = count('rate', 1);
const tcp = count('tcp');
const pullShare = Number(a['pull-share']);
if (!(pullShare >= 0 && pullShare <= 1)) fail(`--pull-share ${a['pull-share']}: a number from 0 to 1 is needed`);
if (!['always', 'everysec', 'no'].includes(a.fsync!)) fail(`--fsync ${a.fsync}: always, everysec or no`);
const json = a.json!;
const tcpPublishers = Math.max(2, Math.round(tcp * 0.1));
const tcpConsumers = pullShare > 0 ? Math.round(tcp * 0.2) : 0;
const plan: WorkloadPlan = {
  namespace: `soak-${process.pid}-${Date.now().toString(36)}`,
  pushTopic: 'push',
  pushQueues: count('push-queues', 1),
  pullTopic: 'pull',
  pullQueues: count('pull-queues', 1),
  pullShare: tcpConsumers > 0 ? pullShare : 0,
  tcpPublishers,
  tcpConsumers,
  tcpSubscribers: Math.max(0, tcp - tcpPublishers - tcpConsumers),
  sseSubscribers: count('sse'),
  grpcSubscribers: count('grpc'),
  httpPublishers: count('http-pub'),
  grpcPublishers: count('grpc-pub'),
  window: count('window', 1),
  payloadBytes: count('size', 16),
  pollMs: duration('poll'),
  resubscribe: true,
  timeoutMs: 30_000,
};

// ---- file descriptors: about two per connection on one machine ----

/** Soft and hard "Max open files" of a process, from /proc. */
function fileLimits(pid: number | 'self'): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const [soft, hard] = line!.replace('Max open files', '').trim().split(/\s+/);
    const n = (s: string | undefined): number => (s === 'unlimited' ? Infinity : Number(s));
    return { soft: n(soft), hard: n(hard) };
  } catch {
    return undefined;
  }
}

const clientSockets =
  tcp + plan.sseSubscribers * 2 + plan.grpcSubscribers + plan.httpPublishers * plan.window + plan.grpcPublishers + 2 + 64;
function checkFiles(who: string, pid: number | 'self', needed: number): void {
  const lim = fileLimits(pid);
  if (!lim || lim.soft >= needed) return;
  // Node raises its soft limit to the hard one at startup: only the hard limit can be short.
  fail(
    `${who} may open about ${needed} files (sockets) but its limit is ${lim.soft} (hard ${lim.hard}). ` +
      `Node already raises the soft limit to the hard one, so raise the hard limit: \`ulimit -Hn ${needed * 2}\` as root before npm run soak, ` +
      `or nofile in /etc/security/limits.conf; or lower --tcp/--sse/--grpc.`,
  );
}
checkFiles('this process', 'self', clientSockets);

// ---- the broker ----

const out = (line: string): void => void (json ? process.stderr : process.stdout).write(`${line}\n`);

let server: ServerProcess | undefined;
let serverPid: number | undefined;
let endpoints: Endpoints;
let serverDied = false;
let serverExit: number | null | undefined;
let stopping = false;
if (a.target !== undefined) {
  endpoints = { host: a.target, tcp: count('tcp-port', 1), http: count('http-port', 1), grpc: count('grpc-port', 1) };
  serverPid = a.pid === undefined ? undefined : count('pid', 1);
} else {
  out(`soak: starting the broker (fsync ${a.fsync})`);
  server = await startServerProcess({ fsync: a.fsync as 'always' | 'everysec' | 'no', }).catch((err: unknown) =>
    fail(`could not start the broker: ${(err as Error).message} (run npm run build first?)`, 1),
  );
  serverPid = server.pid;
  endpoints = { host: '127.0.0.1', ...server.ports };
  out(`soak: broker pid ${server.pid}, ports tcp ${server.ports.tcp} http ${server.ports.http} grpc ${server.ports.grpc}, data ${server.dataDir}`);
  void server.exitCode.then((code) => {
    serverExit = code;
    if (!stopping) {
      serverDied = true;
      out(`soak: the broker exited with code ${code} during the run`);
    }
  });
  checkFiles('the broker', server.pid, tcp + plan.sseSubscribers * 2 + plan.grpcSubscribers + plan.httpPublishers * plan.window + plan.grpcPublishers + 64);
}

function rssBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Open connections and subscriptions as the server counts them (GET /metrics). */
async function serverCounts(): Promise<Record<string, number> | undefined> {
  try {
    const res = await fetch(`http://${endpoints.host}:${endpoints.http}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const counts: Record<string, number> = {};
    for (const m of text.matchAll(/^mqlite_front_(connections|subscriptions)\{front="(\w+)"\} (\d+)$/gm)) counts[`${m[2]}_${m[1]}`] = Number(m[3]);
    return counts;
  } catch {
    return undefined;
  }
}

const ms = (v: number): string => (Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(0));
const mb = (b: number | undefined): string => (b === undefined ? '-' : `${(b / 1048576).toFixed(1)}MB`);

// ---- the run ----

const workload = new Workload(endpoints, plan);
Object.assign(plan, workload.plan);
const rss = { min: Infinity, max: 0, last: 0, samples: [] as { t: number; bytes: number }[] };
let lastCounts: Record<string, number> | undefined;
const started = performance.now();
const wallSeconds = (): number => Math.round((performance.now() - started) / 1000);

async function run(): Promise<void> {
  await workload.setup();
  out(
    `soak: opening ${tcp} TCP (${plan.tcpPublishers} publishers, ${plan.tcpSubscribers} subscribers, ${plan.tcpConsumers} consumers), ` +
      `${plan.sseSubscribers} SSE, ${plan.grpcSubscribers} gRPC streams, ${plan.httpPublishers} HTTP and ${plan.grpcPublishers} gRPC publishers`,
  );
  await workload.connect();
  out(`soak: connected in ${wallSeconds()} s; publishing ${rate} msgs/s for ${durationMs / 1000} s`);

  const t = workload.tracker;
  // CPU of each side and this process's event-loop delay tell whether the broker or the load generator is the limit.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let prev = { published: 0, delivered: 0, errors: 0, at: performance.now(), serverCpu: serverPid === undefined ? NaN : processCpuUs(serverPid), clientCpu: processCpuUs(process.pid) };
  const sample = async (label: string): Promise<void> => {
    const now = performance.now();
    const secs = (now - prev.at) / 1000;
    const bytes = rssBytes(serverPid);
    if (bytes !== undefined) {
      rss.min = Math.min(rss.min, bytes);
      rss.max = Math.max(rss.max, bytes);
      rss.last = bytes;
      rss.samples.push({ t: wallSeconds(), bytes });
    }
    lastCounts = (await serverCounts()) ?? lastCounts;
    const c = lastCounts;
    const conns = c ? `tcp ${c.tcp_connections ?? '-'} http ${c.http_connections ?? '-'} sse ${c.http_subscriptions ?? '-'} grpc-streams ${c.grpc_subscriptions ?? '-'}` : 'conns -';
    const serverCpu = serverPid === undefined ? NaN : processCpuUs(serverPid);
    const clientCpu = processCpuUs(process.pid);
    const pct = (cur: number, before: number): string => (Number.isNaN(cur - before) ? '-' : `${Math.round((cur - before) / 1e4 / secs)}%`);
    const cpu = `cpu broker ${pct(serverCpu, prev.serverCpu)} soak ${pct(clientCpu, prev.clientCpu)} (loop p99 ${ms(loop.percentile(99) / 1e6)} ms)`;
    loop.reset();
    out(
      `[${label.padStart(5)}] pub ${Math.round((t.published - prev.published) / secs)}/s  del ${Math.round((t.delivered - prev.delivered) / secs)}/s  ` +
        `err ${t.errorCount - prev.errors}  push p50 ${ms(t.push.interval.percentile(50))} p99 ${ms(t.push.interval.percentile(99))} ms  ` +
        `pull p50 ${ms(t.pull.interval.percentile(50))} p99 ${ms(t.pull.interval.percentile(99))} ms  rss ${mb(bytes)}  ${cpu}  ${conns}`,
    );
    t.push.interval.reset();
    t.pull.interval.reset();
    prev = { published: t.published, delivered: t.delivered, errors: t.errorCount, at: now, serverCpu, clientCpu };
  };

  workload.startPublishing(rate);
  const pubStart = performance.now();
  while (!serverDied && performance.now() - pubStart < durationMs) {
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, durationMs - (performance.now() - pubStart))));
    await sample(`${wallSeconds()}s`);
  }
  workload.stopPublishing();
  out('soak: publishing stopped; draining');
  const drainStart = performance.now();
  while (!serverDied && performance.now() - drainStart < drainMs && (workload.outstanding() > 0 || t.okDelivered < t.publishedOk)) {
    workload.flushAcks();
    await new Promise((r) => setTimeout(r, 100));
  }
  workload.flushAcks();
  await Promise.race([workload.idle(), new Promise((r) => setTimeout(r, 5000))]);
  await sample('drain');
}

let runError: Error | undefined;
try {
  await run();
} catch (err) {
  runError = err as Error;
  out(`soak: ${runError.message}`);
}
stopping = true;
await workload.close();
// A broker of someone else's keeps nothing of the run.
if (a.target !== undefined && !serverDied) {
  await workload.teardown().catch((err: unknown) => out(`soak: could not delete namespace ${plan.namespace}: ${(err as Error).message}`));
}
if (server && !serverDied) {
  await server.stop();
  serverExit = await server.exitCode;
}

// ---- the report ----

const t = workload.tracker;
const missing = t.missing(20);
const lat = (h: LatencyHistogram) => ({ p50: round3(h.percentile(50)), p99: round3(h.percentile(99)), max: round3(h.max), count: h.count });
const all = new LatencyHistogram();
all.add(t.push.total);
all.add(t.pull.total);
const summary = {
  duration_s: durationMs / 1000,
  rate_target: rate,
  plan: {
    tcp_publishers: plan.tcpPublishers,
    tcp_subscribers: plan.tcpSubscribers,
    tcp_consumers: plan.tcpConsumers,
    sse_subscribers: plan.sseSubscribers,
    grpc_streams: plan.grpcSubscribers,
    http_publishers: plan.httpPublishers,
    grpc_publishers: plan.grpcPublishers,
    payload_bytes: plan.payloadBytes,
    fsync: a.target === undefined ? a.fsync : 'server config',
  },
  published: t.published,
  published_ok: t.publishedOk,
  publish_errors: t.publishFailed,
  skipped_by_generator: workload.skipped,
  delivered: t.delivered,
  first_deliveries: t.firstDeliveries,
  duplicates: t.duplicates,
  acked_ok: t.ackedOk,
  errors: Object.fromEntries([...t.errors].sort((x, y) => y[1] - x[1])),
  latency_ms: { all: lat(all), push: lat(t.push.total), pull: lat(t.pull.total) },
  publish_rtt_ms: Object.fromEntries([...t.publishRtt].map(([k, h]) => [k, lat(h)])),
  server_rss_bytes: rss.samples.length > 0 ? { min: rss.min, max: rss.max, last: rss.last, samples: rss.samples } : null,
  server_connections_last: lastCounts ?? null,
  at_least_once: { ok: missing.count === 0, delivered: t.okDelivered, expected: t.publishedOk, missing: missing.count, missing_first: missing.first },
  server_died: serverDied,
  server_exit_code: serverExit ?? null,
  run_error: runError?.message ?? null,
};

function round3(v: number): number | null {
  return Number.isNaN(v) ? null : Math.round(v * 1000) / 1000;
}

if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
else {
  const p = (label: string, value: string): void => void process.stdout.write(`${label.padEnd(22)}${value}\n`);
  process.stdout.write('\nsummary\n');
  p('published', `${t.published} (ok ${t.publishedOk}, errors ${t.publishFailed}, skipped by the generator ${workload.skipped})`);
  p('delivered', `${t.delivered} (first ${t.firstDeliveries}, duplicates ${t.duplicates}); acked ok ${t.ackedOk}`);
  p('errors', t.errors.size === 0 ? '0' : [...t.errors].map(([k, v]) => `${k} x${v}`).join('; '));
  for (const [name, h] of [['latency push', t.push.total], ['latency pull', t.pull.total], ['latency all', all]] as const) {
    p(name, `p50 ${ms(h.percentile(50))} ms  p99 ${ms(h.percentile(99))} ms  max ${ms(h.max)} ms  (${h.count})`);
  }
  for (const [kind, h] of t.publishRtt) p(`publish rtt ${kind}`, `p50 ${ms(h.percentile(50))} ms  p99 ${ms(h.percentile(99))} ms  max ${ms(h.max)} ms`);
  p('server RSS', rss.samples.length > 0 ? `min ${mb(rss.min)}  max ${mb(rss.max)}  last ${mb(rss.last)}` : 'unknown (give --pid with --target)');
  if (lastCounts) p('server connections', Object.entries(lastCounts).map(([k, v]) => `${k} ${v}`).join(', '));
  p(
    'at-least-once',
    missing.count === 0
      ? `OK (${t.okDelivered}/${t.publishedOk} delivered)`
      : `MISSING ${missing.count} of ${t.publishedOk} answered ok (first seqs: ${missing.first.join(', ')})`,
  );
  if (serverExit !== undefined) p('server exit', String(serverExit));
  if (serverDied) p('server', `DIED during the run; its AOF is kept in ${server?.dataDir ?? '?'}`);
}
process.exit(missing.count === 0 && !serverDied && runError === undefined && t.publishedOk > 0 ? 0 : 1);
