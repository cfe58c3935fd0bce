/**
 * `aof check|fix <dir>` work on the files of a stopped broker (docs/DESIGN.md,
 * "Durability contract (the AOF)": a bad record in the middle stops startup unless the
 * operator repairs it); `aof rewrite` asks a running broker to compact now,
 * through the HTTP admin route whatever --proto is.
 */
import { existsSync } from 'node:fs';
import type { AofCheckReport, AofFixReport } from '../../aof/check.js';
import { ClientError } from '../../client/types.js';
import type { Ctx } from '../context.js';
import { CommandFailure, UsageError } from '../errors.js';
import { httpBaseUrl, tlsOf } from '../session.js';

const REWRITE_TIMEOUT_MS = 10 * 60_000;

export interface AofOptions {
  filename?: string;
  yes?: boolean;
  force?: boolean;
}

const lockModule = (): Promise<typeof import('../../aof/dir-lock.js')> => import('../../aof/dir-lock.js');

/** A running broker's AOF is not for check or fix (docs/DESIGN.md, "One broker per AOF directory"), unless forced. */
function inUse(dir: string, h: { pid: number; host: string; since: string }, verb: string): CommandFailure {
  return new CommandFailure(
    `${dir} belongs to a running broker (pid ${h.pid} on ${h.host}, since ${h.since}): stop it before you ${verb} its AOF, ` +
      `or pass --force to ${verb} it anyway${verb === 'fix' ? ' (the broker keeps appending to what you cut)' : ' (records it is writing may show as a torn tail)'}`,
    'AOF_IN_USE',
  );
}

/** The AOF modules, loaded only by the commands that read files. */
const aofModule = (): Promise<typeof import('../../aof/check.js')> => import('../../aof/check.js');

async function check(dir: string, filename: string | undefined): Promise<AofCheckReport> {
  try {
    return await (await aofModule()).checkAof(dir, filename);
  } catch (err) {
    throw new CommandFailure((err as Error).message, 'NO_AOF');
  }
}

function reportJson(r: AofCheckReport | AofFixReport): Record<string, unknown> {
  return {
    ok: r.firstBad === undefined,
    dir: r.dir,
    manifest: r.manifest,
    records: r.records,
    files: r.files.map((f) => ({ name: f.name, type: f.type, bytes: f.bytes, records: f.records })),
    first_bad:
      r.firstBad === undefined
        ? null
        : { file: r.firstBad.file, offset: r.firstBad.offset, reason: r.firstBad.reason, torn_tail: r.firstBad.tornTail },
  };
}

function printFiles(ctx: Ctx, r: AofCheckReport): void {
  ctx.out.table(
    [{ header: 'FILE' }, { header: 'TYPE' }, { header: 'BYTES', align: 'right' }, { header: 'RECORDS', align: 'right' }],
    r.files.map((f) => [f.name, f.type, String(f.bytes), String(f.records)]),
  );
}

function badLine(r: AofCheckReport): string {
  const b = r.firstBad!;
  return `bad record in ${b.file} at byte ${b.offset}: ${b.reason}${b.tornTail ? ' (a torn tail: startup cuts it by itself)' : ''}`;
}

/** Exit 0 when every record is good, 1 when a bad record (torn tail included) is found. */
export async function aofCheck(ctx: Ctx, dir: string, opts: AofOptions): Promise<void> {
  if (!opts.force) {
    const holder = (await lockModule()).liveHolder(dir);
    if (holder !== undefined) throw inUse(dir, holder, 'check');
  }
  const r = await check(dir, opts.filename);
  if (ctx.out.json) ctx.out.jsonResult(reportJson(r));
  else {
    printFiles(ctx, r);
    if (r.firstBad === undefined) ctx.out.done(`AOF ok: ${r.records} records in ${r.files.length} file${r.files.length === 1 ? '' : 's'}`);
  }
  if (r.firstBad !== undefined) {
    throw new CommandFailure(`${badLine(r)}; ${r.records} good records before it (run 'mqlite-cli aof fix ${dir}' to cut there)`, 'AOF_DAMAGED');
  }
}

export async function aofFix(ctx: Ctx, dir: string, opts: AofOptions): Promise<void> {
  if (opts.force || !existsSync(dir)) return fixUnlocked(ctx, dir, opts); // a missing directory is reported by the check
  // Held while fixing, so that no broker starts on the files being cut.
  const { DirLockedError, lockDir } = await lockModule();
  let lock;
  try {
    lock = lockDir(dir);
  } catch (err) {
    if (err instanceof DirLockedError) throw inUse(dir, err.holder, 'fix');
    throw err;
  }
  try {
    await fixUnlocked(ctx, dir, opts);
  } finally {
    lock.release();
  }
}

