// The npm registry reachable here has no darwin/win32/armv7 builds of
// @bufbuild/buf, so `npm install` leaves them out of package-lock.json and
// npm 11's `npm ci` then refuses the lock as out of sync. This adds the
// missing optional platform entries (never installed on linux-x64: their
// os/cpu do not match). Run it after any `npm install`.
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORMS = { 'darwin-arm64': ['darwin', 'arm64'], 'darwin-x64': ['darwin', 'x64'], 'linux-aarch64': ['linux', 'arm64'], 'linux-armv7': ['linux', 'arm'], 'linux-x64': ['linux', 'x64'], 'win32-arm64': ['win32', 'arm64'], 'win32-x64': ['win32', 'x64'] };
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const out = {};
let added = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  out[key] = entry;
  if (key !== 'node_modules/@bufbuild/buf') continue;
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const depKey = `node_modules/${dep}`;
    const platform = PLATFORMS[dep.replace('@bufbuild/buf-', '')];
    if (lock.packages[depKey] || !platform) continue;
    out[depKey] = { version, cpu: [platform[1]], dev: true, license: 'Apache-2.0', optional: true, os: [platform[0]], engines: { node: '>=12' } };
    added++;
  }
}
lock.packages = out;
writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
console.log(`fix-lock: added ${added} missing optional platform entr${added === 1 ? 'y' : 'ies'}`);
