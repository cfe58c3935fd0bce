import { readFileSync } from 'node:fs';

/** Small helpers shared by the benchmarks. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export const progress = (msg: string): void => {
  process.stderr.write(`bench: ${msg}\n`);
};

/** CPU time (user + system, µs) a process has used, from /proc (Linux); NaN elsewhere. */
export function processCpuUs(pid: number): number {
  try {
    // Fields after the command name; utime and stime are the 12th and 13th, in clock ticks of 10 ms.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

export type PublishOne = () => Promise<unknown>;

/** Keeps `depth` publishes in flight until `ms` passed or `count` were sent; returns msgs/s. */
export async function pipelined(publish: PublishOne, opts: { ms?: number; count?: number; depth: number }): Promise<number> {
  const ms = opts.ms ?? Infinity;
  const count = opts.count ?? Infinity;
  const start = performance.now();
  let sent = 0;
  let done = 0;
  let inflight = 0;
  let stopped = false;
  await new Promise<void>((resolve, reject) => {
    const onDone = (): void => {
      inflight--;
      done++;
      if (!stopped) pump();
      else if (inflight === 0) resolve();
    };
    const pump = (): void => {
      while (inflight < opts.depth) {
        if (sent >= count || (sent % 128 === 0 && performance.now() - start >= ms)) {
          stopped = true;
          if (inflight === 0) resolve();
          return;
        }
        inflight++;
        sent++;
        publish().then(onDone, reject);
      }
    };
    pump();
  });
  return done / ((performance.now() - start) / 1000);
}
