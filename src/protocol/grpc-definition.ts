/**
 * The grpc-js service definition of `mqlite.v1.MQLiteService`, built from the
 * protobuf-es descriptors in gen/ (docs/PROTOCOL.md, "gRPC"): one source of truth
 * for paths, streaming kinds and binary codecs, shared by the server and the
 * client. No proto-loader: its descriptors differ from the generated ones.
 */
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import type { MethodDefinition } from '@grpc/grpc-js';
import { MQLiteService } from '../../gen/mqlite/v1/mqlite_pb.js';

export type MqliteMethods = typeof MQLiteService.method;
export type MethodName = keyof MqliteMethods;
export type RequestOf<K extends MethodName> = MessageShape<MqliteMethods[K]['input']>;
export type ResponseOf<K extends MethodName> = MessageShape<MqliteMethods[K]['output']>;
export type RequestInit<K extends MethodName> = MessageInitShape<MqliteMethods[K]['input']>;
export type ResponseInit<K extends MethodName> = MessageInitShape<MqliteMethods[K]['output']>;
export type UnaryMethodName = {
  [K in MethodName]: MqliteMethods[K]['methodKind'] extends 'unary' ? K : never;
}[MethodName];

/** A Buffer view on the encoded bytes: grpc-js wants a Buffer, a copy is not needed. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function encoder<D extends DescMessage>(schema: D): (value: MessageShape<D>) => Buffer {
  return (value) => asBuffer(toBinary(schema, value));
}

function decoder<D extends DescMessage>(schema: D): (bytes: Buffer) => MessageShape<D> {
  // Bytes fields of the result are views into `bytes` (the received frame):
  // whoever keeps a payload must copy it (the broker core does).
  return (bytes) => fromBinary(schema, bytes);
}

/**
 * A request whose bytes do not decode. grpc-js would answer INTERNAL
 * ("Error deserializing request") for a throwing decoder; handing this to
 * the handler instead lets it answer INVALID_ARGUMENT with the reason.
 */
export class MalformedRequest {
  constructor(
    readonly typeName: string,
    readonly reason: string,
  ) {}
}

function requestDecoder<D extends DescMessage>(schema: D): (bytes: Buffer) => MessageShape<D> | MalformedRequest {
  const decode = decoder(schema);
  return (bytes) => {
    try {
      return decode(bytes);
    } catch (err) {
      return new MalformedRequest(schema.typeName, err instanceof Error ? err.message : String(err));
    }
  };
}

/** The grpc-js definition of one method, protobuf-es binary in and out. */
function methodDefinition(method: DescMethod): MethodDefinition<unknown, unknown> {
  const kind = method.methodKind;
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: kind === 'client_streaming' || kind === 'bidi_streaming',
    responseStream: kind === 'server_streaming' || kind === 'bidi_streaming',
    requestSerialize: encoder(method.input) as (v: unknown) => Buffer,
    requestDeserialize: requestDecoder(method.input),
    responseSerialize: encoder(method.output) as (v: unknown) => Buffer,
    responseDeserialize: decoder(method.output),
    originalName: method.localName,
  };
}

export type MqliteServiceDefinition = { readonly [K in MethodName]: MethodDefinition<RequestOf<K>, ResponseOf<K>> };

/** Keyed by the generated local names (`createNamespace`, `subscribe`...). */
export const mqliteServiceDefinition: MqliteServiceDefinition = Object.fromEntries(
  MQLiteService.methods.map((m) => [m.localName, methodDefinition(m)]),
) as MqliteServiceDefinition;

/** Builds a response message of method `K` from its init shape. */
export function response<K extends MethodName>(name: K, init: ResponseInit<K>): ResponseOf<K> {
  return create(MQLiteService.method[name].output, init) as ResponseOf<K>;
}

/** Builds a request message of method `K` from its init shape. */
export function request<K extends MethodName>(name: K, init: RequestInit<K>): RequestOf<K> {
  return create(MQLiteService.method[name].input, init) as RequestOf<K>;
}

/**
 * Extension: the broker's own error code rides in this trailer, so a client
 * tells a broker's UNAVAILABLE (shutting down) from a transport one. Old
 * clients ignore unknown trailers.
 */
export const ERROR_CODE_TRAILER = 'mqlite-error-code';

export { MQLiteService };
