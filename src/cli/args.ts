/**
 * Parsers for option and argument values. They throw commander's
 * InvalidArgumentError, which commander reports as a usage error naming the
 * option (exit 2).
 */
import { InvalidArgumentError } from 'commander';
import { UsageError } from './errors.js';

/** An integer in [min, max]. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string): number => {
    const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}` : `expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/**
 * A duration: Go-style (`5s`, `1m30s`, `500ms`), or 0; a bare number is
 * refused, as in the config (docs/DESIGN.md, "Configuration
 * (config.yaml)"). Async because the config module that owns the parser
 * (and loads the YAML library) is only loaded when a duration is given,
 * which keeps every other command's startup short.
 */
export async function parseDurationOption(option: string, value: string, opts: { allowZero?: boolean } = {}): Promise<number> {
  const { durationHint, parseDuration } = await import('../config.js');
  const ms = parseDuration(value);
  if (ms === undefined || ms < 0 || (ms === 0 && !opts.allowZero)) {
    const expected = ms === 0 ? 'a duration above 0 such as 5s or 500ms' : durationHint(value);
    throw new UsageError(`option '${option}' argument '${value}' is invalid: expected ${expected}`);
  }
  return ms;
}

/** An optional duration option's value in ms (see parseDurationOption). */
export async function optionalDuration(option: string, value: string | undefined, opts: { allowZero?: boolean } = {}): Promise<number | undefined> {
  return value === undefined ? undefined : parseDurationOption(option, value, opts);
}

/**
 * A duration as parseDurationOption reads it back: hours, minutes,
 * seconds and milliseconds, largest first (`1h30m`, `1s500ms`, `0s`).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  let rest = Math.round(ms);
  let text = '';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) text += `${n}${unit}`;
    rest -= n * size;
  }
  return text;
}

/** `--deliver-at`: an ISO 8601 time (a zone is advised; without one it is local time), as Unix ms. */
export function timeArg(value: string): number {
  const ms = /\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(`expected an ISO 8601 time such as 2026-05-01T12:00:00Z, got '${value}'`);
  return ms;
}

/** `true` or `false` (also yes/no, on/off), else a usage error. */
export function booleanArg(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === 'yes' || v === 'on') return true;
  if (v === 'false' || v === 'no' || v === 'off') return false;
  throw new InvalidArgumentError(`expected true or false, got '${value}'`);
}

/** An int32 on the wire; its range of meaning is the broker's to check. */
export function int32Arg(value: string): number {
  return intArg(-(2 ** 31), 2 ** 31 - 1)(value);
}

/** `-H key=value`, repeatable: collects into one record. */
export function headerArg(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got '${value}'`);
  return { ...(previous ?? {}), [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** A queue id argument (positional): an integer >= 0, else a usage error. */
export function queueIdArg(value: string): number {
  return intArg(0, 2 ** 31 - 1)(value);
}

/**
 * The queue of in-flight messages (ack, nack, renew): a queue id, or `dlq`
 * (also -1) for messages consumed from the dead-letter queue.
 */
export function leaseQueueArg(value: string): number {
  if (value === 'dlq' || value === '-1') return -1;
  try {
    return queueIdArg(value);
  } catch {
    throw new InvalidArgumentError('expected a queue id (an integer >= 0), or dlq (also -1) for messages consumed from the dead-letter queue');
  }
}

/**
 * Splits a REPL line into words the way a POSIX shell would for plain
 * words: whitespace separates, '...' is literal, "..." honours \" and \\,
 * and a backslash outside quotes escapes the next character.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new UsageError('unterminated single quote');
      word += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new UsageError('unterminated double quote');
        const d = line[i]!;
        if (d === '"') break;
        if (d === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          word += line[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      i++;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[i + 1];
      i += 2;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
