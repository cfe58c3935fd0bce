import { pino, type Logger } from 'pino';

export type { Logger };

export type LogFormat = 'json' | 'text';

/**
 * Structured logs: JSON lines by default (for collectors); `text` keeps the
 * same fields but prints them on one readable line for a terminal.
 */
export function createLogger(level: string, format: LogFormat = 'json', destination: NodeJS.WritableStream = process.stdout): Logger {
  if (format === 'json') return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination as pino.DestinationStream);
  const write = (line: string): void => {
    const { time, level: lvl, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    destination.write(`${String(time)} ${pino.levels.labels[lvl as number] ?? lvl} ${String(msg ?? '')}${extra ? ' ' + extra : ''}\n`);
  };
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, { write });
}

export const silentLogger: Logger = pino({ level: 'silent' });
