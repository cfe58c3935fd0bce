/**
 * Reading request bodies, path and query values. The size limit is enforced
 * while the body is read (docs/PROTOCOL.md, "HTTP (REST + SSE)": 413 for a
 * body over `limits.max_body`): a declared Content-Length over the limit is refused
 * before any byte is read, and a chunked body is cut off at the first byte
 * past the limit, so an oversized body is never buffered whole.
 */
import type { IncomingMessage } from 'node:http';
import { type DescMessage, ScalarType } from '@bufbuild/protobuf';
import { HttpError, badRequest } from './errors.js';
import { TOO_DEEP, jsonTooDeep } from '../json-depth.js';

export function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, `request body is larger than the limit of ${maxBytes} bytes`);
}

/**
 * The client stopped sending before the end of its body (a Content-Length
 * that lies, a connection closed or reset mid-body): its fault, not ours, so
 * a 400 rather than an internal error (there is usually no one left to
 * read the reply, but the access log and the metrics tell it right).
 */
function cutShort(reason: string): HttpError {
  return badRequest(`request body ended early (${reason}): send the whole body that Content-Length or the chunked encoding announces`);
}

/** The raw body of a Node request, at most `maxBytes`. */
export function readIncomingBody(incoming: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = incoming.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge(maxBytes));
  if (incoming.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        // Stop reading: the rest is never buffered. The reply closes the connection.
        incoming.pause();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(cutShort(err.message));
    };
    const onClose = (): void => {
      cleanup();
      reject(cutShort('the client closed the connection'));
    };
    const cleanup = (): void => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/** The raw body of a fetch Request (when not served by Node), at most `maxBytes`. */
export async function readStreamBody(body: ReadableStream<Uint8Array> | null, declared: string | null, maxBytes: number): Promise<Buffer> {
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (body === null) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/** Parsed JSON body; undefined for an empty body (routes whose body is optional). */
export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  if (jsonTooDeep(raw)) throw badRequest(`request body is not accepted: ${TOO_DEEP}`);
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

type JsonObject = Record<string, unknown>;

export function asObject(body: unknown, optional: boolean): JsonObject {
  if (body === undefined && optional) return {};
  if (body === undefined) throw badRequest('request body is required: a JSON object');
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  return body as JsonObject;
}

/**
 * The query of a GET as the JSON fields of `request`: integers and booleans
 * parsed by the field's type, the rest as strings; parameters that name no
 * field are left out.
 */
export function queryFields(query: Record<string, string>, request: DescMessage): JsonObject {
  const fields: JsonObject = {};
  for (const f of request.fields) {
    const v = query[f.name];
    if (v === undefined || !Object.hasOwn(query, f.name)) continue;
    if (f.fieldKind === 'scalar' && f.scalar === ScalarType.BOOL) fields[f.name] = boolParam(v, f.name, false);
    else if (f.fieldKind === 'scalar' && f.scalar !== ScalarType.STRING && f.scalar !== ScalarType.BYTES) fields[f.name] = intParam(v, f.name);
    else fields[f.name] = v;
  }
  return fields;
}

/** A path or query integer such as `:queueId`. */
export function intParam(value: string | undefined, name: string): number {
  if (value === undefined || !/^-?\d{1,10}$/.test(value)) throw badRequest(`${name} must be an integer, got ${JSON.stringify(value ?? '')}`);
  return Number(value);
}

// The spellings Go's strconv.ParseBool accepts, which the existing broker's
// clients may send (docs/PROTOCOL.md, "SSE": existing SSE subscribers work unchanged).
const TRUE_WORDS = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** A boolean query parameter; absent or empty gives `fallback`. */
export function boolParam(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  if (TRUE_WORDS.has(value)) return true;
  if (FALSE_WORDS.has(value)) return false;
  throw badRequest(`${name} must be true or false, got ${JSON.stringify(value)}`);
}
