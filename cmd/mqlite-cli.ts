#!/usr/bin/env node
/**
 * `mqlite-cli`: the command-line client of MQLite (every command over tcp,
 * tcp-json, http or grpc, a REPL, a benchmark). See `mqlite-cli --help`.
 */
import { main } from '../src/cli/main.js';
import { packageVersion } from '../src/version.js';

const status = await main(process.argv.slice(2), packageVersion());
process.exitCode = status;
// Output to a pipe is written synchronously on POSIX, so leaving now loses
// nothing; it saves waiting for sockets that linger after close (gRPC).
setTimeout(() => process.exit(status), 100).unref();
