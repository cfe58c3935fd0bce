/**
 * JSON text for `--json`. Two things JSON.stringify cannot do are needed:
 * int64 values (bigint) are written as decimal strings, exact at any size,
 * and a payload that is a JSON document is embedded as the text that was
 * published (docs/PROTOCOL.md, "JSON surfaces"), never parsed into doubles and
 * printed again, so big numbers and key order survive.
 */

/** JSON text to embed as it is (a payload that is a JSON document). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** The same JSON text without insignificant whitespace (one line, for JSON Lines). */
export function minifyJson(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') {
      out += c;
    }
  }
  return out;
}

/** Serialises `value`; `indent` > 0 pretty-prints (for a terminal). */
export function toJsonText(value: unknown, indent = 0): string {
  return write(value, indent, '');
}

function write(value: unknown, indent: number, pad: string): string {
  if (value instanceof RawJson) return minifyJson(value.text);
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const inner = indent > 0 ? pad + ' '.repeat(indent) : '';
  const nl = indent > 0 ? '\n' : '';
  const colon = indent > 0 ? ': ' : ':';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${nl}${value.map((v) => inner + write(v, indent, inner)).join(`,${nl}`)}${nl}${pad}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  return `{${nl}${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}${colon}${write(v, indent, inner)}`).join(`,${nl}`)}${nl}${pad}}`;
}
