/**
 * `npm run bench [-- --json] [-- --only core,tcp]`: every benchmark figure.
 * With --json, stdout is one flat JSON object of figures; progress goes to
 * stderr.
 */
import { benchAof } from './aof.js';
import { benchCluster } from './cluster/bench.js';
import { benchCore } from './core.js';
import { benchFloors } from './floors.js';
import { benchGrpc } from './grpc.js';
import { benchHttp } from './http.js';
import { benchPublishStream } from './publish-stream.js';
import { benchPush } from './push.js';
import { benchTcp } from './tcp.js';

const SECTIONS: Record<string, () => Promise<Record<string, number>>> = {
  core: benchCore,
  aof: benchAof,
  tcp: benchTcp,
  http: benchHttp,
  grpc: benchGrpc,
  pubstream: benchPublishStream,
  floors: benchFloors,
  push: benchPush,
  cluster: benchCluster,
};

const args = process.argv.slice(2);
const json = args.includes('--json');
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? args[onlyArg + 1]!.split(',') : Object.keys(SECTIONS);
for (const name of only) {
  if (!SECTIONS[name]) {
    process.stderr.write(`bench: unknown section '${name}' (sections: ${Object.keys(SECTIONS).join(', ')})\n`);
    process.exit(2);
  }
}

const figures: Record<string, number> = {};
const started = performance.now();
for (const name of only) Object.assign(figures, await SECTIONS[name]!());
if (json) {
  process.stdout.write(JSON.stringify(figures) + '\n');
} else {
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(width)}  ${v.toLocaleString('en-US')}\n`);
  process.stdout.write(`(${Math.round((performance.now() - started) / 1000)} s)\n`);
}
