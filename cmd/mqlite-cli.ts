#!/usr/bin/env node
/**
 * `mqlite-cli`: the command-line client of MQLite (every command over tcp,
 * tcp-json, http or grpc, a REPL, a benchmark). See `mqlite-cli --help`.
 */
import { readFileSync } from 'node:fs';
import { main } from '../src/cli/main.js';

function packageVersion(): string {
  try {
    // Run as dist/cmd/mqlite-cli.js, two levels under the package root.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

const status = await main(process.argv.slice(2), packageVersion());
process.exitCode = status;
// Output to a pipe is written synchronously on POSIX, so leaving now loses
// nothing; it saves waiting for sockets that linger after close (gRPC).
setTimeout(() => process.exit(status), 100).unref();
