/**
 * Arbitraries of JSON commands for the JSON surfaces (TCP encoding 0, HTTP
 * bodies): a well-formed command of every request type, built from the
 * proto descriptors (JSON field names are the proto's snake_case names),
 * then mutated: fields set to values of every other type, removed or
 * added, huge numbers, deep nesting, unicode, and byte-level damage of the
 * text.
 */
import { type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { type Mutation, aimed, mutate, mutationArb, nameArb } from './harness.js';

/** Values of every JSON type and at every edge a decoder may trip on. */
export const weirdJsonArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -0,
    -1,
    0.5,
    1e308,
    -1e308,
    2 ** 53 + 2,
    2 ** 64,
    -(2 ** 63),
    1e-300,
    '',
    '0',
    'true',
    'null',
    '\u0000',
    '\ud800',
    '💥'.repeat(50),
    [],
    {},
    [null],
    { '': '' },
    { __proto__: 1 },
    { constructor: 'x' },
  ),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.integer(),
  fc.double(),
);

function jsonScalarArb(t: ScalarType): fc.Arbitrary<unknown> {
  switch (t) {
    case ScalarType.STRING:
      return nameArb;
    case ScalarType.BYTES:
      return fc.jsonValue({ maxDepth: 2 });
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.double();
    default:
      return fc.oneof(fc.constantFrom(0, 1, -1, 2, 99, 100, 101, 16, 17, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1), fc.integer());
  }
}

function jsonFieldArb(f: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (f.fieldKind) {
    case 'scalar':
      return aimed(f.name, jsonScalarArb(f.scalar));
    case 'enum':
      return fc.oneof(fc.constantFrom('asc', 'desc', 'partial', 'atomic', 'ASC', ''), fc.integer({ min: -1, max: 3 }));
    case 'message':
      return depth < 2 ? jsonObjectArb(f.message, depth + 1) : fc.constant({});
    case 'list':
      return fc.array(f.listKind === 'scalar' ? jsonScalarArb(f.scalar) : f.listKind === 'message' && depth < 2 ? jsonObjectArb(f.message, depth + 1) : fc.constant({}), {
        maxLength: 4,
      });
    case 'map':
      return fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ maxLength: 12 }), { maxKeys: 10 });
  }
}

/** A JSON object with any subset of the message's fields (snake_case), each of its own type. */
export function jsonObjectArb(desc: DescMessage, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of desc.fields) fields[f.name] = jsonFieldArb(f, depth);
  return fc.record(fields, { requiredKeys: desc.fields.filter((f) => f.name === 'namespace' || f.name === 'topic').map((f) => f.name) }) as fc.Arbitrary<Record<string, unknown>>;
}

/**
 * The JSON field paths of a request message: its fields, and the fields of
 * the first elements of its lists of messages (`entries.0.payload`).
 * Payloads (bytes fields, any JSON value) come three times: they take any
 * value, so they are where depth and size go furthest.
 */
export function fieldPaths(desc: DescMessage, prefix = ''): string[] {
  const out: string[] = [];
  for (const f of desc.fields) {
    const path = `${prefix}${f.name}`;
    const times = f.fieldKind === 'scalar' && f.scalar === ScalarType.BYTES ? 3 : 1;
    for (let i = 0; i < times; i++) out.push(path);
    if (f.fieldKind === 'list' && f.listKind === 'message' && prefix === '') out.push(...fieldPaths(f.message, `${path}.0.`));
  }
  return out;
}

/** Nesting far past what a recursive walk survives, or a number literal past every range, at one of `paths`. */
export function extremeOpArb(paths: readonly string[]): fc.Arbitrary<JsonOp> {
  // a request without fields (list_namespaces) gets an extra, unknown one
  const path = fc.constantFrom(...(paths.length > 0 ? paths : ['extra']));
  return fc.oneof(
    { weight: 2, arbitrary: fc.record({ deep: path, depth: fc.integer({ min: 1000, max: 30_000 }), open: fc.constantFrom('[' as const, '{"a":' as const) }) },
    { weight: 1, arbitrary: fc.record({ bigNumber: path, digits: fc.integer({ min: 17, max: 400 }) }) },
  );
}

/** What is done to a command object before it is serialised. */
export type JsonOp =
  | { set: string; value: unknown }
  | { remove: string }
  | { dataIs: unknown }
  | { actionIs: unknown }
  | { requestIdIs: unknown }
  /** `key`'s value becomes `depth` nested arrays or objects (text, past what a recursive walk survives). */
  | { deep: string; depth: number; open: '[' | '{"a":' }
  /** `key`'s value becomes a number literal of `digits` digits. */
  | { bigNumber: string; digits: number }
  /** Every `"key":` of the text is written with a \\u escape (same JSON, unusual bytes). */
  | { escapeKey: string };

