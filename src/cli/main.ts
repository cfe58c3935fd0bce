/** `mqlite-cli` one-shot: parse, run one command (or open the REPL), close, return the exit status. */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { reportFailure } from './failure.js';
import { buildProgram } from './program.js';
import { runRepl } from './repl.js';
import { Session, type GlobalOptions, type SessionIO } from './session.js';

export function processIO(): SessionIO {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** A yes/no question on the terminal; undefined when stdin is not one (scripts pass --yes). */
function terminalAsk(io: SessionIO): (question: string) => Promise<string | undefined> {
  return (question) => {
    if (!io.stdin.isTTY) return Promise.resolve(undefined);
    const rl = createInterface({ input: io.stdin, output: io.stderr as NodeJS.WritableStream, terminal: true });
    return new Promise((resolve) => {
      rl.once('close', () => resolve(undefined));
      rl.question(question, (answer) => {
        resolve(answer);
        rl.close();
      });
    });
  };
}

export async function main(argv: readonly string[], version: string, io: SessionIO = processIO()): Promise<number> {
  const session = new Session(io, false, terminalAsk(io));
  /** The session whose command Ctrl-C stops: the REPL's while it runs. */
  let active = session;
  let replStatus: number | undefined;
  const program = buildProgram(session, {
    version,
    startRepl: async (cmd: Command) => {
      replStatus = await runRepl({ io, globals: cmd.optsWithGlobals<GlobalOptions>(), version, attach: (s) => (active = s) });
    },
  });
  // SIGINT reaches here when stdin is not a terminal (a terminal REPL reads
  // Ctrl-C as a key); SIGTERM (kill, timeout) is taken the same way.
  const onSignal = (signal: NodeJS.Signals): void => {
    // A running sub or bench stops cleanly; anything else ends at once.
    if (!active.interrupt()) process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  // The reader of a pipe went away (`mqlite-cli sub ... | head`): stop as on Ctrl-C.
  const onStdoutError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    if (!active.interrupt()) process.exit(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', onStdoutError);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return replStatus ?? 0;
  } catch (err) {
    return reportFailure(session.output(program.opts<GlobalOptions>()), err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // onStdoutError stays: a late write to a closed pipe must not crash the exit.
    await session.close();
  }
}
