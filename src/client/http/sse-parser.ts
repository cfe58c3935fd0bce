/**
 * An incremental parser of `text/event-stream` (the WHATWG "server-sent
 * events" format): lines end in LF, CRLF or CR; `field: value`; a line
 * starting with `:` is a comment; a blank line dispatches the event. Only
 * the `event` and `data` fields matter to MQLite clients.
 */
export type SseEventHandler = (event: string, data: string) => void;

export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  /** A chunk ended on CR: an LF starting the next chunk belongs to it. */
  private skipLeadingLf = false;

  constructor(private readonly onEvent: SseEventHandler) {}

  push(chunk: string): void {
    let text = chunk;
    if (this.skipLeadingLf) {
      this.skipLeadingLf = false;
      if (text.startsWith('\n')) text = text.slice(1);
    }
    this.buffer = this.buffer === '' ? text : this.buffer + text;
    let start = 0;
    const buf = this.buffer;
    for (;;) {
      const lf = buf.indexOf('\n', start);
      const cr = buf.indexOf('\r', start);
      if (lf < 0 && cr < 0) break;
      let end: number;
      let next: number;
      if (cr >= 0 && (lf < 0 || cr < lf)) {
        end = cr;
        if (cr + 1 < buf.length) next = buf.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
        else {
          next = cr + 1;
          this.skipLeadingLf = true;
        }
      } else {
        end = lf;
        next = lf + 1;
      }
      this.line(buf.slice(start, end));
      start = next;
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) {
        const data = this.data.length === 1 ? this.data[0]! : this.data.join('\n');
        this.onEvent(this.event || 'message', data);
      }
      this.event = '';
      this.data = [];
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment */) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
  }
}
