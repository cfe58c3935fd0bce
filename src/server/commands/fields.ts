/**
 * The kinds of request field the fronts read, from a request message's
 * descriptor: the JSON decoder (json-decode.ts) and the TCP protobuf fast
 * reader plan their reading from these, so both read a field by the same
 * type and presence as protobuf-es does for gRPC.
 */
import { type DescField, ScalarType } from '@bufbuild/protobuf';
import { FeatureSet_FieldPresence } from '@bufbuild/protobuf/wkt';

export const enum FieldKind {
  String,
  Int32,
  Int64,
  /** uint32: a varint of 0..2^32-1 (`max_inflight`). */
  Uint32,
  Bool,
  Bytes,
  Enum,
  StringMap,
  StringList,
  MessageList,
}

/** The kind of a request field; undefined for a type no request uses. */
export function fieldKind(f: DescField): FieldKind | undefined {
  switch (f.fieldKind) {
    case 'scalar':
      switch (f.scalar) {
        case ScalarType.STRING:
          return FieldKind.String;
        case ScalarType.BOOL:
          return FieldKind.Bool;
        case ScalarType.BYTES:
          return FieldKind.Bytes;
        case ScalarType.INT32:
        case ScalarType.SINT32:
        case ScalarType.SFIXED32:
          return FieldKind.Int32;
        case ScalarType.INT64:
        case ScalarType.SINT64:
        case ScalarType.SFIXED64:
          return FieldKind.Int64;
        case ScalarType.UINT32:
          return FieldKind.Uint32;
        default:
          return undefined;
      }
    case 'enum':
      return FieldKind.Enum;
    case 'map':
      return f.mapKey === ScalarType.STRING && f.mapKind === 'scalar' && f.scalar === ScalarType.STRING ? FieldKind.StringMap : undefined;
    case 'list':
      if (f.listKind === 'scalar' && f.scalar === ScalarType.STRING) return FieldKind.StringList;
      return f.listKind === 'message' ? FieldKind.MessageList : undefined;
    default:
      return undefined;
  }
}

/** A proto3 `optional` field: absent is unset, not its zero value. */
export function isOptional(f: DescField): boolean {
  return f.presence === FeatureSet_FieldPresence.EXPLICIT;
}

const NO_BYTES = new Uint8Array(0);
/** Never written: a list's zero value (a reader replaces it with its own list at the first element). */
export const NO_ITEMS: readonly never[] = Object.freeze([]);

/**
 * What an absent field reads as: unset for an `optional` field and a map,
 * else the proto3 zero value (a shared empty list for a repeated field).
 */
export function zeroValue(f: DescField, kind: FieldKind): unknown {
  if (isOptional(f)) return undefined;
  switch (kind) {
    case FieldKind.String:
      return '';
    case FieldKind.Bool:
      return false;
    case FieldKind.Bytes:
      return NO_BYTES;
    case FieldKind.StringMap:
      return undefined;
    case FieldKind.StringList:
    case FieldKind.MessageList:
      return NO_ITEMS;
    default:
      return 0;
  }
}
