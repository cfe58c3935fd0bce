/**
 * The one decoder of the JSON fronts (HTTP bodies, path and query values;
 * TCP JSON `data`): a JSON object to a command's request message, walking
 * the message's descriptor, so that a JSON field is read by the name and
 * type the proto gives it (docs/PROTOCOL.md, "Unset and zero values"):
 *
 * - `null` is absent (but for a payload, where it is a JSON value); an
 *   absent `optional` field is unset (undefined), any other absent field is
 *   the proto's zero value, unless the command lists it as required;
 * - int32 fields take integers in the int32 range, uint32 fields in
 *   0..2^32-1, int64 fields safe integers; enums take the value's name without its prefix (`"atomic"`,
 *   `"desc"`);
 * - a `bytes` field (a payload) takes any JSON value and stores its JSON
 *   text, or with `"payload_encoding": "base64"` beside it the bytes a
 *   base64 string holds (docs/PROTOCOL.md, "JSON surfaces");
 * - an unknown field is refused, naming it and the fields there are
 *   (docs/PROTOCOL.md, "Unknown fields"): a misspelt `queueid` must not
 *   publish round-robin as if it were absent.
 *
 * Only the shape is checked here: names, ranges and sizes are the core's to
 * judge. A shape error is a FieldError, which each front words in its own
 * style.
 */
import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { payloadFromJson } from '../json-payload.js';
import type { RequestOf, RequestSpec } from './command.js';
import { FieldKind as Kind, fieldKind, zeroValue } from './fields.js';

export type JsonObject = Record<string, unknown>;

/**
 * A field whose JSON value does not fit its type. `parent` names the
 * enclosing list element (`entries[1]`), `field` the field (undefined:
 * the element itself); `expected` says what fits.
 */
export class FieldError extends Error {
  override readonly name = 'FieldError';
  constructor(
    readonly parent: string | undefined,
    readonly field: string | undefined,
    readonly problem: 'missing' | 'type' | 'enum' | 'unknown',
    readonly expected: string,
    /** For `enum`: the enum and the value, `batch mode "some"`. */
    readonly value?: string,
  ) {
    super(`${[parent, field].filter((p) => p !== undefined).join('.')}: ${problem === 'missing' ? 'missing' : problem === 'unknown' ? 'unknown; the fields are' : 'must be'} ${expected}`);
  }

  /** For `unknown`: the field it looks like a misspelling of, if any (`queue_id` for `queueId`). */
  suggestion?: string;

  /** `entries[1].payload`, `headers.a`, or the element `entries[0]`. */
  get path(): string {
    return this.parent === undefined ? this.field! : this.field === undefined ? this.parent : `${this.parent}.${this.field}`;
  }
}

/** Where a `bytes` field's value comes from: by default its JSON text serialised again. */
export interface PayloadReader {
  /** `nested`: the field of a list element (a batch entry), not of the request. */
  payload(value: unknown, nested: boolean): Uint8Array;
}

export const JSON_TEXT: PayloadReader = { payload: (value) => payloadFromJson(value) };

interface FieldPlan {
  /** The proto (and JSON) name. */
  readonly name: string;
  /** The protobuf-es property. */
  readonly key: string;
  readonly kind: Kind;
  /** What it reads as when absent (and not required). */
  readonly zero: unknown;
  readonly required: boolean;
  /** What fits, for the error. */
  readonly expected: string;
  /** An enum's name in words (`batch mode`), for the error. */
  readonly label?: string;
  readonly enumValues?: ReadonlyMap<string, number>;
  readonly nested?: MessagePlan;
}

