/**
 * Protobuf bodies (encoding 1), docs/PROTOCOL.md "Protobuf commands": a
 * command is a `TCPCommand`, a reply a `TCPResponse` whose `data` case has
 * the field number of the command's case (publish 16 -> publish_response
 * 16). The `data` case is the action's request message, the same one gRPC
 * carries, and the command table maps it.
 *
 * `action` names the command; when it is empty the `data` case does. proto3
 * cannot tell a missing field from a default one, so a command without
 * `data` runs with default arguments and the core rejects what is invalid
 * (an empty name...).
 *
 * The requests of the original contract (create_namespace ... ack) are the
 * hot path: read straight from the frame by a reader planned from their
 * descriptors (flat messages of strings, varints, bytes, string maps and
 * string lists), with no protobuf-es message in between. The extensions are
 * decoded by protobuf-es.
 */
import { type DescField, type DescMessage, fromBinary } from '@bufbuild/protobuf';
import { FieldKind as Kind, NO_ITEMS, fieldKind, zeroValue } from '../commands/fields.js';
import { isBrokerError } from '../../broker/errors.js';
import { ProtoDecodeError, ProtoReader, WIRE_LEN, WIRE_VARINT } from '../../protocol/proto-wire.js';
import { DATA_FIELD, type TcpAction } from '../../protocol/tcp-actions.js';
import { type TcpOp, opOfAction } from './actions.js';
import { CommandError } from './errors.js';
import type { TcpRequest } from './json-codec.js';

const ACTION_OF_FIELD: (TcpAction | undefined)[] = [];
for (const [action, field] of Object.entries(DATA_FIELD)) ACTION_OF_FIELD[field] = action as TcpAction;

/** The actions of the original contract, read by the planned reader. */
const HOT: ReadonlySet<TcpAction> = new Set<TcpAction>([
  'create_namespace',
  'delete_namespace',
  'list_namespaces',
  'create_topic',
  'delete_topic',
  'list_topics',
  'resize_topic',
  'rebalance_topic',
  'publish',
  'consume',
  'subscribe',
  'ack',
]);

interface FieldRead {
  readonly key: string;
  readonly kind: Kind;
}

/** A flat request message: what to do with each tag, and the fields' zero values. */
interface Plan {
  readonly byTag: readonly (FieldRead | undefined)[];
  readonly zero: Readonly<Record<string, unknown>>;
}


/** The wire type each kind of flat field travels as (an enum is a varint). */
function wireOf(f: DescField): { kind: Kind; wire: number } {
  const kind = fieldKind(f);
  switch (kind) {
    case Kind.String:
    case Kind.Bytes:
    case Kind.StringMap:
    case Kind.StringList:
      return { kind, wire: WIRE_LEN };
    case Kind.Int32:
    case Kind.Int64:
    case Kind.Uint32:
    case Kind.Bool:
      return { kind, wire: WIRE_VARINT };
    case Kind.Enum:
      return { kind: Kind.Int32, wire: WIRE_VARINT };
    default:
      throw new Error(`${f.parent.typeName}.${f.name} is not a flat field`);
  }
}

function planOf(message: DescMessage): Plan {
  const byTag: (FieldRead | undefined)[] = [];
  const zero: Record<string, unknown> = {};
  for (const f of message.fields) {
    const { kind, wire } = wireOf(f);
    byTag[(f.number << 3) | wire] = { key: f.localName, kind };
    zero[f.localName] = zeroValue(f, kind);
  }
  return { byTag, zero };
}

const plans = new Map<TcpOp, Plan>();
for (const action of HOT) {
  const op = opOfAction(action)!;
  plans.set(op, planOf(op.request));
}

/** The request, its strings decoded and its payload a view into the frame (the core copies it). */
function readFlat(r: ProtoReader, plan: Plan): Record<string, unknown> {
  const m: Record<string, unknown> = { ...plan.zero };
  const byTag = plan.byTag;
  while (!r.done) {
    const t = r.tag();
    const f = byTag[t];
    if (f === undefined) {
      r.skip(t & 7);
      continue;
    }
    switch (f.kind) {
      case Kind.String:
        m[f.key] = r.string();
        break;
      case Kind.Int32:
        m[f.key] = r.int32();
        break;
      case Kind.Int64:
        m[f.key] = r.int64Number();
        break;
      case Kind.Uint32:
        m[f.key] = r.uint32();
        break;
      case Kind.Bool:
        m[f.key] = r.bool();
        break;
      case Kind.Bytes:
        m[f.key] = r.bytes();
        break;
      case Kind.StringMap:
        r.mapEntry((m[f.key] ??= {}) as Record<string, string>);
        break;
      case Kind.StringList: {
        const list = m[f.key] as readonly string[];
        if (list === NO_ITEMS) m[f.key] = [r.string()];
        else (list as string[]).push(r.string());
        break;
      }
    }
  }
  return m;
}

/** protobuf-es decoding; its errors are malformed input, reported as such. */
function parse(schema: DescMessage, bytes: Uint8Array): unknown {
  try {
    return fromBinary(schema, bytes);
  } catch (err) {
    throw new ProtoDecodeError((err as Error).message);
  }
}

const EMPTY_BUF = Buffer.alloc(0);
const envelopeReader = new ProtoReader(EMPTY_BUF, 0, 0);
const dataReader = new ProtoReader(EMPTY_BUF, 0, 0);

const T_ACTION = (1 << 3) | WIRE_LEN;
const T_REQUEST_ID = (2 << 3) | WIRE_LEN;

export function decodePbCommand(buf: Buffer, start: number, end: number): TcpRequest {
  let requestId: string | undefined;
  try {
    const r = envelopeReader.reset(buf, start, end);
    let action = '';
    let dataField = 0;
    let ds = 0;
    let de = 0;
    while (!r.done) {
      const t = r.tag();
      if (t === T_ACTION) action = r.string();
      else if (t === T_REQUEST_ID) requestId = r.string() || undefined;
      else if ((t & 7) === WIRE_LEN && ACTION_OF_FIELD[t >>> 3] !== undefined) {
        // oneof: the last case on the wire wins
        r.len();
        dataField = t >>> 3;
        ds = r.rs;
        de = r.re;
      } else r.skip(t & 7);
    }
    const dataAction = ACTION_OF_FIELD[dataField];
    if (action === '') {
      if (dataAction === undefined) return fail(requestId, 'missing field action (and no data)');
      action = dataAction;
    }
    const op = opOfAction(action);
    if (op === undefined) return fail(requestId, `unknown action ${JSON.stringify(action)}`);
    if (dataAction !== undefined && dataAction !== action) {
      return fail(requestId, `data holds a ${dataAction} request but action is ${JSON.stringify(action)}`);
    }
    const plan = plans.get(op);
    const req = plan !== undefined ? readFlat(dataReader.reset(buf, ds, de), plan) : parse(op.request, buf.subarray(ds, de));
    return { op, args: op.input(req as never), requestId, error: undefined };
  } catch (err) {
    if (err instanceof ProtoDecodeError) return fail(requestId, `malformed protobuf: ${err.message}`);
    // An enum value the proto does not define: the table's input mapping throws the core's INVALID_ARGUMENT.
    if (err instanceof CommandError || (isBrokerError(err) && err.code === 'INVALID_ARGUMENT')) return fail(requestId, err.message);
    throw err;
  }
}

function fail(requestId: string | undefined, message: string): TcpRequest {
  return { op: undefined, args: undefined, requestId, error: new CommandError(message) };
}
