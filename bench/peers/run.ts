/**
 * `npm run bench:peers`: MQLite against Redis 7 and NATS JetStream, in the
 * same run on the same machine.
 *
 * Two groups, one per MQLite fsync policy. Each starts an MQLite broker
 * (child process) at that policy, Redis at the same `appendfsync`, and, in
 * the everysec group, NATS JetStream (whose durability matches neither, see
 * nats.ts). For each workload, each round runs every system of the group
 * once, MQLite fronts alternating with the peers, so that machine noise hits
 * both sides; a figure is the median of the rounds.
 *
 * Options: --json (one JSON object on stdout), --write-docs (docs/bench/
 * peers.{md,svg,json}), --rounds N, --seconds S, --consume-count N,
 * --latency-samples N, --warmup-ops N, --no-install; to run a part of it (for a change's
 * before/after, not for the docs): --only-workloads push,publish_c1,
 * --only-fronts tcp, --only-groups always, --only-peers redis.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startServerProcess } from '../server-process.js';
import { progress } from '../stats.js';
import { FRONT_LABELS, mqliteSystem, type Front, type Fsync } from './mqlite.js';
import { natsSystem } from './nats.js';
import { binaryVersion, startNats, startRedis } from './processes.js';
import { redisSystem } from './redis.js';
import { ahead, advantage, LEGEND, ratioGrid, ratioSummaryGrid, renderMarkdown, renderText, svgChart, type Context, type Grid, type Row } from './report.js';
import type { BenchSystem } from './system.js';
import { WORKLOADS as ALL_WORKLOADS, oneInFlightWarmUp, type Settings, type Workload } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = here.endsWith(join('dist', 'bench', 'peers')) ? join(here, '..', '..', '..') : join(here, '..', '..');

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    'write-docs': { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '2' },
    'consume-count': { type: 'string', default: '100000' },
    'latency-samples': { type: 'string', default: '1000' },
    'warmup-ops': { type: 'string', default: '3000' },
    'only-workloads': { type: 'string' },
    'only-fronts': { type: 'string' },
    'only-groups': { type: 'string' },
    'only-peers': { type: 'string' },
  },
});
/** A comma-separated `--only-*` option as a filter over `all` (every one when absent); an unknown name is an error. */
function only<T extends string>(option: string, all: readonly T[]): readonly T[] {
  const given = args[option as 'only-workloads'];
  if (given === undefined) return all;
  const names = given.split(',').map((n) => n.trim());
  for (const n of names) {
    if (!all.includes(n as T)) {
      process.stderr.write(`bench:peers: --${option} ${n}: not one of ${all.join(', ')}\n`);
      process.exit(2);
    }
  }
  return all.filter((x) => names.includes(x));
}
const rounds = Number(args.rounds);
const settings: Settings = {
  seconds: Number(args.seconds),
  warmupSeconds: 0.5,
  warmupOps: Number(args['warmup-ops']),
  consumeCount: Number(args['consume-count']),
  latencySamples: Number(args['latency-samples']),
};
for (const [name, value] of Object.entries({ rounds, ...settings })) {
  if (!(value > 0)) {
    process.stderr.write(`bench:peers: --${name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} must be a positive number\n`);
    process.exit(2);
  }
}
const FRONTS: readonly Front[] = only<Front>('only-fronts', ['tcp', 'grpc', 'http']);
const GROUPS: readonly Fsync[] = only<Fsync>('only-groups', ['everysec', 'always']);
const SELECTED_IDS = only('only-workloads', ALL_WORKLOADS.map((w) => w.id));
const WORKLOADS = ALL_WORKLOADS.filter((w) => SELECTED_IDS.includes(w.id));
const PEERS = only('only-peers', ['redis', 'nats']);

/** Whatever was started, stopped in reverse order at the end, on an error, or on Ctrl-C. */
const cleanups: (() => Promise<void>)[] = [];
async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (err) {
      progress(`cleanup: ${(err as Error).message}`);
    }
  }
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    progress(`${signal}: stopping everything started`);
    void cleanUp().finally(() => process.exit(130));
  });
}

