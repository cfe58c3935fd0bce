/**
 * The reply envelope of docs/PROTOCOL.md "HTTP (REST + SSE)": `{"success": bool, "message"?:
 * string, "data"?: any}`. Replies are built as text: `data` arrives already
 * serialised (messages through `messageJson`, so payloads are never parsed
 * and serialised again).
 */

export interface Reply {
  readonly status: number;
  /** JSON text of the whole body. */
  readonly body: string;
  /** Close the connection after this reply (its request body was not read to the end). */
  readonly close?: boolean;
}

export function okMessage(message: string, status = 200): Reply {
  return { status, body: `{"success":true,"message":${JSON.stringify(message)}}` };
}

/** `dataJson` is JSON text. */
export function okData(dataJson: string, status = 200): Reply {
  return { status, body: `{"success":true,"data":${dataJson}}` };
}

export function failure(status: number, message: string, close = false): Reply {
  return { status, body: `{"success":false,"message":${JSON.stringify(message)}}`, close };
}
