/**
 * The interactive prompt: the same commands as one-shot use, parsed line by
 * line over one session (one connection), with history and tab completion
 * of command names. On a terminal it keeps a history file and Ctrl-C stops
 * the running command (a `sub`, a `bench`) or clears the line; when stdin is
 * not a terminal it reads commands line by line and prints their results,
 * so scripts and tests drive it through a pipe.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Command } from 'commander';
import { ClientError } from '../client/types.js';
import { splitWords } from './args.js';
import { EXIT_OK } from './errors.js';
import { reportFailure } from './failure.js';
import { buildProgram } from './program.js';
import { endpointOf, hostPort, Session, type GlobalOptions, type SessionIO } from './session.js';

const HISTORY_SIZE = 1000;
const REPL_WORDS = ['help', 'exit', 'quit'];

/** The global options given at launch, as words to put before every line. */
export function globalWords(g: GlobalOptions): string[] {
  const words = ['--proto', g.proto, '--host', g.host];
  if (g.port !== undefined) words.push('--port', String(g.port));
  if (g.httpPort !== undefined) words.push('--http-port', String(g.httpPort));
  if (g.timeout !== undefined) words.push('--timeout', String(g.timeout));
  if (g.json) words.push('--json');
  if (!g.color) words.push('--no-color');
  if (g.apiKey !== undefined) words.push('--api-key', g.apiKey);
  if (g.tls) words.push('--tls');
  for (const [option, value] of [['--tls-ca', g.tlsCa], ['--tls-cert', g.tlsCert], ['--tls-key', g.tlsKey]] as const) if (value !== undefined) words.push(option, value);
  return words;
}

function historyFile(env: NodeJS.ProcessEnv): string | undefined {
  const configured = env.MQLITE_CLI_HISTORY;
  if (configured === '') return undefined;
  return configured ?? join(homedir(), '.mqlite_cli_history');
}

function loadHistory(file: string | undefined): string[] {
  if (file === undefined) return [];
  try {
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
    const kept = lines.slice(-HISTORY_SIZE);
    // Lines are appended as they are typed: cut the file back now and then.
    if (lines.length > 2 * HISTORY_SIZE) writeFileSync(file, kept.join('\n') + '\n');
    // readline wants the newest entry first.
    return kept.reverse();
  } catch {
    return [];
  }
}

/** Completes command names (and subcommand names, options after a dash) from the command tree. */
export function completer(root: Command): (line: string) => [string[], string] {
  const help = root.createHelp();
  return (line: string) => {
    let words: string[];
    try {
      words = splitWords(line);
    } catch {
      return [[], line];
    }
    const current = /\s$/.test(line) || line === '' ? '' : (words.pop() ?? '');
    let cmd = root;
    for (const w of words) {
      if (w.startsWith('-')) continue;
      const next = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
      if (next === undefined) break;
      cmd = next;
    }
    let candidates: string[];
    if (current.startsWith('-')) {
      const opts = [...cmd.options, ...(cmd === root ? [] : root.options)];
      candidates = opts.flatMap((o) => (o.long ? [o.long] : []));
    } else {
      candidates = help
        .visibleCommands(cmd)
        .map((c) => c.name())
        .filter((n) => n !== 'repl');
      if (cmd === root && words.length === 0) candidates.push(...REPL_WORDS);
    }
    const hits = [...new Set(candidates)].filter((c) => c.startsWith(current)).sort();
    // A single hit is completed with the space that comes after a word.
    return [hits.length === 1 ? [`${hits[0]} `] : hits, current];
  };
}

export interface ReplOptions {
  io: SessionIO;
  globals: GlobalOptions;
  version: string;
  /** Told the REPL's session, so that a SIGINT from outside stops its running command. */
  attach?(session: Session): void;
}

/** Runs the prompt until exit, Ctrl-D or the end of stdin; returns the exit status (that of the last failed command, or 0). */
export async function runRepl(opts: ReplOptions): Promise<number> {
  const { io, globals } = opts;
  const terminal = io.stdin.isTTY === true && io.stdout.isTTY === true;
  const prefix = globalWords(globals);
  const histFile = terminal ? historyFile(io.env) : undefined;
  let rl: Interface | undefined;
  const ask = (question: string): Promise<string | undefined> =>
    terminal && rl ? new Promise((resolve) => rl!.question(question, resolve)) : Promise.resolve(undefined);
  const session = new Session(io, true, ask);
  opts.attach?.(session);
  const treeFor = (): Command => buildProgram(session, { version: opts.version });
  const completionTree = treeFor();
  rl = createInterface({
    input: io.stdin,
    output: terminal ? (io.stdout as NodeJS.WritableStream) : undefined,
    terminal,
    history: loadHistory(histFile),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    completer: terminal ? completer(completionTree) : undefined,
    crlfDelay: Infinity,
  });
  const e = endpointOf(globals);
  rl.setPrompt(`mqlite ${e.proto} ${hostPort(e.host, e.port)}> `);
  rl.on('SIGINT', () => {
    if (session.interrupt()) return;
    // Nothing running: Ctrl-C clears the line, as in a shell.
    io.stdout.write('^C\n');
    rl!.write(null, { ctrl: true, name: 'u' });
    rl!.prompt();
  });
  if (terminal) {
    io.stdout.write(`MQLite CLI ${opts.version}: ${e.proto} ${hostPort(e.host, e.port)}. Type help, or a command; Tab completes; exit or Ctrl-D leaves.\n`);
    rl.prompt();
  }
  let status = EXIT_OK;
  try {
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) {
        if (terminal) rl.prompt();
        continue;
      }
      if (line === 'exit' || line === 'quit') break;
      if (histFile !== undefined) {
        try {
          appendFileSync(histFile, line + '\n');
        } catch {
          // History is a convenience: an unwritable home must not stop the REPL.
        }
      }
      const code = await runLine(session, treeFor(), prefix, line === 'help' ? '--help' : line);
      if (line === 'help') {
        io.stdout.write(
          '\nIn the REPL: the global options given at launch apply to every line; Tab completes command names;\n' +
            'up/down walk the history; Ctrl-C stops a running sub or bench; exit, quit or Ctrl-D leaves.\n',
        );
      }
      if (code !== EXIT_OK) status = code;
      if (terminal) rl.prompt();
    }
  } finally {
    rl.close();
    await session.close();
  }
  return status;
}

/** Parses and runs one line; returns its exit status, having printed any error. */
async function runLine(session: Session, program: Command, prefix: string[], line: string): Promise<number> {
  let words: string[];
  try {
    words = splitWords(line);
  } catch (err) {
    return reportFailure(session.output({ json: prefix.includes('--json'), color: !prefix.includes('--no-color') }), err);
  }
  if (words[0] === 'repl') {
    session.io.stderr.write('already in the REPL\n');
    return EXIT_OK;
  }
  try {
    await program.parseAsync([...prefix, ...words], { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    // A broken connection (the broker restarted, say) is not kept: the next line connects again.
    if (err instanceof ClientError && err.code === 'TRANSPORT') await session.close();
    return reportFailure(session.output(program.opts<GlobalOptions>()), err);
  }
}
