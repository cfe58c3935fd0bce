/**
 * The `raw` transport of the HttpClient against a scripted server: replies
 * split at every byte, chunked bodies, interim 100 replies, `Connection:
 * close`, malformed replies and timeouts; and connection reuse.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RawHttpTransport } from '../../src/client/http/transport.js';

let server: Server | undefined;
let transport: RawHttpTransport | undefined;

afterEach(async () => {
  transport?.close();
  transport = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server that answers each request (one per blank line seen) with `reply(n)`, written in pieces. */
async function scripted(reply: (n: number, socket: Socket) => void): Promise<{ base: string; connections: () => number }> {
  let connections = 0;
  let n = 0;
  server = createServer((socket) => {
    connections++;
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        const end = buf.indexOf('\r\n\r\n') + 4;
        const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + len) return;
        buf = buf.slice(end + len);
        reply(n++, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  const port = (server!.address() as { port: number }).port;
  return { base: `http://127.0.0.1:${port}`, connections: () => connections };
}

function dribble(socket: Socket, text: string): void {
  // One byte per write, so the reply arrives in many pieces.
  let i = 0;
  const next = (): void => {
    if (i >= text.length) return;
    socket.write(text[i++]!);
    setImmediate(next);
  };
  next();
}

describe('raw transport', () => {
  it('reads replies split at every byte and reuses the connection', async () => {
    const s = await scripted((n, socket) => dribble(socket, `HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{"n":${n}}`));
    transport = new RawHttpTransport(s.base);
    const a = await transport.request('POST', `${s.base}/x`, '{"a":1}', 2_000);
    const b = await transport.request('GET', `${s.base}/y`, undefined, 2_000);
    expect(a).toEqual({ status: 200, text: '{"n":0}' });
    expect(b).toEqual({ status: 200, text: '{"n":1}' });
    expect(s.connections()).toBe(1);
  });

  it('decodes a chunked body and skips an interim 100 reply', async () => {
    const s = await scripted((_n, socket) =>
      dribble(socket, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n3\r\n12}\r\n0\r\n\r\n'),
    );
    transport = new RawHttpTransport(s.base);
    expect(await transport.request('GET', `${s.base}/`, undefined, 2_000)).toEqual({ status: 404, text: '{"a":12}' });
  });

  it('opens a new connection after `Connection: close`', async () => {
    const s = await scripted((_n, socket) => {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}');
    });
    transport = new RawHttpTransport(s.base);
    expect((await transport.request('GET', `${s.base}/`, undefined, 2_000)).status).toBe(503);
    expect((await transport.request('GET', `${s.base}/`, undefined, 2_000)).status).toBe(503);
    expect(s.connections()).toBe(2);
  });

  it('rejects a malformed reply, a connection closed mid-reply, and a silent server', async () => {
    const s = await scripted((n, socket) => {
      if (n === 0) socket.write('SMTP ready\r\n\r\n');
      else if (n === 1) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{"a"');
      // n === 2: never answers
    });
    transport = new RawHttpTransport(s.base);
    await expect(transport.request('GET', `${s.base}/`, undefined, 2_000)).rejects.toThrow(/malformed HTTP reply/);
    await expect(transport.request('GET', `${s.base}/`, undefined, 2_000)).rejects.toThrow(/closed before the reply was complete/);
    await expect(transport.request('GET', `${s.base}/`, undefined, 200)).rejects.toThrow(/no reply within 200 ms/);
  });

  it('refuses a scheme other than http and https (https: test/tls/http.test.ts)', () => {
    expect(() => new RawHttpTransport('ftp://127.0.0.1:1')).toThrow(/http and https only, not ftp:/);
  });
});
