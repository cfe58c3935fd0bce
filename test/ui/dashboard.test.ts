/**
 * The dashboard (README.md, "Dashboard") in a real browser: Debian's
 * chromium driven by playwright-core, against brokers on real ports. Every
 * page fails its test on a console error or a page error, except the
 * failed requests a test provokes on purpose (a 401 without a key, a 409
 * for a topic that exists), which it names.
 *
 * With MQLITE_SCREENSHOTS=docs (`npm run screenshots`) the screenshots of
 * the main views are written to docs/ui/; otherwise to a temporary folder.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect.js';
import { loadConfig } from '../../src/config.js';
import { type RunningBroker, startBroker } from '../../src/server/embed.js';

// What the page.evaluate callbacks see, in the browser (this file is compiled without the DOM library).
declare const document: any;
declare const sessionStorage: any;
declare const localStorage: any;

const CHROMIUM = '/usr/bin/chromium';
const ADMIN_KEY = 'ui-admin-key-4c1f9e2a7b3d5e60';
const WRONG_KEY = 'ui-wrong-key-000000000000000';
const SHOTS = process.env.MQLITE_SCREENSHOTS === 'docs' ? resolve(import.meta.dirname, '../../docs/ui') : undefined;

let browser: Browser;
let dir: string;
let plain: RunningBroker;
let keyed: RunningBroker;
let shots: string;

async function start(extra: Record<string, string>, keys: { key: string }[] = []): Promise<RunningBroker> {
  const config = loadConfig(undefined, { env: { MQLITE_HTTP_PORT: '0', MQLITE_TCP_PORT: '0', MQLITE_GRPC_PORT: '0', ...extra } });
  return startBroker({ ...config, security: { ...config.security, api_keys: keys } });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the dashboard's browser tests drive Debian's chromium; install it with scripts/install-peers.sh (CI runs it from .ci/run)`);
  }
  dir = mkdtempSync(join(tmpdir(), 'mqlite-ui-'));
  shots = SHOTS ?? join(dir, 'shots');
  mkdirSync(shots, { recursive: true });
  plain = await start({ MQLITE_AOF_DIR: join(dir, 'aof') });
  keyed = await start({ MQLITE_PERSISTENCE: 'false' }, [{ key: ADMIN_KEY }]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await plain?.close();
  await keyed?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const urlOf = (b: RunningBroker): string => `http://127.0.0.1:${b.ports.http}`;

/** The JSON API, as a script or a user with curl would call it. */
async function api(b: RunningBroker, method: string, path: string, body?: unknown, key?: string): Promise<any> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key) headers['x-api-key'] = key;
  const res = await fetch(urlOf(b) + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await res.json()) as { success?: boolean; data?: unknown; message?: string };
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.message}`);
  return json.data;
}

interface Watched {
  page: Page;
  context: BrowserContext;
  /** Console errors and page errors so far, with the URL of a failed request. */
  errors: string[];
  /** Checks there were no errors but failed requests matching `expected`, then closes the page. */
  done(expected?: RegExp[]): Promise<void>;
}

async function open(b: RunningBroker, hash = '', viewport = { width: 1280, height: 860 }): Promise<Watched> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  // a step that cannot happen fails with its own name well before the test's timeout
  page.setDefaultTimeout(8_000);
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} @ ${m.location().url}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  await page.goto(`${urlOf(b)}/ui${hash}`);
  return {
    page,
    context,
    errors,
    async done(expected = []) {
      // Failed requests are reported as "Failed to load resource: ... status of N" with their URL.
      expect(errors.filter((e) => !expected.some((re) => re.test(e)))).toEqual([]);
      await context.close();
    },
  };
}

/** Waits until `read` returns `want` (the page refreshes every 2 s); fails with the last value seen. */
async function until<T>(read: () => Promise<T>, want: T, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (JSON.stringify(last) === JSON.stringify(want)) return;
    if (Date.now() > end) throw new Error(`${what}: expected ${JSON.stringify(want)}, still ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cell = (page: Page, topic: string, column: string) =>
  page.evaluate(
    ([t, col]) => {
      const table = document.querySelector('#topics')!;
      const i = [...table.querySelectorAll('th')].findIndex((th) => th.textContent === col);
      return table.querySelector(`tr[data-topic="${t}"]`)?.children[i]?.textContent ?? null;
    },
    [topic, column],
  );

