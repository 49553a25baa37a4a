// Bundles the demo (/) and the admin page (/admin) for browsers, at build time: nodes serve them with no CDN.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
await build({
  entryPoints: { demo: here('./demo.ts'), admin: here('./admin.ts') },
  outdir: here('../../dist/web'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
})
