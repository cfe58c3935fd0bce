/**
 * The neutral form of a conformance scenario and the runner that plays one
 * over one encoding. A scenario is written once: a namespace `$ns` of its
 * own (created first), optionally a topic `t` (`topic: N` queues), then
 * steps. Each step names an operation and its args in the proto's
 * snake_case shape, and the outcome every front must give.
 */
import { expect } from 'vitest';
import { Names, normalize } from './normalize.js';
import { type Args, type Encoding, type Fronts, type Op } from './wire.js';

export type Code = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'ALREADY_EXISTS' | 'FAILED_PRECONDITION' | 'RESOURCE_EXHAUSTED' | 'UNAVAILABLE';

export type Expect =
  /** `result`: the whole neutral answer; `match`: a part of it (toMatchObject); neither: only ok. */
  | { ok: true; result?: unknown; match?: unknown }
  | { ok: false; code: Code; messageIncludes?: string };

export interface Step {
  op: Op | 'sleep';
  args?: Args;
  /** Absent: the step must succeed, its answer is not compared (a setup step). */
  expect?: Expect;
  /** Why this is the expected answer, when the docs do not say it plainly. */
  note?: string;
}

export interface Scenario {
  name: string;
  /** Create topic `t` with this many queues before the steps. */
  topic?: number;
  steps: Step[];
  /**
   * Encodings that cannot express the scenario at all, with the reason
   * (for example an empty path segment over HTTP). Used sparingly.
   */
  cannotExpress?: Partial<Record<Encoding, string>>;
}

// ---------------------------------------------------------------- builders

export const ok = (result?: unknown): Expect => (result === undefined ? { ok: true } : { ok: true, result });
export const okLike = (match: unknown): Expect => ({ ok: true, match });
export const fail = (code: Code, messageIncludes?: string): Expect => ({ ok: false, code, messageIncludes });

export const step = (op: Op, args: Args = {}, expectation?: Expect, note?: string): Step => ({ op, args, expect: expectation, note });
export const sleep = (ms: number): Step => ({ op: 'sleep', args: { ms } });

/** The defaults of a fresh topic (src/server/http/README.md, "Nack, retries and the dead-letter queue"; src/server/tcp/README.md, "Queue features"). */
export const DEFAULT_POLICY = {
  max_retries: -1,
  retry_base_ms: 1000,
  retry_cap_ms: 60000,
  dedup_window_ms: 3600000,
  ack_timeout_ms: 0,
  message_ttl_ms: 0,
  dead_letter_expired: false,
};

/** A step's args with the scenario's namespace and topic filled in where the op takes them and the step left them out. */
function withDefaults(op: Op, args: Args): Args {
  const out: Args = { ...args };
  const put = (k: string, v: string): void => {
    if (!(k in out)) out[k] = v;
  };
  switch (op) {
    case 'create_namespace':
    case 'delete_namespace':
      put('name', '$ns');
      break;
    case 'list_namespaces':
      break;
    case 'list_topics':
      put('namespace', '$ns');
      break;
    case 'create_topic':
    case 'delete_topic':
    case 'resize_topic':
    case 'rebalance_topic':
      put('namespace', '$ns');
      put('name', 't');
      break;
    default:
      put('namespace', '$ns');
      put('topic', 't');
  }
  return out;
}

let runs = 0;
const ENC_LETTER: Record<Encoding, string> = { 'tcp-json': 'j', 'tcp-protobuf': 'p', http: 'h', grpc: 'g' };

/** A fresh namespace name of fixed length 6 (`$ns`), so scenarios can build names of exact lengths. */
function freshNamespace(enc: Encoding): string {
  runs++;
  const n = runs.toString(36).padStart(4, '0');
  if (n.length > 4) throw new Error('more scenario runs than fresh namespace names of 6 characters');
  return `c${n}${ENC_LETTER[enc]}`;
}
export const NS_LENGTH = 6;

/** One step's outcome in neutral form, for comparing encodings with each other. */
export type Outcome = { op: string; ok: true; result: unknown } | { op: string; ok: false; code: string };

/**
 * Plays `s` over `enc`, asserting each step's outcome, and pushes each
 * outcome on `transcript` (before asserting it, so a failed step is there too).
 */
export async function play(fronts: Fronts, enc: Encoding, s: Scenario, transcript: Outcome[] = []): Promise<void> {
  const names = new Names(freshNamespace(enc));
  const setup: Step[] = [step('create_namespace')];
  if (s.topic !== undefined) setup.push(step('create_topic', { queue_count: s.topic }));
  const all = [...setup, ...s.steps];
  for (let i = 0; i < all.length; i++) {
    const st = all[i]!;
    const where = `step ${i - setup.length + 1} (${st.op}${st.note ? `; ${st.note}` : ''}) over ${enc}`;
    if (st.op === 'sleep') {
      await new Promise((r) => setTimeout(r, Number(st.args?.ms)));
      continue;
    }
    const args = names.resolve(withDefaults(st.op, st.args ?? {}));
    const raw = await fronts.send(enc, st.op, args);
    const want = st.expect ?? { ok: true };
    if (!raw.ok) {
      // HTTP's 409 stands for two codes: take the one expected when it is among them.
      const code = raw.codes.length === 1 ? raw.codes[0]! : !want.ok && raw.codes.includes(want.code) ? want.code : raw.codes.join('|');
      transcript.push({ op: st.op, ok: false, code });
      const got = `${raw.codes.join('|')}: ${names.text(raw.message)}`;
      expect(want.ok, `${where}: expected success, got ${got}  [wire: ${names.text(raw.wire)}]`).toBe(false);
      if (want.ok) return;
      expect(raw.codes, `${where}: expected ${want.code}, got ${got}`).toContain(want.code);
      if (want.messageIncludes) expect(names.text(raw.message), `${where}: the reason`).toContain(want.messageIncludes);
      continue;
    }
    const result = normalize(st.op, enc, raw.data, names);
    transcript.push({ op: st.op, ok: true, result });
    if (!want.ok) {
      expect.fail(`${where}: expected ${want.code}, got success ${JSON.stringify(result)}`);
      return;
    }
    const got = `${where}: the answer ${JSON.stringify(result)}`;
    if (want.result !== undefined) expect(result, got).toEqual(want.result);
    if (want.match !== undefined) expect(result, got).toMatchObject(want.match as object);
  }
}