const figure = (page: Page, label: string) =>
  page.evaluate((l) => [...document.querySelectorAll('#topic-figures div')].find((d) => d.querySelector('dt')?.textContent === l)?.querySelector('dd')?.textContent ?? null, label);

describe('the dashboard at /ui', () => {
  it('creates a namespace and a topic from the page, follows publishes made through the API, and peeks JSON and binary payloads', async () => {
    const w = await open(plain);
    const { page } = w;
    // by keyboard: the skip link first, then the namespace form
    await page.getByLabel('New namespace').focus();
    await page.keyboard.type('shop');
    await page.keyboard.press('Enter');
    await page.getByText('Namespace shop created.').waitFor();
    await page.getByRole('link', { name: 'shop', exact: true }).click();
    await page.getByLabel('New topic').fill('orders');
    await page.getByLabel('Queues').fill('2');
    await page.getByRole('button', { name: 'Create topic' }).click();
    await page.getByText('Topic orders created.').waitFor();
    expect(await api(plain, 'GET', '/v1/namespaces/shop/topics')).toEqual([expect.objectContaining({ name: 'orders', queue_count: 2 })]);
    await until(() => cell(page, 'orders', 'Pending'), '0', 'pending of a new topic');

    await api(plain, 'POST', '/v1/namespaces/shop/topics/orders/publish', { payload: { order: 17, total: 42.5 }, queue_id: 0 });
    await api(plain, 'POST', '/v1/namespaces/shop/topics/orders/publish', { payload: 'just text', queue_id: 0 });
    const client = await connect(`tcp://127.0.0.1:${plain.ports.tcp}`);
    try {
      await client.publish('shop', 'orders', new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]), { queueId: 0 });
    } finally {
      await client.close();
    }
    await until(() => cell(page, 'orders', 'Pending'), '3', 'pending after three publishes');
    await page.screenshot({ path: join(shots, 'topics.png') });

    await page.getByRole('link', { name: 'orders', exact: true }).click();
    await until(() => figure(page, 'Pending'), '3', 'pending on the topic page');
    await page.getByLabel('Queue', { exact: true }).selectOption('0');
    await page.getByRole('button', { name: 'Peek', exact: true }).click();
    const peeked = page.getByRole('list', { name: 'Peeked messages' });
    await peeked.locator('li').nth(2).waitFor();
    const items = peeked.locator('li');
    expect(await items.nth(0).locator('pre').textContent()).toBe(JSON.stringify({ order: 17, total: 42.5 }, null, 2));
    expect(await items.nth(1).locator('pre').textContent()).toBe('"just text"');
    expect(await items.nth(2).locator('pre').textContent()).toBe('3q2+7wAB');
    await items.nth(2).getByRole('button', { name: 'Show hex' }).click();
    expect(await items.nth(2).locator('pre').textContent()).toBe('de ad be ef 00 01');
    expect(await items.nth(2).getByRole('button', { name: 'Show base64' }).getAttribute('aria-pressed')).toBe('true');
    // peek consumed nothing
    expect((await api(plain, 'GET', '/v1/namespaces/shop/topics/orders/stats')).pending).toBe(3);
    await page.screenshot({ path: join(shots, 'topic.png'), fullPage: true });
    await w.done();
  });

  it('shows the dead-lettered message, asks before a redrive, and redrives from the page', async () => {
    await api(plain, 'POST', '/v1/namespaces', { name: 'dl' });
    await api(plain, 'POST', '/v1/namespaces/dl/topics', { name: 'jobs', queue_count: 1 });
    await api(plain, 'POST', '/v1/namespaces/dl/topics/jobs/publish', { payload: { job: 1 } });
    const [m] = (await api(plain, 'POST', '/v1/namespaces/dl/topics/jobs/queues/0/consume', { batch_size: 1 })) as { id: string }[];
    expect((await api(plain, 'POST', '/v1/namespaces/dl/topics/jobs/queues/0/nack', { message_ids: [m!.id], dead_letter: true })).dead_lettered).toBe(1);

    const w = await open(plain, '#/ns/dl/t/jobs');
    const { page } = w;
    await until(() => figure(page, 'DLQ'), '1', 'DLQ depth on the page');
    await page.getByRole('button', { name: 'Browse DLQ' }).click();
    const dlq = page.getByRole('list', { name: 'Dead-lettered messages' });
    await dlq.locator('li').first().waitFor();
    expect(await dlq.locator('li .meta').first().textContent()).toContain('_dlq_reason=rejected');
    expect(await dlq.locator('li pre').first().textContent()).toBe(JSON.stringify({ job: 1 }, null, 2));

    // cancelled: nothing moves
    await page.getByRole('button', { name: 'Redrive all' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toContain('every dead-lettered message of "dl/jobs"');
    await page.screenshot({ path: join(shots, 'confirm.png') });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await api(plain, 'GET', '/v1/namespaces/dl/topics/jobs/stats')).dlq_depth).toBe(1);
    // confirmed
    await page.getByRole('button', { name: 'Redrive all' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Redrive all' }).click();
    await page.getByText('Redrove 1 message.').waitFor();
    const stats = await api(plain, 'GET', '/v1/namespaces/dl/topics/jobs/stats');
    expect([stats.dlq_depth, stats.pending]).toEqual([0, 1]);
    await until(() => figure(page, 'DLQ'), '0', 'DLQ depth after the redrive');
    await until(() => figure(page, 'Pending'), '1', 'pending after the redrive');
    await w.done();
  });

  it('pauses and resumes deliveries, and purges only once confirmed', async () => {
    await api(plain, 'POST', '/v1/namespaces', { name: 'hold' });
    await api(plain, 'POST', '/v1/namespaces/hold/topics', { name: 'jobs', queue_count: 2 });
    for (const job of [1, 2, 3]) await api(plain, 'POST', '/v1/namespaces/hold/topics/jobs/publish', { payload: { job } });
    const w = await open(plain, '#/ns/hold/t/jobs');
    const { page } = w;
    await until(() => figure(page, 'Deliveries'), 'on', 'deliveries on the page');
    await page.getByRole('button', { name: 'Pause deliveries' }).click();
    await page.getByText('Paused: publishes are accepted, nothing is delivered until resumed.').waitFor();
    expect((await api(plain, 'GET', '/v1/namespaces/hold/topics/jobs/stats')).paused).toBe(true);
    await until(() => figure(page, 'Deliveries'), 'paused', 'deliveries paused on the page');
    expect(await api(plain, 'POST', '/v1/namespaces/hold/topics/jobs/queues/0/consume', { batch_size: 10 })).toEqual([]);
    await page.getByRole('button', { name: 'Resume deliveries' }).click();
    await page.getByText('Resumed: deliveries go on in order.').waitFor();
    expect((await api(plain, 'GET', '/v1/namespaces/hold/topics/jobs/stats')).paused).toBe(false);
    // paused elsewhere (the CLI, another page): the page follows
    await api(plain, 'POST', '/v1/namespaces/hold/topics/jobs/pause');
    await page.getByRole('button', { name: 'Resume deliveries' }).waitFor();
    await api(plain, 'POST', '/v1/namespaces/hold/topics/jobs/resume');
    await page.getByRole('button', { name: 'Pause deliveries' }).waitFor();

    // cancelled: nothing purged
    await page.getByRole('button', { name: 'Purge' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toContain('every pending and delayed message of "hold/jobs"');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await api(plain, 'GET', '/v1/namespaces/hold/topics/jobs/stats')).pending).toBe(3);
    await page.getByRole('button', { name: 'Purge' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Purge' }).click();
    await page.getByText('Purged 3 messages.').waitFor();
    expect((await api(plain, 'GET', '/v1/namespaces/hold/topics/jobs/stats')).pending).toBe(0);
    await until(() => figure(page, 'Pending'), '0', 'pending after the purge');
    await w.done();
  });

  it('shows an API error next to the action that failed, and deletes a topic only once confirmed', async () => {
    await api(plain, 'POST', '/v1/namespaces', { name: 'errs' });
    await api(plain, 'POST', '/v1/namespaces/errs/topics', { name: 'taken', queue_count: 1 });
    const w = await open(plain, '#/ns/errs');
    const { page } = w;
    await page.getByRole('link', { name: 'taken' }).waitFor();
    await page.getByLabel('New topic').fill('taken');
    await page.getByRole('button', { name: 'Create topic' }).click();
    const form = page.locator('form', { has: page.getByLabel('New topic') });
    // the alert right after the create form
    const alert = form.locator('xpath=following-sibling::p[1]');
    await until(async () => /^Error 409: topic .*taken.* already exists/.test((await alert.textContent()) ?? ''), true, 'the error beside the create form');
    expect(await api(plain, 'GET', '/v1/namespaces/errs/topics')).toHaveLength(1);

    await page.getByRole('link', { name: 'taken' }).click();
    await page.getByRole('button', { name: 'Delete topic' }).click();
    await page.keyboard.press('Escape');
    expect(await api(plain, 'GET', '/v1/namespaces/errs/topics')).toHaveLength(1);
    await page.getByRole('button', { name: 'Delete topic' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete topic' }).click();
    await page.waitForURL(/#\/ns\/errs$/);
    expect(await api(plain, 'GET', '/v1/namespaces/errs/topics')).toEqual([]);
    await w.done([/status of 409 .* @ .*\/v1\/namespaces\/errs\/topics$/]);
  });

  it('publishes a test message, sets the policy, resizes and rewrites the AOF from the page; a payload that is not JSON is refused beside the form', async () => {
    await api(plain, 'POST', '/v1/namespaces', { name: 'acts' });
    await api(plain, 'POST', '/v1/namespaces/acts/topics', { name: 'work', queue_count: 1 });
    const w = await open(plain, '#/ns/acts/t/work');
    const { page } = w;
    await until(() => figure(page, 'Queues'), '1', 'the topic page');
    const publish = page.locator('form', { has: page.getByRole('button', { name: 'Publish' }) });
    await page.getByLabel('Payload').fill('{"n": 1');
    await page.getByRole('button', { name: 'Publish' }).click();
    await until(async () => ((await publish.getByRole('alert').textContent()) ?? '').startsWith('The payload is not JSON'), true, 'the refusal beside publish');
    await page.getByLabel('Payload').fill('{"n": 1}');
    await page.getByRole('button', { name: 'Publish' }).click();
    await until(async () => ((await publish.getByRole('alert').textContent()) ?? '').startsWith('Published '), true, 'the publish result');
    await until(() => figure(page, 'Pending'), '1', 'pending after publishing from the page');
    const peeked = (await api(plain, 'GET', '/v1/namespaces/acts/topics/work/queues/0/peek')).messages;
    expect(peeked.map((m: { payload: unknown }) => m.payload)).toEqual([{ n: 1 }]);

    await page.getByLabel('Max retries (-1: never dead-letter)').fill('3');
    await page.getByRole('button', { name: 'Set policy' }).click();
    await page.getByText('Policy set.').waitFor();
    expect((await api(plain, 'GET', '/v1/namespaces/acts/topics/work/stats')).policy.max_retries).toBe(3);

    await page.getByLabel('Queue count').fill('3');
    await page.getByRole('button', { name: 'Resize' }).click();
    await page.getByText(/^Now 3 queues/).waitFor();
    expect((await api(plain, 'GET', '/v1/namespaces/acts/topics/work/stats')).queue_count).toBe(3);

    const before = (await api(plain, 'GET', '/v1/server')).aof.rewrites;
    await page.getByRole('button', { name: 'Rewrite AOF' }).click();
    await page.getByText(/^AOF rewritten: /).waitFor();
    expect((await api(plain, 'GET', '/v1/server')).aof.rewrites).toBe(before + 1);
    await until(async () => (await page.locator('#server-figures').textContent())!.includes('ago, took'), true, 'the last rewrite on the page');
    await w.done();
  });

  it('asks for the key of a broker with keys, keeps it in the tab only, and sends it as X-API-Key', async () => {
    await api(keyed, 'POST', '/v1/namespaces', { name: 'secure' }, ADMIN_KEY);
    const w = await open(keyed);
    const { page } = w;
    const sent: (string | undefined)[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/v1/')) sent.push(r.headers()['x-api-key']);
    });
    await page.getByRole('heading', { name: 'API key required' }).waitFor();
    await page.screenshot({ path: join(shots, 'key.png') });
    const keyBox = page.getByRole('textbox', { name: 'API key' });
    await keyBox.fill(WRONG_KEY);
    await page.getByRole('button', { name: 'Use key' }).click();
    // the broker's reason follows; its wording is the auth tests' business
    await until(async () => ((await page.locator('#key-error').textContent()) ?? '').startsWith('The broker refused this key: '), true, 'the refusal');
    await keyBox.fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.getByRole('link', { name: 'secure' }).waitFor();
    expect(await page.locator('#key-prompt').isHidden()).toBe(true);
    expect(await page.evaluate(() => [sessionStorage.getItem('mqlite.apiKey'), localStorage.length, document.cookie])).toEqual([ADMIN_KEY, 0, '']);
    expect(sent).toContain(ADMIN_KEY);
    expect(sent).toContain(WRONG_KEY);
    // the same tab keeps it across a reload; another tab (context) is asked again
    await page.reload();
    await page.getByRole('link', { name: 'secure' }).waitFor();
    const other = await open(keyed);
    await other.page.getByRole('heading', { name: 'API key required' }).waitFor();
    const unauthorized = /status of 401 .* @ .*\/v1\/(server|namespaces)$/;
    await other.done([unauthorized]);
    await w.done([unauthorized]);
  });

  it('pages 1,000 topics: only the shown 50 are read and drawn, with a filter', async () => {
    await api(plain, 'POST', '/v1/namespaces', { name: 'big' });
    const names = Array.from({ length: 1000 }, (_, i) => `t-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((name) => api(plain, 'POST', '/v1/namespaces/big/topics', { name, queue_count: 1 })));
    }
    const w = await open(plain, '#/ns/big');
    const { page } = w;
    const info = page.getByText(/^Topics \d/);
    await until(() => info.textContent(), 'Topics 1–50 of 1,000 (page 1 of 20)', 'the first page');
    expect(await page.locator('#topics tbody tr').count()).toBe(50);
    // one refresh reads the stats of the 50 shown topics, not of the 1,000
    const stats: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/stats')) stats.push(decodeURIComponent(r.url().split('/topics/')[1]!.split('/')[0]!));
    });
    await page.getByRole('button', { name: 'Next →' }).click();
    await until(() => info.textContent(), 'Topics 51–100 of 1,000 (page 2 of 20)', 'the second page');
    await until(() => cell(page, 't-0099', 'Pending'), '0', 'the last row of page 2');
    expect(new Set(stats).size).toBeLessThanOrEqual(100);
    expect(stats.every((n) => n < 't-0100')).toBe(true);
    await page.getByLabel('Filter topics').fill('t-0999');
    await until(() => page.locator('#topics tbody tr').count(), 1, 'rows matching the filter');
    expect(await page.locator('#topics tbody tr').getAttribute('data-topic')).toBe('t-0999');
    await w.done();
  }, 60_000);

  it('fits a phone: nothing wider than a 390 px screen but the tables, which scroll in place', async () => {
    const w = await open(plain, '#/ns/shop/t/orders', { width: 390, height: 844 });
    const { page } = w;
    await until(() => figure(page, 'Pending'), '3', 'pending on a phone');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(shots, 'phone.png'), fullPage: true });
    await page.goto(`${urlOf(plain)}/ui#/ns/shop`);
    await until(() => cell(page, 'orders', 'Pending'), '3', 'the topic list on a phone');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(shots, 'phone-topics.png'), fullPage: true });
    await w.done();
  });
});