/** How to read one message: its fields, and an object of their zero values in order, cloned for each request. */
interface MessagePlan {
  readonly fields: readonly FieldPlan[];
  readonly template: Readonly<JsonObject>;
  /** The field names, for the refusal of an unknown one. */
  readonly names: string;
  /** The `bytes` field (the payload), which `payload_encoding` may qualify. */
  readonly bytesField: FieldPlan | undefined;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;

function kindOf(f: DescField): Kind {
  const kind = fieldKind(f);
  if (kind === undefined) throw new Error(`${f.parent.typeName}.${f.name}: no JSON reading for this field type`);
  return kind;
}

const EXPECTED: Readonly<Record<Kind, string>> = {
  [Kind.String]: 'a string',
  [Kind.Int32]: 'an integer',
  [Kind.Int64]: 'an integer',
  [Kind.Uint32]: 'an integer',
  [Kind.Bool]: 'true or false',
  [Kind.Bytes]: 'any JSON value',
  [Kind.Enum]: 'a string',
  [Kind.StringMap]: 'an object of string values',
  [Kind.StringList]: 'an array of strings',
  [Kind.MessageList]: 'an array of messages',
};

/** How an enum is named in the refusal of a value it does not have: as the core has always named it. */
const ENUM_LABEL: Readonly<Record<string, string>> = { 'mqlite.v1.BatchMode': 'batch mode' };

/** `BATCH_MODE_ATOMIC` -> `atomic`; the zero value (UNSPECIFIED) has no name: leave the field out. */
function enumValues(f: DescField & { fieldKind: 'enum' }): Map<string, number> {
  const names = new Map<string, number>();
  for (const v of f.enum.values) if (v.number !== 0) names.set(v.localName.toLowerCase(), v.number);
  return names;
}

function planOf(message: DescMessage, required: ReadonlySet<string>): MessagePlan {
  const fields = message.fields.map((f): FieldPlan => {
    const kind = kindOf(f);
    return {
      name: f.name,
      key: f.localName,
      kind,
      zero: zeroValue(f, kind),
      required: required.has(f.name),
      expected: EXPECTED[kind],
      enumValues: f.fieldKind === 'enum' ? enumValues(f) : undefined,
      label: f.fieldKind === 'enum' ? (ENUM_LABEL[f.enum.typeName] ?? f.name) : undefined,
      nested: f.fieldKind === 'list' && f.listKind === 'message' ? planOf(f.message, required) : undefined,
    };
  });
  const template: JsonObject = {};
  for (const f of fields) template[f.key] = f.zero;
  const bytesField = fields.find((f) => f.kind === Kind.Bytes);
  const names = fields.map((f) => f.name).concat(bytesField ? [PAYLOAD_ENCODING] : []).join(', ');
  return { fields, template, names, bytesField };
}

const plans = new WeakMap<RequestSpec, MessagePlan>();

function plan(spec: RequestSpec): MessagePlan {
  let p = plans.get(spec);
  if (p === undefined) plans.set(spec, (p = planOf(spec.request, new Set(spec.required))));
  return p;
}

/** The request of `spec` from a JSON object (a front puts its path and query values in it first). */
export function decodeJson<Req extends DescMessage>(spec: RequestSpec<Req>, obj: JsonObject, bytes: PayloadReader = JSON_TEXT): RequestOf<Req> {
  return decodeMessage(plan(spec), obj, bytes, undefined) as RequestOf<Req>;
}

function decodeMessage(plan: MessagePlan, obj: JsonObject, bytes: PayloadReader, parent: string | undefined): JsonObject {
  // Cloned, not built field by field: every request of a kind gets one shape at once.
  const out: JsonObject = { ...plan.template };
  let known = 0;
  const encoding = obj[PAYLOAD_ENCODING];
  if (encoding !== undefined && plan.bytesField !== undefined) known++;
  for (const f of plan.fields) {
    const v = obj[f.name];
    if (v !== undefined) known++;
    if (f.kind === Kind.Bytes && encoding !== undefined && v !== undefined) out[f.key] = base64Payload(f, v, encoding, parent);
    // A payload may be any JSON value, null too; for every other field null is absent.
    else out[f.key] = v === undefined || (v === null && f.kind !== Kind.Bytes) ? absent(f, parent) : present(f, v, bytes, parent);
  }
  // Every key a field of the message: as many keys as fields found (JSON.parse leaves no duplicate keys).
  let keys = 0;
  for (const k in obj) if (obj[k] !== undefined) keys++;
  if (keys !== known) throw unknownField(plan, obj, parent);
  return out;
}

/**
 * Beside a payload, `"payload_encoding": "base64"` says the payload is the
 * base64 of the bytes to store (docs/PROTOCOL.md, "JSON surfaces"), as the
 * JSON fronts show bytes that are not JSON: so any bytes can be published
 * over a JSON front, and `mqlite-cli pub @file` stores the file's bytes
 * whatever the protocol.
 */
const PAYLOAD_ENCODING = 'payload_encoding';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64Payload(f: FieldPlan, v: unknown, encoding: unknown, parent: string | undefined): Uint8Array {
  if (encoding !== 'base64') throw new FieldError(parent, PAYLOAD_ENCODING, 'enum', "'base64'", `payload_encoding ${JSON.stringify(encoding)}`);
  if (typeof v !== 'string' || v.length % 4 !== 0 || !BASE64.test(v)) throw new FieldError(parent, f.name, 'type', 'a base64 string (payload_encoding is base64)');
  return Buffer.from(v, 'base64');
}

/** `queueId`, `queueid`, `queue-id` all look like `queue_id`. */
const loose = (name: string): string => name.toLowerCase().replace(/[_-]/g, '');

function unknownField(plan: MessagePlan, obj: JsonObject, parent: string | undefined): FieldError {
  const name = Object.keys(obj).find((k) => obj[k] !== undefined && !plan.fields.some((f) => f.name === k) && !(k === PAYLOAD_ENCODING && plan.bytesField))!;
  const err = new FieldError(parent, name, 'unknown', plan.names);
  err.suggestion = plan.fields.find((f) => loose(f.name) === loose(name))?.name;
  return err;
}

function absent(f: FieldPlan, parent: string | undefined): unknown {
  if (f.required) throw new FieldError(parent, f.name, 'missing', f.expected);
  return f.zero;
}

function wrongType(f: FieldPlan, parent: string | undefined): FieldError {
  return new FieldError(parent, f.name, 'type', f.expected);
}

function present(f: FieldPlan, v: unknown, bytes: PayloadReader, parent: string | undefined): unknown {
  switch (f.kind) {
    case Kind.String:
      if (typeof v !== 'string') throw wrongType(f, parent);
      return v;
    case Kind.Int32:
      if (typeof v !== 'number' || !Number.isInteger(v)) throw wrongType(f, parent);
      if (v < INT32_MIN || v > INT32_MAX) throw new FieldError(parent, f.name, 'type', `an integer from ${INT32_MIN} to ${INT32_MAX}`);
      return v;
    case Kind.Int64:
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw wrongType(f, parent);
      return v;
    case Kind.Uint32:
      if (typeof v !== 'number' || !Number.isInteger(v)) throw wrongType(f, parent);
      if (v < 0 || v > UINT32_MAX) throw new FieldError(parent, f.name, 'type', `an integer from 0 to ${UINT32_MAX}`);
      return v;
    case Kind.Bool:
      if (typeof v !== 'boolean') throw wrongType(f, parent);
      return v;
    case Kind.Bytes:
      return bytes.payload(v, parent !== undefined);
    case Kind.Enum: {
      if (typeof v !== 'string') throw wrongType(f, parent);
      const n = f.enumValues!.get(v);
      if (n === undefined) throw new FieldError(parent, f.name, 'enum', [...f.enumValues!.keys()].map((k) => `'${k}'`).join(' or '), `${f.label} ${JSON.stringify(v)}`);
      return n;
    }
    case Kind.StringMap:
      if (typeof v !== 'object' || Array.isArray(v)) throw wrongType(f, parent);
      for (const k in v as JsonObject) if (typeof (v as JsonObject)[k] !== 'string') throw new FieldError(parent, `${f.name}.${k}`, 'type', 'a string');
      return v;
    case Kind.StringList:
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw wrongType(f, parent);
      return v;
    case Kind.MessageList:
      if (!Array.isArray(v)) throw wrongType(f, parent);
      return v.map((e: unknown, i) => {
        const at = `${f.name}[${i}]`;
        if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new FieldError(at, undefined, 'type', 'an object');
        return decodeMessage(f.nested!, e as JsonObject, bytes, at);
      });
  }
}
