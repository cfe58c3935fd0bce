/**
 * A planned protobuf reader for the flat request messages (strings,
 * varints, bytes, string maps and string lists): the request read straight
 * from the received bytes, with no protobuf-es message in between, in the
 * shape the table's `input` takes (RequestOf: int64 as numbers, an absent
 * `optional` left out). The hot requests of the TCP front and each publish
 * of a gRPC PublishStream are read with it.
 */
import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { ProtoReader, WIRE_LEN, WIRE_VARINT } from '../../protocol/proto-wire.js';
import { FieldKind as Kind, NO_ITEMS, fieldKind, zeroValue } from './fields.js';

interface FieldRead {
  readonly key: string;
  readonly kind: Kind;
}

/** A flat request message: what to do with each tag, and the fields' zero values. */
export interface Plan {
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

export function planOf(message: DescMessage): Plan {
  const byTag: (FieldRead | undefined)[] = [];
  const zero: Record<string, unknown> = {};
  for (const f of message.fields) {
    const { kind, wire } = wireOf(f);
    byTag[(f.number << 3) | wire] = { key: f.localName, kind };
    zero[f.localName] = zeroValue(f, kind);
  }
  return { byTag, zero };
}

/** The request, its strings decoded and its payload a view into the frame (the core copies it). */
export function readFlat(r: ProtoReader, plan: Plan): Record<string, unknown> {
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
