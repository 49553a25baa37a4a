import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { Hono } from 'hono'
import { staticFile } from '../static-files.js'
import { openApiDocument } from './openapi-document.js'
import { routeCatalog } from './route-catalog.js'

const require = createRequire(import.meta.url)
const swaggerDir = dirname(require.resolve('swagger-ui-dist/package.json'))
const swaggerAssets = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
])
const { version } = require('syncmesh/package.json') as { version: string }

const docsPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>syncmesh API</title><link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div><script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: '/v1/openapi.json', dom_id: '#swagger-ui', deepLinking: true, tryItOutEnabled: true })</script>
</body></html>`

/** `/v1/openapi.json`, and `/docs`: Swagger UI over it, served from the swagger-ui-dist package (no CDN). */
export function openApiRoutes() {
  const document = openApiDocument(routeCatalog, { version })
  return new Hono()
    .get('/v1/openapi.json', (c) => c.json(document))
    .get('/docs', (c) => c.html(docsPage))
    .get('/docs/assets/:file', staticFile({ dir: swaggerDir, types: swaggerAssets, cacheControl: 'max-age=3600' }))
}
