/**
 * The comparison table (text and markdown) and its chart (a hand-written
 * SVG), from the medians of a run.
 */
import type { Metric } from './workloads.js';

export interface PeerCell {
  peer: string;
  value: number;
  /** MQLite / peer. */
  ratio: number;
  /** The peer's durability setting is the same as MQLite's on this row. */
  matched: boolean;
}

export interface Row {
  workload: string;
  metric: Metric;
  front: string;
  fsync: string;
  mqlite: number;
  peers: PeerCell[];
}

export interface Context {
  date: string;
  machine: string;
  versions: string;
  command: string;
  durability: string;
}

/** MQLite at or ahead of the peer on this row. */
export function ahead(metric: Metric, ratio: number): boolean {
  return metric.higherIsBetter ? ratio >= 1 : ratio <= 1;
}

/** How many times better MQLite is (> 1) or worse (< 1), whichever way the metric goes. */
export function advantage(metric: Metric, ratio: number): number {
  return metric.higherIsBetter ? ratio : 1 / ratio;
}

function formatValue(metric: Metric, v: number): string {
  if (!Number.isFinite(v)) return '-';
  return metric.unit === 'ms' ? v.toFixed(3) : Math.round(v).toLocaleString('en-US');
}

function formatRatio(metric: Metric, cell: PeerCell | undefined): string {
  if (!cell || !Number.isFinite(cell.ratio)) return '-';
  return `${cell.ratio.toFixed(2)} ${ahead(metric, cell.ratio) ? '▲' : '▼'}${cell.matched ? '' : '*'}`;
}

/** Peer labels in the order of the columns. */
function peerColumns(rows: readonly Row[]): string[] {
  const seen: string[] = [];
  for (const r of rows) for (const c of r.peers) if (!seen.includes(c.peer)) seen.push(c.peer);
  return seen;
}

/** A table as strings; `right` marks the right-aligned (numeric) columns. */
export interface Grid {
  header: string[];
  body: string[][];
  right: boolean[];
}

export function ratioGrid(rows: readonly Row[]): Grid {
  const peers = peerColumns(rows);
  const header = ['workload', 'metric', 'MQLite front', 'fsync', 'MQLite', ...peers.flatMap((p) => [p, `MQLite/${p.split(' ')[0]}`])];
  const body = rows.map((r) => [
    r.workload,
    r.metric.label,
    r.front,
    r.fsync,
    formatValue(r.metric, r.mqlite),
    ...peers.flatMap((p) => {
      const cell = r.peers.find((c) => c.peer === p);
      return [cell ? formatValue(r.metric, cell.value) : '', formatRatio(r.metric, cell)];
    }),
  ]);
  return { header, body, right: header.map((_, i) => i >= 4) };
}

/** One line per workload, metric and fsync; a ratio column per peer and front. */
export function ratioSummaryGrid(rows: readonly Row[]): Grid {
  const peers = peerColumns(rows);
  const fronts = [...new Set(rows.map((r) => r.front))];
  const header = ['workload', 'metric', 'fsync', ...peers.flatMap((p) => fronts.map((f) => `${p.split(' ')[0]}: ${f}`))];
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.workload}|${r.metric.label}|${r.fsync}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const body = [...groups.values()].map((g) => [
    g[0]!.workload,
    g[0]!.metric.label,
    g[0]!.fsync,
    ...peers.flatMap((p) => fronts.map((f) => formatRatio(g[0]!.metric, g.find((r) => r.front === f)?.peers.find((c) => c.peer === p)))),
  ]);
  return { header, body, right: header.map((_, i) => i >= 3) };
}

export const LEGEND =
  'ratio = MQLite / peer; ▲ MQLite at or ahead (higher msgs/s, lower ms), ▼ behind; ' +
  '* durability not matched (NATS 2.9 has no fsync-per-write or per-second setting: weaker than everysec)';

