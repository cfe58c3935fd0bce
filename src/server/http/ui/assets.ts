/**
 * The dashboard's files (README.md, "Dashboard"), served by the HTTP front
 * under `/ui`. They are modules of the package, not files read at run time:
 * `/ui` works from an installed package, offline, with nothing from a CDN.
 * The pages are open like `/health` (they hold no data); everything they show
 * comes from the API with the key the user gives.
 */
import { PAGE_HTML } from './page.js';
import { SCRIPT_JS } from './script.js';
import { STYLE_CSS } from './style.js';

export interface UiAsset {
  readonly body: string;
  readonly type: string;
}

/** The page itself, its script and its stylesheet, by path. */
export const UI_ASSETS: Readonly<Record<string, UiAsset>> = {
  '/ui': { body: PAGE_HTML, type: 'text/html; charset=utf-8' },
  '/ui/': { body: PAGE_HTML, type: 'text/html; charset=utf-8' },
  '/ui/app.js': { body: SCRIPT_JS, type: 'text/javascript; charset=utf-8' },
  '/ui/app.css': { body: STYLE_CSS, type: 'text/css; charset=utf-8' },
};

/**
 * Headers of every dashboard file: only this origin's scripts, styles and
 * API (no inline script, no frame, no other host), revalidated on each load.
 */
export const UI_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};
