/** The version in package.json, as both commands print it (`--version`). */
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  try {
    // Run as dist/src/version.js, two levels under the package root.
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}