async function fixUnlocked(ctx: Ctx, dir: string, opts: AofOptions): Promise<void> {
  const filename = opts.filename;
  const before = await check(dir, filename);
  if (before.firstBad === undefined) {
    if (ctx.out.json) ctx.out.jsonResult({ ...reportJson(before), repaired: null });
    else ctx.out.done(`AOF ok: ${before.records} records, nothing to fix`);
    return;
  }
  const bad = before.firstBad;
  if (!opts.yes) {
    ctx.out.warn(badLine(before));
    ctx.out.warn(`fixing keeps the ${before.records} records before it and drops everything from there on (later files are renamed *.dropped)`);
    const answer = await ctx.session.ask(`truncate ${bad.file} at byte ${bad.offset}? [y/N] `);
    if (answer === undefined) throw new UsageError('nobody to confirm the repair (stdin is not a terminal): run again with --yes');
    if (!/^y(es)?$/i.test(answer.trim())) throw new CommandFailure('not confirmed; nothing was changed', 'ABORTED');
  }
  const r: AofFixReport = await (await aofModule()).fixAof(dir, filename);
  const rep = r.repaired;
  if (ctx.out.json) {
    return ctx.out.jsonResult({
      ...reportJson(r),
      repaired:
        rep === undefined
          ? null
          : { file: rep.file, truncated_at: rep.truncatedAt, dropped_bytes: rep.droppedBytes, dropped_files: rep.droppedFiles },
    });
  }
  printFiles(ctx, r);
  if (rep !== undefined) {
    ctx.out.done(
      `cut ${rep.file} at byte ${rep.truncatedAt} (${rep.droppedBytes} bytes dropped` +
        (rep.droppedFiles.length > 0 ? `, ${rep.droppedFiles.length} later file${rep.droppedFiles.length === 1 ? '' : 's'} set aside as *.dropped` : '') +
        `); ${r.records} records kept`,
    );
  }
  if (r.firstBad !== undefined) throw new CommandFailure(`still damaged after the fix: ${badLine(r)}`, 'AOF_DAMAGED');
}

/** `POST /v1/admin/aof/rewrite` on the HTTP front (answers once the rewrite is done). */
export async function aofRewrite(ctx: Ctx): Promise<void> {
  const url = `${httpBaseUrl(ctx.g)}/v1/admin/aof/rewrite`;
  // node:http(s) rather than fetch: it takes the --ca and client certificate of a TLS broker.
  const { NodeHttpTransport } = await import('../../client/http/transport.js');
  const transport = new NodeHttpTransport(url, ctx.g.apiKey !== undefined ? { 'x-api-key': ctx.g.apiKey } : {}, tlsOf(ctx.g));
  let res: { status: number; text: string };
  try {
    // The route answers when the rewrite is done, which takes a while on a big AOF.
    res = await transport.request('POST', url, undefined, ctx.g.timeout ?? REWRITE_TIMEOUT_MS);
  } catch (err) {
    throw new ClientError('TRANSPORT', `POST ${url}: ${(err as Error).message}`);
  } finally {
    transport.close();
  }
  const text = res.text;
  let env: { success?: boolean; message?: string; data?: { records?: number; bytes?: number; seconds?: number } } = {};
  try {
    env = JSON.parse(text) as typeof env;
  } catch {
    // Reported below with the status.
  }
  if (res.status < 200 || res.status > 299 || env.success !== true) {
    const reason = env.message ?? (res.status === 404 ? 'this broker has no AOF rewrite route (is persistence enabled?)' : text.slice(0, 200));
    const code = { 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 503: 'UNAVAILABLE' }[res.status] ?? `HTTP_${res.status}`;
    throw new ClientError(code, reason);
  }
  const d = env.data ?? {};
  if (ctx.out.json) return ctx.out.jsonResult({ ok: true, records: d.records, bytes: d.bytes, seconds: d.seconds });
  const seconds = typeof d.seconds === 'number' ? d.seconds.toFixed(3) : '?';
  ctx.out.done(`AOF rewritten: ${d.records ?? '?'} records, ${d.bytes ?? '?'} bytes in ${seconds} s`);
}
