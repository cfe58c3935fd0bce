/** The dashboard's script (README.md, "Dashboard"), served as /ui/app.js: an ES module, no framework, every action through the JSON API. */
export const SCRIPT_JS = String.raw`
// The MQLite dashboard (README.md, "Dashboard"): plain DOM, no framework,
// every action through the JSON API of the HTTP front.
const KEY_STORE = 'mqlite.apiKey';
const POLL_MS = 2000;
const PAGE_SIZE = 50;
const HISTORY_MS = 5 * 60 * 1000;
const PREVIEW_BYTES = 4096;

const state = {
  key: sessionStorage.getItem(KEY_STORE) || '',
  view: null,
  timer: 0,
  polling: false,
  history: new Map(),
  // deletes in progress: the view is not refreshed meanwhile, so that it never reads what is going away
  quiet: 0,
};

/** Runs a delete once no refresh is in flight, and with none started until it is done. */
async function quietly(fn) {
  state.quiet++;
  try {
    if (pending) await pending.done;
    return await fn();
  } finally {
    state.quiet--;
  }
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// ---- the API ----

function path(...parts) {
  return parts.map((p) => encodeURIComponent(String(p))).join('/');
}
const nsPath = (ns) => '/v1/namespaces/' + path(ns);
const topicPath = (ns, t) => nsPath(ns) + '/topics/' + path(t);

async function api(method, url, body) {
  const headers = { accept: 'application/json' };
  if (state.key) headers['x-api-key'] = state.key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'the broker did not answer: ' + e.message);
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  const message = json && typeof json.message === 'string' ? json.message : res.status + ' ' + res.statusText;
  if (res.status === 401) {
    askKey(state.key ? 'The broker refused this key: ' + message : '');
    throw new ApiError(401, message);
  }
  if (!res.ok || (json && json.success === false)) throw new ApiError(res.status, message);
  return json && typeof json === 'object' && 'data' in json ? json.data : json;
}

// ---- DOM helpers ----

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

let uid = 0;
const nextId = (p) => p + '-' + ++uid;

/** A labelled input: [wrapper, input]. */
function field(label, attrs) {
  const id = nextId('f');
  const input = h(attrs.tag || 'input', { id, ...attrs, tag: undefined });
  return [h('div', null, h('label', { for: id, text: label }), input), input];
}

function fmtInt(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : String(n ?? '–');
}
function fmtRate(n) {
  return (n || 0) < 10 ? (n || 0).toFixed(1) : Math.round(n).toLocaleString('en-US');
}
function fmtMs(ms) {
  if (!ms) return '0';
  if (ms < 1000) return Math.round(ms) + ' ms';
  if (ms < 60_000) return (ms / 1000).toFixed(1) + ' s';
  if (ms < 3_600_000) return (ms / 60_000).toFixed(1) + ' min';
  if (ms < 86_400_000) return (ms / 3_600_000).toFixed(1) + ' h';
  return (ms / 86_400_000).toFixed(1) + ' d';
}
function fmtBytes(n) {
  if (n < 1024) return n + ' B';
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return v.toFixed(v < 10 ? 1 : 0) + ' ' + units[i];
}

/** Runs an action: disables its button, shows its error (or result) next to it. */
async function act(button, out, fn) {
  out.textContent = '';
  out.className = 'error';
  button.disabled = true;
  try {
    const msg = await fn();
    if (typeof msg === 'string') {
      out.className = 'ok';
      out.textContent = msg;
    }
    poll(true);
  } catch (e) {
    out.className = 'error';
    out.textContent = e instanceof ApiError ? 'Error ' + (e.status || '') + ': ' + e.message : String(e.message || e);
  } finally {
    button.disabled = false;
  }
}

/** A confirmation for destructive actions, in a modal dialog (Escape cancels). */
function confirmAction(text, confirmLabel) {
  return new Promise((resolve) => {
    const yes = h('button', { type: 'button', class: 'danger', text: confirmLabel });
    const no = h('button', { type: 'button', class: 'ghost', text: 'Cancel' });
    const titleId = nextId('dlg');
    const dlg = h('dialog', { 'aria-labelledby': titleId }, h('p', { id: titleId, text: text }), h('div', { class: 'row' }, no, yes));
    const done = (v) => {
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    yes.addEventListener('click', () => done(true));
    no.addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    no.focus();
  });
}

// ---- the key prompt ----

const keyPrompt = document.getElementById('key-prompt');
const keyInput = document.getElementById('key-input');
const keyError = document.getElementById('key-error');
const forgetKey = document.getElementById('forget-key');

function askKey(why) {
  const wasHidden = keyPrompt.hidden;
  keyPrompt.hidden = false;
  keyError.textContent = why || '';
  if (wasHidden) keyInput.focus();
}

document.getElementById('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  state.key = keyInput.value.trim();
  if (!state.key) return;
  sessionStorage.setItem(KEY_STORE, state.key);
  keyInput.value = '';
  keyPrompt.hidden = true;
  forgetKey.hidden = false;
  route();
});
forgetKey.hidden = !state.key;
forgetKey.addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORE);
  state.key = '';
  forgetKey.hidden = true;
  route();
});

// ---- rates over time and their chart ----

function remember(stats, now) {
  const k = stats.namespace + '/' + stats.topic;
  let list = state.history.get(k);
  if (!list) state.history.set(k, (list = []));
  list.push({ t: now, p: stats.publish_rate || 0, a: stats.ack_rate || 0 });
  while (list.length > 0 && list[0].t < now - HISTORY_MS) list.shift();
}

/** Publish and ack rates over the last minutes as two lines of an inline SVG. */
function rateChart(ns, topic, w, hgt) {
  const list = state.history.get(ns + '/' + topic) || [];
  const svg = s('svg', { class: 'spark', width: w, height: hgt, viewBox: '0 0 ' + w + ' ' + hgt, role: 'img' });
  const now = Date.now();
  let max = 1;
  for (const x of list) max = Math.max(max, x.p, x.a);
  const pts = (key) =>
    list.map((x) => (w - ((now - x.t) / HISTORY_MS) * w).toFixed(1) + ',' + (hgt - 2 - (x[key] / max) * (hgt - 4)).toFixed(1)).join(' ');
  const last = list[list.length - 1];
  const title = s('title');
  title.textContent = last
    ? 'last 5 minutes, peak ' + fmtRate(max) + '/s; now publish ' + fmtRate(last.p) + '/s, ack ' + fmtRate(last.a) + '/s'
    : 'no rates yet';
  svg.append(title);
  svg.append(s('line', { x1: 0, x2: w, y1: hgt - 1, y2: hgt - 1, stroke: 'currentColor', 'stroke-opacity': 0.2 }));
  if (list.length > 0) {
    svg.append(s('polyline', { class: 'pub', points: pts('p'), fill: 'none', 'stroke-width': 1.5 }));
    svg.append(s('polyline', { class: 'ack', points: pts('a'), fill: 'none', 'stroke-width': 1.5, 'stroke-dasharray': '3 2' }));
  }
  return svg;
}

// ---- the server panel ----

const serverFigures = document.getElementById('server-figures');
const serverError = document.getElementById('server-error');
const rewriteButton = document.getElementById('rewrite');
const rewriteOut = document.getElementById('rewrite-out');

function figures(dl, pairs) {
  dl.replaceChildren(...pairs.map(([k, v]) => h('div', null, h('dt', { text: k }), h('dd', { text: v }))));
}

async function updateServer() {
  let x;
  try {
    x = await api('GET', '/v1/server');
  } catch (e) {
    if (e.status === 401) throw e;
    serverError.textContent = 'Server figures unavailable: ' + e.message;
    return;
  }
  const aof = x.aof;
  const fronts = Object.entries(x.fronts)
    .map(([name, f]) => name + ' ' + (f.connections ?? '–'))
    .join(' · ');
  const lag = x.event_loop_lag;
  figures(serverFigures, [
    ['Version', x.version],
    ['Uptime', fmtMs(x.uptime_ms)],
    ['Namespaces / topics', fmtInt(x.namespaces) + ' / ' + fmtInt(x.topics)],
    ...(x.cluster ? [['Cluster', clusterLine(x.cluster)]] : []),
    ['AOF size', aof ? fmtBytes(aof.size_bytes) + (aof.failed ? ' (FAILED)' : '') : x.cluster ? 'none (the log is in JetStream)' : 'off (in memory)'],
    ['Last rewrite', aof ? (aof.last_rewrite_at_ms ? fmtMs(Date.now() - aof.last_rewrite_at_ms) + ' ago, took ' + fmtMs(aof.last_rewrite_duration_ms) : 'none yet') : '–'],
    ['Fsync latency', aof && aof.fsync ? 'mean ' + aof.fsync.mean_ms + ' ms, p99 ≤ ' + aof.fsync.p99_ms + ' ms' : '–'],
    ['Connections', fronts],
    ['Event-loop lag', 'mean ' + lag.mean_ms + ' ms, p99 ' + lag.p99_ms + ' ms'],
    ['Memory (RSS)', fmtBytes(x.memory.rss_bytes)],
  ]);
  serverError.textContent = aof && aof.failed ? 'AOF failed: ' + (aof.failure || '') : '';
  rewriteButton.disabled = !aof;
}

// A cluster node's role (README, "Running a cluster"): a standby serves no data and names the owner.
function clusterLine(c) {
  const owner = c.owner ? c.owner.node + (c.owner.http ? ' (http ' + c.owner.http + ')' : '') : 'none yet';
  return 'node ' + c.node + ' of ' + c.name + ': ' + (c.role === 'owner' ? 'owner, serving' : c.role + '; owner ' + owner);
}

rewriteButton.addEventListener('click', () =>
  act(rewriteButton, rewriteOut, async () => {
    const r = await api('POST', '/v1/admin/aof/rewrite');
    return 'AOF rewritten: ' + fmtInt(r.records) + ' records, ' + fmtBytes(r.bytes);
  }),
);

// ---- views ----

const main = document.getElementById('main');
const crumbs = document.getElementById('crumbs');
const live = document.getElementById('live');

function setCrumbs(items) {
  crumbs.replaceChildren(
    ...items.map(([label, href], i) =>
      h('li', null, i === items.length - 1 ? h('span', { 'aria-current': 'page', text: label }) : h('a', { href, text: label })),
    ),
  );
}

/** The namespaces, each with its topic count; create and delete. */
function namespacesView() {
  setCrumbs([['Namespaces', '#/']]);
  const [nameBox, nameInput] = field('New namespace', { required: true, placeholder: 'e.g. shop', autocomplete: 'off' });
  const create = h('button', { type: 'submit', text: 'Create namespace' });
  const createOut = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'inline' }, nameBox, create);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(create, createOut, async () => {
      await api('POST', '/v1/namespaces', { name: nameInput.value.trim() });
      const made = nameInput.value.trim();
      nameInput.value = '';
      return 'Namespace ' + made + ' created.';
    });
  });
  const tbody = h('tbody');
  const listError = h('p', { class: 'error', role: 'alert' });
  const heading = h('h2', { tabindex: -1, text: 'Namespaces' });
  const el = h(
    'section',
    { class: 'card' },
    heading,
    form,
    createOut,
    h('div', { class: 'table-wrap' }, h('table', null, h('thead', null, h('tr', null, h('th', { text: 'Namespace' }), h('th', { text: 'Topics' }), h('th', { text: 'Actions' }))), tbody)),
    listError,
  );
  const rows = new Map();
  return {
    el,
    heading,
    async update() {
      const names = await api('GET', '/v1/namespaces');
      const counts = await Promise.all(names.map((n) => api('GET', nsPath(n) + '/topics').then((t) => t.length, () => '–')));
      const same = names.length === rows.size && names.every((n) => rows.has(n));
      if (!same) {
        rows.clear();
        tbody.replaceChildren(
          ...names.map((n) => {
            const count = h('td');
            const del = h('button', { type: 'button', class: 'ghost', text: 'Delete', 'aria-label': 'Delete namespace ' + n });
            const out = h('p', { class: 'error', role: 'alert' });
            del.addEventListener('click', async () => {
              if (!(await confirmAction('Delete namespace "' + n + '" and all its topics and messages?', 'Delete namespace'))) return;
              act(del, out, () => quietly(() => api('DELETE', nsPath(n))));
            });
            const tr = h('tr', null, h('td', null, h('a', { href: '#/ns/' + path(n), text: n })), count, h('td', null, del, out));
            rows.set(n, count);
            return tr;
          }),
        );
        if (names.length === 0) tbody.append(h('tr', null, h('td', { colspan: 3, class: 'muted', text: 'No namespaces yet.' })));
      }
      names.forEach((n, i) => (rows.get(n).textContent = fmtInt(counts[i])));
    },
  };
}

const TOPIC_COLUMNS = [
  ['Queues', (t) => fmtInt(t.queue_count), ''],
  ['Pending', (t) => fmtInt(t.pending), ''],
  ['In flight', (t) => fmtInt(t.in_flight), ''],
  ['Delayed', (t) => fmtInt(t.delayed), 'hide-narrow'],
  ['DLQ', (t) => fmtInt(t.dlq_depth), ''],
  ['Publish/s', (t) => fmtRate(t.publish_rate), 'hide-narrow'],
  ['Ack/s', (t) => fmtRate(t.ack_rate), 'hide-narrow'],
  ['Oldest', (t) => fmtMs(t.oldest_pending_age_ms), 'hide-narrow'],
];

/** The topics of a namespace, a page at a time (only the shown page's stats are read). */
function topicsView(ns) {
  setCrumbs([['Namespaces', '#/'], [ns, '#/ns/' + path(ns)]]);
  let page = 0;
  let filter = '';
  const heading = h('h2', { tabindex: -1, text: 'Topics of ' + ns });
  const [nameBox, nameInput] = field('New topic', { required: true, placeholder: 'e.g. orders', autocomplete: 'off' });
  const [queuesBox, queuesInput] = field('Queues', { type: 'number', min: 1, value: 4, required: true, class: 'w6' });
  const create = h('button', { type: 'submit', text: 'Create topic' });
  const createOut = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'inline' }, nameBox, queuesBox, create);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(create, createOut, async () => {
      const name = nameInput.value.trim();
      await api('POST', nsPath(ns) + '/topics', { name, queue_count: Number(queuesInput.value) });
      nameInput.value = '';
      return 'Topic ' + name + ' created.';
    });
  });
  const delNs = h('button', { type: 'button', class: 'danger', text: 'Delete namespace' });
  const delOut = h('p', { class: 'error', role: 'alert' });
  delNs.addEventListener('click', async () => {
    if (!(await confirmAction('Delete namespace "' + ns + '" and all its topics and messages?', 'Delete namespace'))) return;
    act(delNs, delOut, () =>
      quietly(async () => {
        await api('DELETE', nsPath(ns));
        state.view = null;
        location.hash = '#/';
      }),
    );
  });
  const [filterBox, filterInput] = field('Filter topics', { type: 'search', autocomplete: 'off', placeholder: 'name contains…' });
  filterInput.addEventListener('input', () => {
    filter = filterInput.value.trim().toLowerCase();
    page = 0;
    poll(true);
  });
  const prev = h('button', { type: 'button', class: 'ghost', text: '← Previous' });
  const next = h('button', { type: 'button', class: 'ghost', text: 'Next →' });
  const pageInfo = h('span', { class: 'muted', role: 'status' });
  prev.addEventListener('click', () => {
    page = Math.max(0, page - 1);
    poll(true);
  });
  next.addEventListener('click', () => {
    page++;
    poll(true);
  });
  const tbody = h('tbody');
  const listError = h('p', { class: 'error', role: 'alert' });
  const el = h(
    'div',
    null,
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'row between' }, heading, h('div', null, delNs)),
      delOut,
      form,
      createOut,
    ),
    h(
      'section',
      { class: 'card', 'aria-label': 'Topic list' },
      h('div', { class: 'row between' }, filterBox, h('span', { class: 'legend' }, 'chart (5 min): ', h('span', { class: 'pub', text: '— publish/s' }), ' ', h('span', { class: 'ack', text: '- - ack/s' }))),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { id: 'topics' },
          h('thead', null, h('tr', null, h('th', { text: 'Topic' }), ...TOPIC_COLUMNS.map(([t, , c]) => h('th', { class: c || undefined, text: t })), h('th', { class: 'hide-narrow', text: 'Rates' }))),
          tbody,
        ),
      ),
      h('div', { class: 'pager' }, prev, pageInfo, next),
      listError,
    ),
  );
  let shown = [];
  const rows = new Map();
  return {
    el,
    heading,
    async update() {
      const all = await api('GET', nsPath(ns) + '/topics');
      const names = all.map((t) => t.name).filter((n) => !filter || n.toLowerCase().includes(filter));
      names.sort();
      const pages = Math.max(1, Math.ceil(names.length / PAGE_SIZE));
      if (page >= pages) page = pages - 1;
      const slice = names.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
      const now = Date.now();
      const stats = await Promise.all(
        slice.map((n) =>
          api('GET', topicPath(ns, n) + '/stats').then(
            (st) => (remember(st, now), st),
            (e) => ({ error: e.message, topic: n }),
          ),
        ),
      );
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
      pageInfo.textContent =
        names.length === 0
          ? 'No topics' + (filter ? ' match' : ' yet')
          : 'Topics ' + fmtInt(page * PAGE_SIZE + 1) + '–' + fmtInt(page * PAGE_SIZE + slice.length) + ' of ' + fmtInt(names.length) + ' (page ' + (page + 1) + ' of ' + pages + ')';
      if (slice.length !== shown.length || slice.some((n, i) => shown[i] !== n)) {
        shown = slice;
        rows.clear();
        tbody.replaceChildren(
          ...slice.map((n) => {
            const cells = TOPIC_COLUMNS.map(([, , c]) => h('td', { class: c || undefined }));
            const chart = h('td', { class: 'chart hide-narrow' });
            rows.set(n, { cells, chart });
            return h('tr', { 'data-topic': n }, h('td', null, h('a', { href: '#/ns/' + path(ns) + '/t/' + path(n), text: n })), ...cells, chart);
          }),
        );
      }
      stats.forEach((st, i) => {
        const row = rows.get(slice[i]);
        if (st.error) {
          row.cells[0].textContent = 'error';
          row.cells[0].title = st.error;
          return;
        }
        TOPIC_COLUMNS.forEach(([, f], j) => (row.cells[j].textContent = f(st)));
        row.cells[4].classList.toggle('bad', st.dlq_depth > 0);
        row.chart.replaceChildren(rateChart(ns, st.topic, 120, 26));
      });
    },
  };
}

/** How a payload is shown: JSON as JSON; other bytes as base64 or hex, with a toggle. */
function payloadView(m) {
  const cut = typeof m.payload_size === 'number' ? m.payload_size : undefined;
  const note = (shownBytes) => (cut !== undefined && shownBytes !== undefined && cut > shownBytes ? ' (first ' + fmtInt(shownBytes) + ' of ' + fmtInt(cut) + ' bytes)' : '');
  if (m.payload_encoding !== 'base64') {
    const text = JSON.stringify(m.payload, null, 2);
    return h('div', null, h('span', { class: 'pill', text: 'JSON' + note(new TextEncoder().encode(JSON.stringify(m.payload)).length) }), h('pre', { class: 'payload', text: text }));
  }
  const b64 = String(m.payload);
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
  const pre = h('pre', { class: 'payload', text: b64 });
  const label = h('span', { class: 'pill', text: 'base64' + note(bytes.length) });
  let asHex = false;
  const toggle = h('button', { type: 'button', class: 'ghost', text: 'Show hex', 'aria-pressed': 'false' });
  toggle.addEventListener('click', () => {
    asHex = !asHex;
    pre.textContent = asHex ? hex : b64;
    label.textContent = (asHex ? 'hex' : 'base64') + note(bytes.length);
    toggle.textContent = asHex ? 'Show base64' : 'Show hex';
    toggle.setAttribute('aria-pressed', String(asHex));
  });
  return h('div', null, h('div', { class: 'row' }, label, toggle), pre);
}

function messageList(list, messages) {
  if (messages.length === 0) {
    list.append(h('li', { class: 'muted', text: 'No messages.' }));
    return;
  }
  for (const m of messages) {
    const headers = Object.entries(m.headers || {})
      .map(([k, v]) => k + '=' + v)
      .join(', ');
    list.append(
      h(
        'li',
        { 'data-id': m.id },
        h('div', { class: 'meta', text: 'id ' + m.id + ' · queue ' + m.queue_id + ' · deliveries ' + m.delivery_count + (headers ? ' · ' + headers : '') }),
        payloadView(m),
      ),
    );
  }
}

/** A pager over peek or the DLQ: first page, then "more" with the cursor. */
function browser(kind, urlOf) {
  const list = h('ul', { class: 'msgs', 'aria-label': kind });
  const more = h('button', { type: 'button', class: 'ghost', text: 'More', hidden: true });
  const out = h('p', { class: 'error', role: 'alert' });
  let cursor = null;
  let base = '';
  async function load(first) {
    const q = base + (first || !cursor ? '' : '&cursor=' + encodeURIComponent(cursor));
    const r = await api('GET', urlOf() + q);
    if (first) list.replaceChildren();
    messageList(list, r.messages);
    cursor = r.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => act(more, out, () => load(false)));
  return {
    list,
    more,
    out,
    start(query, button, errOut) {
      base = query;
      cursor = null;
      return act(button, errOut, () => load(true));
    },
  };
}

/** One topic: stats, queues, chart, and what can be done to it. */
function topicView(ns, topic) {
  setCrumbs([['Namespaces', '#/'], [ns, '#/ns/' + path(ns)], [topic, '#/ns/' + path(ns) + '/t/' + path(topic)]]);
  const base = topicPath(ns, topic);
  const heading = h('h2', { tabindex: -1, text: 'Topic ' + ns + '/' + topic });
  const summary = h('dl', { class: 'figures', id: 'topic-figures' });
  const chartBox = h('div', { class: 'chart-box' });
  const queuesBody = h('tbody');
  const policyNote = h('p', { class: 'muted' });

  // delete
  const del = h('button', { type: 'button', class: 'danger', text: 'Delete topic' });
  const delOut = h('p', { class: 'error', role: 'alert' });
  del.addEventListener('click', async () => {
    if (!(await confirmAction('Delete topic "' + ns + '/' + topic + '" and all its messages?', 'Delete topic'))) return;
    act(del, delOut, () =>
      quietly(async () => {
        await api('DELETE', base);
        state.view = null;
        location.hash = '#/ns/' + path(ns);
      }),
    );
  });

  // pause / resume deliveries (docs/DESIGN.md, "Pause"), purge (docs/DESIGN.md, "Purge")
  let paused = false;
  const pause = h('button', { type: 'button', text: 'Pause deliveries' });
  const purge = h('button', { type: 'button', class: 'danger', text: 'Purge' });
  const holdOut = h('p', { class: 'error', role: 'alert' });
  pause.addEventListener('click', () =>
    act(pause, holdOut, async () => {
      const r = await api('POST', base + (paused ? '/resume' : '/pause'));
      showPaused(r.paused);
      return r.paused ? 'Paused: publishes are accepted, nothing is delivered until resumed.' : 'Resumed: deliveries go on in order.';
    }),
  );
  purge.addEventListener('click', async () => {
    if (!(await confirmAction('Purge every pending and delayed message of "' + ns + '/' + topic + '"? Messages in flight are kept.', 'Purge'))) return;
    act(purge, holdOut, async () => {
      const r = await api('POST', base + '/purge');
      return 'Purged ' + fmtInt(r.purged) + ' message' + (r.purged === 1 ? '' : 's') + '.';
    });
  });
  function showPaused(p) {
    paused = p;
    pause.textContent = p ? 'Resume deliveries' : 'Pause deliveries';
  }

  // publish a test message
  const [payloadBox, payloadInput] = field('Payload', { tag: 'textarea', spellcheck: 'false' });
  payloadInput.value = '{"hello":"world"}';
  const [kindBox, kindSelect] = field('As', { tag: 'select' });
  kindSelect.append(h('option', { value: 'json', text: 'JSON value' }), h('option', { value: 'text', text: 'text (a JSON string)' }));
  const [pubQueueBox, pubQueue] = field('Queue (empty: routed)', { type: 'number', min: 0, class: 'w7' });
  const pubButton = h('button', { type: 'submit', text: 'Publish' });
  const pubOut = h('p', { class: 'error', role: 'alert' });
  const pubForm = h('form', null, payloadBox, h('div', { class: 'inline' }, kindBox, pubQueueBox, pubButton), pubOut);
  pubForm.addEventListener('submit', (e) => {
    e.preventDefault();
    act(pubButton, pubOut, async () => {
      let payload = payloadInput.value;
      if (kindSelect.value === 'json') {
        try {
          payload = JSON.parse(payload);
        } catch (err) {
          throw new Error('The payload is not JSON (' + err.message + '): fix it or choose "text".');
        }
      }
      const body = { payload };
      if (pubQueue.value !== '') body.queue_id = Number(pubQueue.value);
      const r = await api('POST', base + '/publish', body);
      return 'Published ' + r.message_id + ' to queue ' + r.queue_id + (r.duplicate ? ' (duplicate)' : '') + '.';
    });
  });

  // resize and rebalance
  const [sizeBox, sizeInput] = field('Queue count', { type: 'number', min: 1, required: true, class: 'w7' });
  const resize = h('button', { type: 'submit', text: 'Resize' });
  const rebalance = h('button', { type: 'button', class: 'ghost', text: 'Rebalance' });
  const sizeOut = h('p', { class: 'error', role: 'alert' });
  const sizeForm = h('form', { class: 'inline' }, sizeBox, resize, rebalance);
  sizeForm.addEventListener('submit', (e) => {
    e.preventDefault();
    act(resize, sizeOut, async () => {
      const r = await api('PUT', base + '/resize', { new_queue_count: Number(sizeInput.value) });
      return 'Now ' + r.new_queue_count + ' queues (version ' + r.version + (r.draining ? ', draining' : '') + ').';
    });
  });
  rebalance.addEventListener('click', () => act(rebalance, sizeOut, async () => (await api('POST', base + '/rebalance'), 'Rebalanced.')));

  // policy
  const policyFields = [
    ['max_retries', 'Max retries (-1: never dead-letter)', -1],
    ['retry_base_ms', 'Retry base (ms)', 0],
    ['retry_cap_ms', 'Retry cap (ms)', 0],
    ['dedup_window_ms', 'Dedup window (ms)', 0],
  ].map(([name, label, min]) => [name, ...field(label, { type: 'number', min, name, class: 'w9' })]);
  const setPolicy = h('button', { type: 'submit', text: 'Set policy' });
  const policyOut = h('p', { class: 'error', role: 'alert' });
  const policyForm = h('form', { class: 'inline' }, ...policyFields.map((f) => f[1]), setPolicy);
  let policyFilled = false;
  policyForm.addEventListener('submit', (e) => {
    e.preventDefault();
    act(setPolicy, policyOut, async () => {
      const body = {};
      for (const [name, , input] of policyFields) if (input.value !== '') body[name] = Number(input.value);
      await api('PUT', base + '/policy', body);
      return 'Policy set.';
    });
  });

  // peek
  const [peekQueueBox, peekQueue] = field('Queue', { tag: 'select' });
  const [orderBox, order] = field('From', { tag: 'select' });
  order.append(h('option', { value: 'asc', text: 'head (next out)' }), h('option', { value: 'desc', text: 'tail (newest)' }));
  const [limitBox, limit] = field('Limit', { type: 'number', min: 1, max: 100, value: 20, class: 'w6' });
  const peekButton = h('button', { type: 'submit', text: 'Peek' });
  const peek = browser('Peeked messages', () => base + '/queues/' + peekQueue.value + '/peek');
  const peekForm = h('form', { class: 'inline' }, peekQueueBox, orderBox, limitBox, peekButton);
  peekForm.addEventListener('submit', (e) => {
    e.preventDefault();
    peek.start('?limit=' + limit.value + '&order=' + order.value + '&preview_bytes=' + PREVIEW_BYTES, peekButton, peek.out);
  });

  // dead-letter queue
  const dlqButton = h('button', { type: 'button', text: 'Browse DLQ' });
  const dlq = browser('Dead-lettered messages', () => base + '/dlq');
  const redriveAll = h('button', { type: 'button', class: 'danger', text: 'Redrive all' });
  const [maxBox, maxInput] = field('How many', { type: 'number', min: 1, value: 1, class: 'w6' });
  const redriveSome = h('button', { type: 'button', text: 'Redrive some' });
  const dlqOut = h('p', { class: 'error', role: 'alert' });
  dlqButton.addEventListener('click', () => dlq.start('?limit=20&preview_bytes=' + PREVIEW_BYTES, dlqButton, dlqOut));
  const redrive = async (button, max) => {
    const what = max ? 'the first ' + max + ' dead-lettered messages' : 'every dead-lettered message';
    if (!(await confirmAction('Move ' + what + ' of "' + ns + '/' + topic + '" back to its queues?', max ? 'Redrive' : 'Redrive all'))) return;
    await act(button, dlqOut, async () => {
      const r = await api('POST', base + '/dlq/redrive', max ? { max } : {});
      dlq.list.replaceChildren();
      dlq.more.hidden = true;
      return 'Redrove ' + fmtInt(r.moved) + ' message' + (r.moved === 1 ? '' : 's') + '.';
    });
  };
  redriveAll.addEventListener('click', () => redrive(redriveAll, 0));
  redriveSome.addEventListener('click', () => redrive(redriveSome, Number(maxInput.value)));

  const card = (title, ...body) => {
    const id = nextId('c');
    return h('section', { class: 'card', 'aria-labelledby': id }, h('h3', { id, text: title }), ...body);
  };
  const el = h(
    'div',
    null,
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'row between' }, heading, h('div', { class: 'row' }, pause, purge, del)),
      delOut,
      holdOut,
      summary,
      h('div', { class: 'row' }, h('span', { class: 'legend' }, 'Last 5 minutes: ', h('span', { class: 'pub', text: '— publish/s' }), ' ', h('span', { class: 'ack', text: '- - ack/s' }))),
      chartBox,
    ),
    card(
      'Queues',
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { id: 'queues' },
          h(
            'thead',
            null,
            h('tr', null, ...['Queue', 'Pending', 'In flight', 'Delayed', 'Published', 'Acked', 'Publish/s', 'Ack/s', 'Oldest'].map((t) => h('th', { text: t }))),
          ),
          queuesBody,
        ),
      ),
    ),
    h(
      'div',
      { class: 'grid2' },
      card('Publish a test message', pubForm),
      card('Peek', peekForm, peek.out, peek.list, peek.more),
      card('Dead-letter queue', h('div', { class: 'row' }, dlqButton, redriveAll, maxBox, redriveSome), dlqOut, dlq.list, dlq.more, dlq.out),
      card('Resize', sizeForm, sizeOut),
      card('Policy', policyNote, policyForm, policyOut),
    ),
  );
  let queueCount = -1;
  return {
    el,
    heading,
    async update() {
      const st = await api('GET', base + '/stats');
      remember(st, Date.now());
      if (!pause.disabled) showPaused(st.paused);
      figures(summary, [
        ['Queues', fmtInt(st.queue_count) + (st.draining ? ' (draining)' : '')],
        ['Deliveries', st.paused ? 'paused' : 'on'],
        ['Pending', fmtInt(st.pending)],
        ['In flight', fmtInt(st.in_flight)],
        ['Delayed', fmtInt(st.delayed)],
        ['DLQ', fmtInt(st.dlq_depth)],
        ['Publish/s', fmtRate(st.publish_rate)],
        ['Ack/s', fmtRate(st.ack_rate)],
        ['Oldest pending', fmtMs(st.oldest_pending_age_ms)],
        ['Published', fmtInt(st.published)],
        ['Acked', fmtInt(st.acked)],
        ['Redelivered', fmtInt(st.redelivered)],
        ['Dead-lettered', fmtInt(st.dead_lettered)],
      ]);
      const w = Math.max(200, Math.min(900, chartBox.clientWidth || 600));
      chartBox.replaceChildren(rateChart(ns, topic, w, 80));
      queuesBody.replaceChildren(
        ...st.queues.map((q) =>
          h(
            'tr',
            null,
            ...[q.queue_id, fmtInt(q.pending), fmtInt(q.in_flight), fmtInt(q.delayed), fmtInt(q.published), fmtInt(q.acked), fmtRate(q.publish_rate), fmtRate(q.ack_rate), fmtMs(q.oldest_pending_age_ms)].map((v) =>
              h('td', { text: String(v) }),
            ),
          ),
        ),
      );
      if (queueCount !== st.queue_count) {
        queueCount = st.queue_count;
        const chosen = peekQueue.value;
        peekQueue.replaceChildren(...st.queues.map((q) => h('option', { value: q.queue_id, text: String(q.queue_id) })));
        if (chosen !== '' && st.queues.some((q) => String(q.queue_id) === chosen)) peekQueue.value = chosen;
        if (document.activeElement !== sizeInput) sizeInput.value = String(st.queue_count);
      }
      const p = st.policy || {};
      policyNote.textContent = 'In force: max retries ' + p.max_retries + ', retry ' + p.retry_base_ms + '–' + p.retry_cap_ms + ' ms, dedup window ' + fmtMs(p.dedup_window_ms) + '.';
      if (!policyFilled) {
        policyFilled = true;
        for (const [name, , input] of policyFields) input.value = p[name] ?? '';
      }
    },
  };
}

// ---- routing and polling ----

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'ns' && parts.length >= 2) {
    if (parts[2] === 't' && parts.length >= 4) return topicView(parts[1], parts[3]);
    return topicsView(parts[1]);
  }
  return namespacesView();
}

function route() {
  const view = parseHash();
  state.view = view;
  main.replaceChildren(view.el);
  poll(true).then(() => {
    if (state.view === view && document.activeElement === document.body) view.heading.focus();
  });
}

let pending = null;
async function poll(now) {
  if (now) clearTimeout(state.timer);
  if (pending) {
    if (now) pending.again = true;
    return pending.done;
  }
  const run = { again: false, done: null };
  pending = run;
  run.done = (async () => {
    const view = state.view;
    try {
      const results = await Promise.allSettled([updateServer(), view && state.quiet === 0 ? view.update() : Promise.resolve()]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      live.textContent = 'live · updated ' + new Date().toLocaleTimeString();
      live.classList.remove('bad');
    } catch (e) {
      live.textContent = e.status === 401 ? 'API key required' : 'not updated: ' + e.message;
      live.classList.add('bad');
    } finally {
      pending = null;
      clearTimeout(state.timer);
      // while the key prompt is up, wait for the key rather than asking again and again
      if (keyPrompt.hidden || run.again) state.timer = setTimeout(() => poll(false), run.again ? 0 : POLL_MS);
    }
  })();
  return run.done;
}

window.addEventListener('hashchange', route);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) poll(true);
});
route();
`;