export function renderText({ header, body, right }: Grid): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cols: string[]): string =>
    cols.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  let last = '';
  const out = [line(header), line(widths.map((w) => '-'.repeat(w)))];
  for (const b of body) {
    // The first column once per group keeps a long table readable.
    const shown = b[0] === last ? ['', ...b.slice(1)] : b;
    last = b[0]!;
    out.push(line(shown));
  }
  return out.join('\n');
}

export function renderMarkdown({ header, body, right }: Grid): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${right.map((r) => (r ? '---:' : '---')).join('|')}|`,
    ...body.map((b) => `| ${b.map(esc).join(' | ')} |`),
  ].join('\n');
}

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Horizontal bars of MQLite's advantage over each peer per row, on a log
 * scale centred on 1× (right: MQLite better, left: behind), clamped to
 * 1/8×..8× with the true value printed beside the bar.
 */
export function svgChart(rows: readonly Row[], ctx: Context): string {
  const peers = peerColumns(rows);
  const colours = ['#d6604d', '#4393c3', '#8c6bb1', '#5aae61'];
  const barH = 9;
  const rowH = barH * peers.length + 8;
  const labelW = 300;
  const plotW = 520;
  const top = 70;
  const width = labelW + plotW + 140;
  const height = top + rows.length * rowH + 30 + 5 * 16 + 10;
  const span = 3; // log2(8)
  const x = (adv: number): number => Math.round(10 * (labelW + plotW / 2 + (Math.max(-span, Math.min(span, Math.log2(adv))) / span) * (plotW / 2))) / 10;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">MQLite against Redis and NATS JetStream, same machine, same run</text>`,
    `<text x="10" y="38">How many times better MQLite is (right of 1×) or worse (left): throughput MQLite/peer, latency peer/MQLite. Log scale, clamped to 8×.</text>`,
  );
  peers.forEach((p, i) => {
    parts.push(
      `<rect x="${10 + i * 190}" y="48" width="10" height="10" fill="${colours[i % colours.length]}"/>`,
      `<text x="${24 + i * 190}" y="57">${xml(p)}</text>`,
    );
  });
  parts.push(`<text x="${10 + peers.length * 190}" y="57">hollow bar: durability not matched</text>`);
  for (const tick of [1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8]) {
    const tx = x(tick);
    parts.push(
      `<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${top + rows.length * rowH}" stroke="${tick === 1 ? '#000' : '#ddd'}"/>`,
      `<text x="${tx}" y="${top + rows.length * rowH + 14}" text-anchor="middle">${tick < 1 ? `1/${1 / tick}` : tick}×</text>`,
    );
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    if (i % 2 === 0) parts.push(`<rect x="0" y="${y - 2}" width="${width}" height="${rowH}" fill="#f6f6f6" fill-opacity="0.6"/>`);
    parts.push(`<text x="10" y="${y + rowH / 2 + 2}">${xml(`${r.workload} · ${r.metric.label} · ${r.front} · ${r.fsync}`)}</text>`);
    peers.forEach((p, j) => {
      const cell = r.peers.find((c) => c.peer === p);
      if (!cell || !Number.isFinite(cell.ratio)) return;
      const adv = advantage(r.metric, cell.ratio);
      const x0 = x(1);
      const x1 = x(adv);
      const colour = colours[j % colours.length]!;
      const by = y + j * barH;
      const fill = cell.matched ? `fill="${colour}"` : `fill="white" stroke="${colour}"`;
      parts.push(`<rect x="${Math.min(x0, x1)}" y="${by}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}" height="${barH - 2}" ${fill}/>`);
      const tx = adv >= 1 ? Math.max(x0, x1) + 3 : Math.min(x0, x1) - 3;
      parts.push(`<text x="${tx.toFixed(1)}" y="${by + barH - 2}" font-size="9" text-anchor="${adv >= 1 ? 'start' : 'end'}">${adv.toFixed(2)}×</text>`);
    });
  });
  const foot = top + rows.length * rowH + 34;
  [ctx.date, ctx.machine, ctx.versions, ctx.command, ctx.durability].forEach((line, i) => {
    parts.push(`<text x="10" y="${foot + i * 16}" fill="#444">${xml(line)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
