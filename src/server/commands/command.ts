/**
 * The shape of one entry of the fronts' command table (table.ts): each
 * operation of the wire contract declared once, with
 *
 * - its access (permission and scope, src/auth/access.ts);
 * - its request, the protobuf message of `proto/mqlite/v1/mqlite.proto`
 *   that gRPC and TCP protobuf carry, and that the JSON fronts decode into
 *   by the same field names (json-decode.ts);
 * - its input mapping, from that request to the Broker call's arguments:
 *   where the proto's unset rules apply (docs/PROTOCOL.md, "Unset and zero
 *   values"), once, in unset.ts;
 * - its Broker call (`run`);
 * - its result mapping, to the response message and to the JSON fronts'
 *   `data`.
 *
 * A front parses its framing, route or RPC, finds the command, checks the
 * access, decodes the request, calls `input` then `run`, and encodes the
 * reply or the error. Nothing here knows a front.
 */
import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { Access } from '../../auth/access.js';
import type { Principal } from '../../auth/api-keys.js';
import type { Broker } from '../../broker/broker.js';
import type { JsonStyle } from '../json-payload.js';

/**
 * A decoded request message, as every front hands it to the table: the
 * protobuf-es message (gRPC, TCP protobuf) or the same fields read from
 * JSON. int64 fields may be numbers (the JSON fronts and the TCP fast path
 * read them as such), a map field may be absent, and an `optional` field
 * stays optional (a protobuf-es message leaves it out when unset).
 */
export type Wire<T> = T extends bigint
  ? bigint | number
  : T extends Uint8Array
    ? T
    : T extends readonly (infer E)[]
      ? readonly Wire<E>[]
      : T extends { $typeName: string }
        ? { readonly [K in keyof T as Exclude<K, '$typeName' | '$unknown'>]: Wire<T[K]> }
        : T extends object
          ? T | undefined
          : T;

export type RequestOf<Req extends DescMessage> = Wire<MessageShape<Req>>;

/** What a front needs to decode a command's request. */
export interface RequestSpec<Req extends DescMessage = DescMessage> {
  readonly request: Req;
  /**
   * Fields a JSON front refuses to miss (protobuf cannot tell absent from
   * empty: there the core judges the zero value). Applies to nested
   * messages too (`payload` of each batch entry).
   */
  readonly required: readonly string[];
}

/** An operation whose input a front decodes from the table: every command, and subscribe. */
export interface Decoded<Req extends DescMessage = DescMessage, In = unknown> extends Access, RequestSpec<Req> {
  /** The request to the Broker call's arguments. */
  input(req: RequestOf<Req>): In;
}

/** How a command's result goes on the wire. */
export interface Reply<Res extends DescMessage, Out> {
  /** The response message (gRPC, TCP protobuf). */
  pb(out: Out): MessageInitShape<Res>;
  /** The `data` of the JSON fronts, as JSON text, payloads shown in the front's style. */
  json(out: Out, style: JsonStyle): string;
  /** A command with nothing to return answers this message (see `done`). */
  readonly done?: string;
  /**
   * The result is a list of deliveries, the `messages` (field 1) of its
   * response: a front may write them straight into its frame.
   */
  readonly deliveries?: true;
}

/** A request-response operation. */
export interface Command<Req extends DescMessage = DescMessage, Res extends DescMessage = DescMessage, In = unknown, Out = unknown>
  extends Decoded<Req, In> {
  readonly response: Res;
  /** `principal`: who sent it (FULL_ACCESS with auth off); its access is checked before. */
  run(broker: Broker, input: In, principal: Principal): Promise<Out> | Out;
  readonly reply: Reply<Res, Out>;
}

/** Any command of the table, for the fronts that look one up by name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = Command<DescMessage, DescMessage, any, any>;

/** Declares a command, inferring its types from the request, the input mapping and the call. */
export function command<Req extends DescMessage, Res extends DescMessage, In, Out>(c: Command<Req, Res, In, Out>): Command<Req, Res, In, Out> {
  return c;
}

/**
 * The reply of a command that returns nothing: `{success: true, message}`
 * (the message only where the response has that field), the message as the
 * JSON `data` on TCP and as `message` on HTTP.
 */
export function done<Res extends DescMessage>(response: Res, message: string): Reply<Res, unknown> {
  const hasMessage = response.fields.some((f) => f.localName === 'message');
  const init = (hasMessage ? { success: true, message } : { success: true }) as unknown as MessageInitShape<Res>;
  const json = JSON.stringify(message);
  return { done: message, pb: () => init, json: () => json };
}
