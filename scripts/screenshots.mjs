// Regenerates the dashboard's screenshots in docs/ui/ (README.md, "Dashboard"):
// the browser tests take them as they go; MQLITE_SCREENSHOTS=docs points them there.
import { spawnSync } from 'node:child_process';

const run = spawnSync('npx', ['vitest', 'run', 'test/ui/dashboard.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, MQLITE_SCREENSHOTS: 'docs' },
  shell: process.platform === 'win32',
});
process.exit(run.status ?? 1);
