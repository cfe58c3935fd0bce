/**
 * How the HttpClient moves bytes: `node:http` with a keep-alive Agent (the
 * default), or `fetch` (undici under Node, keep-alive by default).
 *
 * Why two: measured here with 32 concurrent publishers, a fetch request
 * costs the client roughly 5-8 times the CPU of a node:http request (about
 * 1.3 ms against 0.15-0.2 ms on a loaded 2-core machine). A load generator
 * sharing two cores with the server then measures itself, not the server.
 * node:http also lets close() release its sockets at once, so a CLI exits
 * without waiting for idle keep-alive connections to time out.
 */
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface TransportReply {
  status: number;
  text: string;
}

export interface TransportStream {
  status: number;
  /** Body chunks; ends when the server ends the response. */
  body: AsyncIterable<Uint8Array>;
  /** Drops the connection. */
  cancel(): void;
}

export interface Transport {
  request(method: string, url: string, body: string | undefined, timeoutMs: number): Promise<TransportReply>;
  /** A long response (SSE): resolves with the status once the head arrived. */
  stream(url: string, headers: Record<string, string>): Promise<TransportStream>;
  close(): void;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

export class FetchTransport implements Transport {
  async request(method: string, url: string, body: string | undefined, timeoutMs: number): Promise<TransportReply> {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? undefined : JSON_HEADERS,
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, text: await res.text() };
  }

  async stream(url: string, headers: Record<string, string>): Promise<TransportStream> {
    const abort = new AbortController();
    const res = await fetch(url, { headers, signal: abort.signal });
    const body = res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    return { status: res.status, body, cancel: () => abort.abort() };
  }

  close(): void {
    // fetch's connection pool is global: nothing of ours to release.
  }
}

export class NodeHttpTransport implements Transport {
  private readonly agent: Agent;
  private readonly secure: boolean;

  constructor(baseUrl: string) {
    this.secure = baseUrl.startsWith('https:');
    this.agent = this.secure ? new HttpsAgent({ keepAlive: true }) : new Agent({ keepAlive: true });
  }

  request(method: string, url: string, body: string | undefined, timeoutMs: number): Promise<TransportReply> {
    return new Promise<TransportReply>((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = (this.secure ? httpsRequest : httpRequest)(url, { method, headers, agent: this.agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no reply within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  stream(url: string, headers: Record<string, string>): Promise<TransportStream> {
    return new Promise<TransportStream>((resolve, reject) => {
      // Its own connection, never returned to the pool.
      const req = (this.secure ? httpsRequest : httpRequest)(url, { headers, agent: false }, (res: IncomingMessage) => {
        resolve({ status: res.statusCode ?? 0, body: res, cancel: () => req.destroy() });
      });
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
