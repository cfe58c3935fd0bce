/**
 * The dashboard's HTML (README.md, "Dashboard"): a shell the script fills.
 * Built into the package as a module, so that `/ui` needs no file at run
 * time and nothing from the network.
 */
export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MQLite dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <h1><a href="#/">MQLite</a></h1>
  <nav aria-label="Breadcrumb"><ol id="crumbs"></ol></nav>
  <span id="live" class="live" role="status" aria-live="polite">connecting…</span>
  <button type="button" id="forget-key" class="ghost" hidden>Forget key</button>
</header>
<section id="key-prompt" class="card key" hidden aria-labelledby="key-title">
  <h2 id="key-title">API key required</h2>
  <p>This broker has API keys. The key is kept in this tab only (session storage) and sent as <code>X-API-Key</code>.</p>
  <form id="key-form">
    <label for="key-input">API key</label>
    <input id="key-input" type="password" autocomplete="off" required>
    <button type="submit">Use key</button>
    <p class="error" id="key-error" role="alert"></p>
  </form>
</section>
<section id="server" class="card server" aria-labelledby="server-title">
  <div class="row between">
    <h2 id="server-title">Server</h2>
    <div class="actions"><button type="button" id="rewrite">Rewrite AOF</button></div>
  </div>
  <p class="error" id="rewrite-out" role="alert"></p>
  <dl id="server-figures" class="figures"></dl>
  <p class="error" id="server-error" role="alert"></p>
</section>
<main id="main" tabindex="-1"></main>
</body>
</html>
`;
