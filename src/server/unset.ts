/**
 * The unset rules of docs/PROTOCOL.md, "Unset values", in one place for
 * every front. proto3 cannot tell a scalar left out from its zero value, so
 * the protobuf fronts see 0 or "" where a JSON client left a field out; the
 * JSON fronts follow the proto's documented meaning so that a request means
 * the same whatever carries it:
 *
 * - `limit` 0 is the default page, `preview_bytes` 0 and redrive `max` 0 are
 *   "all" (zeroIsUnset);
 * - an empty `dedup_id` is no deduplication (emptyIsUnset);
 * - a list left out (or JSON null, which Go clients send for an empty
 *   slice) is an empty list;
 * - a JSON integer for an int32 field must fit in int32, as it would have to
 *   on the protobuf fronts (int32Field).
 */
import { invalid } from '../broker/errors.js';

export function zeroIsUnset(n: number | undefined): number | undefined {
  return n === 0 ? undefined : n;
}

export function emptyIsUnset(s: string | undefined): string | undefined {
  return s === '' ? undefined : s;
}

const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

/** `n` itself when it fits the proto's int32; INVALID_ARGUMENT naming `field` when not. */
export function int32Field<N extends number | undefined>(field: string, n: N): N {
  if (n !== undefined && (n > INT32_MAX || n < INT32_MIN)) {
    throw invalid(`${field} ${n} is out of range: it is an int32 (${INT32_MIN}..${INT32_MAX})`);
  }
  return n;
}
