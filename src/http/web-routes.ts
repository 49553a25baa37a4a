import { fileURLToPath } from 'node:url'
import { Hono } from 'hono'
import { staticFile } from './static-files.js'

// The browser bundles are built into dist/web by `npm run build` (client/web/bundle.mjs).
const webDir = fileURLToPath(new URL(import.meta.url.includes('/dist/src/') ? '../../web/' : '../../dist/web/', import.meta.url))
const assets = new Map([
  ['demo.js', 'text/javascript; charset=utf-8'],
  ['admin.js', 'text/javascript; charset=utf-8'],
  ['admin.css', 'text/css; charset=utf-8'],
])

const page = (title: string, body: string, script: string, stylesheet?: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>${stylesheet ? `<link rel="stylesheet" href="/assets/${stylesheet}">` : ''}
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; padding: 12px; max-width: 960px; margin-inline: auto; color: #222 }
  header { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: baseline; margin-bottom: 8px }
  h1 { font-size: 18px; margin: 0 }
  form { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0 }
  input { font: inherit; padding: 4px 6px; min-width: 0; flex: 1 1 160px }
  button { font: inherit; padding: 4px 10px }
  #status[data-state="synced"] { color: #2a7d2a } #status[data-state="offline"], #status[data-state="failed"] { color: #b22 }
  #editor .cm-editor { border: 1px solid #bbb; min-height: 50vh }
  table { border-collapse: collapse; width: 100%; margin-bottom: 16px; font-size: 14px }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #ddd; overflow-wrap: anywhere }
  .muted { color: #666 } #error { color: #b22 } pre { background: #f6f6f6; padding: 8px; overflow: auto; max-height: 40vh }
  td button { margin-right: 4px } .u-title { font-size: 13px; text-align: left } #charts canvas { display: block }
  #layout { display: grid; gap: 12px } @media (min-width: 760px) { #layout { grid-template-columns: minmax(0, 1fr) 280px } }
  #history h2 { font-size: 16px; margin: 0 } #version-title, #history-title { font-size: 15px; margin: 8px 0 4px }
  #versions { list-style: none; padding: 0; margin: 4px 0; max-height: 40vh; overflow: auto; font-size: 14px }
  #versions li { padding: 3px 0; border-bottom: 1px solid #eee } #versions .muted { font-size: 13px }
  #versions button { border: 0; background: none; padding: 0; font-weight: 600; cursor: pointer; text-align: left; color: #2a6fb0 }
  #versions button[aria-pressed="true"] { color: #222; background: #fff3bf } #version-changes { padding-left: 18px; font-size: 14px }
  .added { color: #2a7d2a } .removed { color: #b22 } #history-status[data-error] { color: #b22 }
</style></head>
<body>${body}<script type="module" src="/assets/${script}"></script></body></html>`

/** The history elements client/web/history-panel.ts fills, on both pages. */
const historyPanel = `<p id="history-status" class="muted" role="status"></p><ol id="versions"></ol>
<div id="version-preview" hidden><h3 id="version-title"></h3><pre id="version-content"></pre>
<p id="version-changes-title" class="muted"></p><ul id="version-changes"></ul><button id="restore-version" type="button">Restore this version</button></div>`

const demoPage = page(
  'syncmesh demo',
  `<header><h1>syncmesh</h1><span>status: <b id="status">connecting</b></span><span class="muted">node: <span id="node">–</span></span>
<span class="muted">you: <span id="who"></span></span><a href="/admin">admin</a></header>
<form id="picker"><input id="doc" aria-label="document" placeholder="document, e.g. notes/today">
<input id="token" aria-label="client token" placeholder="client token (if the node requires one)"><button>open</button></form>
<div id="layout"><div id="editor"></div>
<aside id="history" aria-label="history"><h2>History</h2>
<form id="save-version"><input id="version-label" aria-label="version label" placeholder="label, e.g. first draft" maxlength="200" required><button>Save version</button></form>
${historyPanel}</aside></div>`,
  'demo.js',
)

const adminPage = page(
  'syncmesh admin',
  `<header><h1>syncmesh admin</h1><a href="/">demo</a></header>
<form id="login"><input id="admin-token" type="password" aria-label="admin token" placeholder="admin token (kept for this tab only)"><button>show</button></form>
<p id="summary" class="muted"></p><p id="error" role="alert"></p>
<h2>Node metrics</h2><div id="charts"></div>
<h2>Members</h2><table><thead><tr><th>id</th><th>role</th><th></th><th>url</th><th></th></tr></thead><tbody id="members"></tbody></table>
<form id="add-member"><input id="member-id" aria-label="member id" placeholder="id" required><input id="member-url" aria-label="member url" placeholder="http://10.0.0.4:4000" required>
<label><input id="member-voter" type="checkbox"> voter</label><button>add member</button></form>
<h2>Peers (replication)</h2><table><thead><tr><th>peer</th><th>link</th><th>bytes sent</th><th>bytes received</th><th>last reconciliation</th><th></th></tr></thead><tbody id="peers"></tbody></table>
<h2>Namespaces</h2><table><thead><tr><th>name</th><th>roots</th><th>limits</th><th></th><th></th></tr></thead><tbody id="namespaces"></tbody></table>
<form id="put-namespace"><input id="ns-name" aria-label="namespace" placeholder="namespace" required><input id="ns-roots" aria-label="roots" placeholder="body:text,meta:map">
<input id="ns-max-update" type="number" min="1" aria-label="max update bytes" placeholder="max update bytes"><input id="ns-max-doc" type="number" min="1" aria-label="max document bytes" placeholder="max document bytes">
<label><input id="ns-read-only" type="checkbox"> read-only</label><label><input id="ns-public-read" type="checkbox"> public read</label><button>save namespace</button></form>
<h2>Documents</h2><table><thead><tr><th>name</th><th>bytes</th><th>updated</th><th></th></tr></thead><tbody id="docs"></tbody></table>
<p id="doc-title" class="muted"></p><pre id="doc-json"></pre>
<section id="doc-history" hidden><h3 id="history-title"></h3>${historyPanel}</section>
<h2>Webhooks</h2><table><thead><tr><th>id</th><th>url</th><th>events</th><th>prefix</th><th></th></tr></thead><tbody id="webhooks"></tbody></table>
<form id="add-webhook"><input id="hook-url" aria-label="webhook url" placeholder="https://hooks.example/syncmesh" required><input id="hook-prefix" aria-label="prefix" placeholder="prefix (all documents without)">
<label><input id="hook-updated" type="checkbox" checked> updated</label><label><input id="hook-deleted" type="checkbox" checked> deleted</label><button>add webhook</button></form>
<p id="hook-secret"></p>
<h2>Failed deliveries</h2><table><thead><tr><th>webhook</th><th>document</th><th>change</th><th>attempts</th><th>last error</th><th>given up</th></tr></thead><tbody id="failed-deliveries"></tbody></table>
<p id="deliveries-title" class="muted"></p><pre id="deliveries-json"></pre>`,
  'admin.js',
  'admin.css',
)

/** The browser demo at `/`, the admin page at `/admin`, and their bundles under `/assets/`. */
export function webRoutes(): Hono {
  const app = new Hono()
  app.get('/', (c) => c.html(demoPage))
  app.get('/admin', (c) => c.html(adminPage))
  app.get('/assets/:file', staticFile({ dir: webDir, types: assets, cacheControl: 'no-cache', missing: (file) => `${file} is not built; run npm run build` }))
  return app
}
