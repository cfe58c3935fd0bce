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
import { type DescMessage, fromBinary } from '@bufbuild/protobuf';
import { planOf, readFlat } from '../commands/pb-flat.js';
import { isBrokerError } from '../../broker/errors.js';
import { ProtoDecodeError, ProtoReader, WIRE_LEN } from '../../protocol/proto-wire.js';
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

const plans = new Map<TcpOp, ReturnType<typeof planOf>>();
for (const action of HOT) {
  const op = opOfAction(action)!;
  plans.set(op, planOf(op.request));
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
