/** The dashboard's stylesheet (README.md, "Dashboard"): laptop and phone widths, visible focus, light and dark. */
export const STYLE_CSS = String.raw`
:root { --bg:#f6f7f9; --fg:#1b1f24; --muted:#5b6470; --card:#fff; --line:#d9dde3; --accent:#0b5fff; --accent-fg:#fff; --bad:#b00020; --ok:#0a7a3d; --pub:#0b5fff; --ack:#0a7a3d; --warn:#9a5b00;
  color-scheme: light dark; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
@media (prefers-color-scheme: dark) { :root { --bg:#111418; --fg:#e6e9ee; --muted:#9aa4b1; --card:#1a1f25; --line:#2e353e; --accent:#6ea0ff; --accent-fg:#0b0e12; --bad:#ff6b7f; --ok:#4cd88a; --pub:#6ea0ff; --ack:#4cd88a; --warn:#ffb44d; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5em; }
.skip:focus { left: .5em; z-index: 10; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5em 1em; padding: .6em 1em; background: var(--card); border-bottom: 1px solid var(--line); }
.top h1 { font-size: 1.2em; margin: 0; }
.top h1 a { color: inherit; text-decoration: none; }
.top nav { flex: 1; min-width: 0; }
#crumbs { list-style: none; display: flex; flex-wrap: wrap; gap: .3em; margin: 0; padding: 0; }
#crumbs li + li::before { content: "/"; color: var(--muted); margin-right: .3em; }
.live { color: var(--muted); font-size: .9em; }
.live.bad { color: var(--bad); }
main { padding: 0 1em 2em; max-width: 1300px; margin: 0 auto; }
main:focus, h2[tabindex="-1"]:focus { outline: none; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8em 1em; margin: 1em auto; max-width: 1300px; }
.server, .key { margin: 1em; }
@media (min-width: 1332px) { .server, .key { margin: 1em auto; } }
h2 { font-size: 1.1em; margin: 0 0 .5em; }
h3 { font-size: 1em; margin: .2em 0 .5em; }
.row { display: flex; flex-wrap: wrap; gap: .5em; align-items: center; }
.between { justify-content: space-between; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .4em 1em; margin: 0; }
.figures div { min-width: 0; }
.figures dt { color: var(--muted); font-size: .8em; }
.figures dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
button, input, select, textarea { font: inherit; color: inherit; }
button { background: var(--accent); color: var(--accent-fg); border: 1px solid var(--accent); border-radius: 6px; padding: .35em .8em; cursor: pointer; min-height: 2.2em; }
button.ghost { background: transparent; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
button:disabled { opacity: .6; cursor: default; }
input, select, textarea { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: .3em .5em; min-height: 2.2em; max-width: 100%; }
.w6 { width: 6em; } .w7 { width: 7em; } .w9 { width: 9em; }
textarea { width: 100%; min-height: 5em; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; }
label { font-size: .9em; color: var(--muted); }
.inline { display: flex; flex-wrap: wrap; gap: .4em .6em; align-items: end; }
.inline > div { display: flex; flex-direction: column; }
.error { color: var(--bad); margin: .3em 0 0; min-height: 0; }
.error:empty { display: none; }
.ok { color: var(--ok); margin: .3em 0 0; }
.ok:empty { display: none; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: .35em .5em; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { font-size: .8em; color: var(--muted); font-weight: 600; }
td.chart { padding: 0 .5em; }
td.bad { color: var(--bad); font-weight: 600; }
.spark { display: block; }
.spark .pub { stroke: var(--pub); }
.spark .ack { stroke: var(--ack); }
.legend { font-size: .8em; color: var(--muted); }
.legend .pub { color: var(--pub); } .legend .ack { color: var(--ack); }
.pager { display: flex; flex-wrap: wrap; gap: .5em; align-items: center; margin-top: .6em; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 1em; }
.grid2 > .card { margin: 1em 0 0; }
.msgs { list-style: none; padding: 0; margin: .5em 0 0; }
.msgs li { border-top: 1px solid var(--line); padding: .5em 0; }
.msgs .meta { font-size: .8em; color: var(--muted); overflow-wrap: anywhere; }
pre.payload { margin: .3em 0 0; padding: .5em; background: var(--bg); border-radius: 6px; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; font-size: .85em; max-height: 20em; }
.pill { display: inline-block; font-size: .75em; padding: 0 .5em; border-radius: 1em; border: 1px solid var(--line); color: var(--muted); }
.pill.warn { color: var(--warn); border-color: var(--warn); }
dialog { border: 1px solid var(--line); border-radius: 8px; background: var(--card); color: var(--fg); max-width: min(30em, 92vw); }
dialog::backdrop { background: rgb(0 0 0 / .4); }
.muted { color: var(--muted); }
@media (max-width: 600px) {
  :root { font-size: 14px; }
  main { padding: 0 .5em 2em; }
  .server, .key { margin: .5em; }
  .card { padding: .6em .7em; }
  .figures { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  th, td { padding: .3em .35em; }
  .hide-narrow { display: none; }
  .grid2 { grid-template-columns: minmax(0, 1fr); }
}
`;