const MARK = '\u0001MARK\u0001';

/**
 * Ops on the keys given (dotted paths such as `entries.0.payload` reach
 * inside arrays and objects, creating them as needed) and on a few more.
 */
export function jsonOpArb(keys: readonly string[]): fc.Arbitrary<JsonOp> {
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...keys, 'payload', 'headers', 'queue_id', 'entries.0.payload', 'entries.1.headers', 'entries.0.queue_id') },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  );
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ set: key, value: weirdJsonArb }) },
    { weight: 2, arbitrary: fc.record({ remove: key }) },
    { weight: 1, arbitrary: fc.record({ dataIs: weirdJsonArb }) },
    { weight: 1, arbitrary: fc.record({ actionIs: weirdJsonArb }) },
    { weight: 1, arbitrary: fc.record({ requestIdIs: weirdJsonArb }) },
    { weight: 2, arbitrary: fc.record({ deep: key, depth: fc.integer({ min: 100, max: 30_000 }), open: fc.constantFrom('[' as const, '{"a":' as const) }) },
    { weight: 1, arbitrary: fc.record({ bigNumber: key, digits: fc.integer({ min: 17, max: 400 }) }) },
    { weight: 1, arbitrary: fc.record({ escapeKey: fc.constantFrom('payload', 'namespace', 'action', 'data', 'entries') }) },
  );
}

/** Serialises a TCP command after its ops (applied to its `data`), then damages the text's bytes (`textMutations`, possibly none). */
export function renderJson(cmd: Record<string, unknown>, ops: readonly JsonOp[], textMutations: readonly Mutation[]): Buffer {
  const root: Record<string, unknown> = { ...cmd, data: copyObject(cmd.data) };
  return render(root, root, 'data', ops, textMutations);
}

/** Serialises an HTTP body after its ops (applied to the body itself; `dataIs` replaces it), then damages its bytes. */
export function renderBody(body: unknown, ops: readonly JsonOp[], textMutations: readonly Mutation[]): Buffer {
  const holder: Record<string, unknown> = { body: copyObject(body) };
  return render(holder, undefined, 'body', ops, textMutations);
}

/** Sets `obj` at a dotted path (`entries.0.payload`), creating arrays and objects on the way (a copy of each, never the caller's). */
function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node: Record<string, unknown> = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = node[parts[i]!];
    const wantArray = /^\d+$/.test(parts[i + 1]!);
    const copy = Array.isArray(next) ? [...next] : next && typeof next === 'object' ? { ...next } : wantArray ? [] : {};
    node[parts[i]!] = copy;
    node = copy as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

function copyObject(v: unknown): unknown {
  return v && typeof v === 'object' && !Array.isArray(v) ? { ...(v as object) } : v;
}

/**
 * Applies `ops` to `holder[key]`; `root` (when given) is what is serialised
 * and takes `actionIs`/`requestIdIs`, else `holder[key]` is.
 */
function render(holder: Record<string, unknown>, root: Record<string, unknown> | undefined, key: string, ops: readonly JsonOp[], textMutations: readonly Mutation[]): Buffer {
  const subst: string[] = [];
  const escaped: string[] = [];
  for (const op of ops) {
    const v = holder[key];
    const data = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    if ('set' in op) {
      if (data) setPath(data, op.set, op.value);
    } else if ('remove' in op) {
      if (data) delete data[op.remove];
    } else if ('dataIs' in op) holder[key] = op.dataIs;
    else if ('actionIs' in op) (root ?? data ?? {})['action'] = op.actionIs;
    else if ('requestIdIs' in op) (root ?? data ?? {})['request_id'] = op.requestIdIs;
    else if ('deep' in op) {
      if (data) {
        setPath(data, op.deep, `${MARK}${subst.length}`);
        const close = op.open === '[' ? ']' : '}';
        subst.push(op.open.repeat(op.depth) + '1' + close.repeat(op.depth));
      }
    } else if ('escapeKey' in op) escaped.push(op.escapeKey);
    else if (data) {
      setPath(data, op.bigNumber, `${MARK}${subst.length}`);
      subst.push('9'.repeat(op.digits));
    }
  }
  let text = JSON.stringify(root ?? holder[key]) ?? '';
  subst.forEach((s, i) => {
    text = text.replace(JSON.stringify(`${MARK}${i}`), s);
  });
  for (const k of escaped) text = text.replaceAll(`"${k}":`, `"\\u${k.charCodeAt(0).toString(16).padStart(4, '0')}${k.slice(1)}":`);
  const bytes = Buffer.from(text, 'utf8');
  return textMutations.length === 0 ? bytes : Buffer.from(mutate(bytes, textMutations));
}

export const textMutationsArb = fc.oneof({ weight: 3, arbitrary: fc.constant([] as Mutation[]) }, { weight: 1, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) });