function installPeers(): void {
  const res = spawnSync('bash', [join(root, 'scripts', 'install-peers.sh')], { stdio: ['ignore', 2, 2] });
  if (res.status !== 0) throw new Error(`scripts/install-peers.sh failed (exit ${res.status})`);
}

/** Starts one group's brokers; the systems in their running order, MQLite fronts alternating with peers. */
async function startGroup(fsync: Fsync): Promise<BenchSystem[]> {
  const server = await startServerProcess({ fsync });
  // A crash that skips the cleanups must not leave the broker running either.
  const killOnExit = (): void => {
    try {
      process.kill(server.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  process.once('exit', killOnExit);
  cleanups.push(async () => {
    process.off('exit', killOnExit);
    await server.stop();
  });
  const mqlite: BenchSystem[] = [];
  for (const front of FRONTS) {
    const sys = await mqliteSystem(server, front, fsync, front === FRONTS[0]);
    cleanups.push(() => sys.close());
    mqlite.push(sys);
  }
  const peers: BenchSystem[] = [];
  if (PEERS.includes('redis')) {
    const redis = await startRedis(fsync);
    cleanups.push(() => redis.stop());
    const redisSys = await redisSystem(redis, fsync);
    cleanups.push(() => redisSys.close());
    peers.push(redisSys);
  }
  if (fsync === 'everysec' && PEERS.includes('nats')) {
    const nats = await startNats();
    cleanups.push(() => nats.stop());
    const natsSys = await natsSystem(nats);
    cleanups.push(() => natsSys.close());
    peers.push(natsSys);
  }
  const order: BenchSystem[] = [];
  for (let i = 0; i < Math.max(mqlite.length, peers.length); i++) {
    if (mqlite[i]) order.push(mqlite[i]!);
    if (peers[i]) order.push(peers[i]!);
  }
  return order;
}

/** runs[systemId][`${workload}.${metric}`] = one value per round */
const runs: Record<string, Record<string, number[]>> = {};
const described: Record<string, string> = {};

async function measure(sys: BenchSystem, workload: Workload, name: string, s: Settings): Promise<Record<string, number>> {
  const q = await sys.newQueue(name, workload.concurrency);
  try {
    return await workload.run(q, s, sys.serverPid);
  } finally {
    await q.drop();
  }
}

async function runGroup(fsync: Fsync): Promise<void> {
  progress(`[${fsync}] starting MQLite, ${PEERS.filter((p) => fsync === 'everysec' || p !== 'nats').join(', ')}`);
  const mark = cleanups.length;
  const systems = await startGroup(fsync);
  for (const sys of systems) {
    described[sys.id] = sys.describe;
    // Untimed: brings each system's JIT, connections and buffers to speed,
    // with many requests in flight and then with one (its own code paths).
    await measure(sys, ALL_WORKLOADS[1]!, `warm-${sys.id}`, { ...settings, seconds: 1 });
    await measure(sys, oneInFlightWarmUp, `warm1-${sys.id}`, settings);
  }
  for (const w of WORKLOADS) {
    for (let round = 1; round <= rounds; round++) {
      for (const sys of systems) {
        progress(`[${fsync}] ${w.id} round ${round}/${rounds}: ${sys.id}`);
        const result = await measure(sys, w, `${w.id}-${round}-${sys.id}`.replace(/[^a-z0-9-]/gi, '-'), settings);
        const bySystem = (runs[sys.id] ??= {});
        for (const m of w.metrics) (bySystem[`${w.id}.${m.key}`] ??= []).push(result[m.key]!);
      }
    }
  }
  while (cleanups.length > mark) await cleanups.pop()!();
}

/** JSON replacer: three decimals are plenty for msgs/s, ms and µs. */
const roundNumbers = (_key: string, v: unknown): unknown => (typeof v === 'number' ? Math.round(v * 1000) / 1000 : v);

function median(xs: readonly number[] | undefined): number {
  if (!xs || xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function buildRows(): Row[] {
  const rows: Row[] = [];
  for (const w of WORKLOADS) {
    for (const m of w.metrics) {
      if (m.diagnostic) continue;
      const key = `${w.id}.${m.key}`;
      for (const fsync of GROUPS) {
        const peerIds = fsync === 'everysec' ? [`redis.${fsync}`, 'nats'] : [`redis.${fsync}`];
        for (const front of FRONTS) {
          const mq = median(runs[`mqlite-${front}.${fsync}`]?.[key]);
          rows.push({
            workload: w.title,
            metric: m,
            front: FRONT_LABELS[front],
            fsync,
            mqlite: mq,
            peers: peerIds.map((id) => {
              const value = median(runs[id]?.[key]);
              return { peer: id === 'nats' ? 'NATS JetStream' : 'Redis', value, ratio: mq / value, matched: id !== 'nats' };
            }),
          });
        }
      }
    }
  }
  return rows;
}

/** Rows where MQLite is behind a peer of matched durability, worst first. */
function behindNotes(rows: readonly Row[]): string[] {
  const behind = rows.flatMap((r) =>
    r.peers.filter((c) => c.matched && Number.isFinite(c.ratio) && !ahead(r.metric, c.ratio)).map((c) => ({ r, c, adv: advantage(r.metric, c.ratio) })),
  );
  behind.sort((a, b) => a.adv - b.adv);
  return behind.map(({ r, c }) => {
    const pct = Math.round(Math.abs(c.ratio - 1) * 100);
    const what = r.metric.higherIsBetter ? `${pct}% fewer ${r.metric.label}` : `${pct}% more ${r.metric.label}`;
    return `${r.workload}, ${r.metric.label}, ${r.front}, ${r.fsync}: MQLite ${c.ratio.toFixed(2)}× ${c.peer} (${what})`;
  });
}

/** Broker and client CPU per published message: what bounds a front on two shared cores. */
function cpuGrid(): Grid {
  const keys = ['publish_c1.server_cpu_us', 'publish_c1.client_cpu_us', 'publish_c64.server_cpu_us', 'publish_c64.client_cpu_us'];
  const header = ['CPU µs per publish', 'server, 1 in flight', 'client, 1 in flight', 'server, 64 in flight', 'client, 64 in flight'];
  const body = Object.entries(runs).map(([id, byKey]) => [id, ...keys.map((k) => median(byKey[k]).toFixed(0))]);
  return { header, body, right: header.map((_, i) => i > 0) };
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function context(): Context & { versionsObj: Record<string, string> } {
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // Not a git checkout: the version alone.
  }
  const mqliteVersion = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const versionsObj = {
    mqlite: commit ? `${mqliteVersion} (${commit})` : mqliteVersion,
    'redis-server': binaryVersion('redis-server', /v=(\S+)/),
    'nats-server': binaryVersion('nats-server', /v(\d+\.\d+\.\d+)/),
    ioredis: packageVersion('ioredis'),
    'nats.js': packageVersion('nats'),
  };
  const cpu = cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: `${cpu.length} cores, ${cpu[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, ${platform()} ${release()}`,
    versions: Object.entries(versionsObj)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
    durability:
      'Redis: appendonly yes, appendfsync = the row\'s fsync. NATS JetStream: file storage, server defaults (no fsync setting in 2.9): hollow bars, not a durability match.',
    command: `npm run bench:peers (1 KiB payloads, median of ${rounds} rounds, ${settings.seconds} s per publish run, ${settings.consumeCount} consumed, ${settings.latencySamples} latency samples)`,
    versionsObj,
  };
}

/** What "matched durability" rests on; checked with strace while writing this benchmark, not on every run. */
const DURABILITY_NOTES = [
  'MQLite `always` and Redis `appendfsync always` both answer a write only after an fdatasync of the AOF, shared by the writes of one event-loop turn ' +
    '(strace here: 500 publishes one at a time, 500 fdatasync calls for each).',
  'MQLite `everysec` and Redis `appendfsync everysec` both answer once the record is written and fsync about once a second.',
  'NATS JetStream 2.9.10 with file storage has no fsync setting (`sync_interval` arrived in 2.10, whose documented default is 2 minutes); ' +
    'strace here saw no fsync at all during 500 publishes and the 2 s after. Its rows sit with `everysec` as the nearest, marked *: not a match.',
];

function markdownReport(rows: readonly Row[], ctx: Context): string {
  const behind = behindNotes(rows);
  return [
    '# MQLite against Redis and NATS JetStream',
    '',
    `Generated by \`npm run bench:peers -- --write-docs\` on ${ctx.date}.`,
    '',
    `- machine: ${ctx.machine}`,
    `- versions: ${ctx.versions}`,
    `- run: ${ctx.command}`,
    '',
    '![chart](peers.svg)',
    '',
    '## Summary: MQLite / peer',
    '',
    renderMarkdown(ratioSummaryGrid(rows)),
    '',
    LEGEND + '.',
    '',
    '## All figures (medians)',
    '',
    renderMarkdown(ratioGrid(rows)),
    '',
    LEGEND + '.',
    '',
    'CPU time per published message (broker process, all threads; and this load generator, whose client library is part of the cost):',
    '',
    renderMarkdown(cpuGrid()),
    '',
    '## Workloads',
    '',
    ...WORKLOADS.map((w) => `- **${w.title}**: ${w.description}.`),
    '',
    '## How each system runs the workloads',
    '',
    ...Object.entries(described).map(([id, d]) => `- \`${id}\`: ${d}`),
    '',
    '## Durability settings',
    '',
    ...DURABILITY_NOTES.map((n) => `- ${n}`),
    '',
    '## Rows where MQLite is behind a peer of matched durability',
    '',
    ...(behind.length ? behind.map((b) => `- ${b}`) : ['None.']),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  if (!args['no-install']) installPeers();
  const ctx = context();
  for (const fsync of GROUPS) await runGroup(fsync);
  const rows = buildRows();
  const results = Object.fromEntries(
    Object.entries(runs).map(([id, byKey]) => [id, Object.fromEntries(Object.entries(byKey).map(([k, v]) => [k, { median: median(v), runs: v }]))]),
  );
  const report = {
    date: ctx.date,
    machine: ctx.machine,
    versions: ctx.versionsObj,
    settings: { ...settings, rounds, payload_bytes: 1024 },
    systems: described,
    results,
    rows: rows.map((r) => ({
      workload: r.workload,
      metric: r.metric.key,
      unit: r.metric.unit,
      higher_is_better: r.metric.higherIsBetter,
      front: r.front,
      fsync: r.fsync,
      mqlite: r.mqlite,
      peers: r.peers,
    })),
    behind: behindNotes(rows),
  };
  if (args['write-docs']) {
    const dir = join(root, 'docs', 'bench');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'peers.md'), markdownReport(rows, ctx));
    writeFileSync(join(dir, 'peers.svg'), svgChart(rows, ctx));
    writeFileSync(join(dir, 'peers.json'), JSON.stringify(report, roundNumbers, 2) + '\n');
    progress(`wrote ${join('docs', 'bench')}/peers.{md,svg,json}`);
  }
  if (args.json) {
    process.stdout.write(JSON.stringify(report, roundNumbers) + '\n');
    return;
  }
  const out = [
    `${ctx.date}  ${ctx.machine}`,
    ctx.versions,
    '',
    renderText(ratioGrid(rows)),
    '',
    LEGEND,
    '',
    renderText(cpuGrid()),
    '',
    'behind a peer of matched durability:',
    ...(report.behind.length ? report.behind.map((b) => `  ${b}`) : ['  none']),
  ];
  process.stdout.write(out.join('\n') + '\n');
}

try {
  await main();
} catch (err) {
  // After Ctrl-C the measurement in flight fails as its brokers stop: not news.
  if (!interrupted) progress(`failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
