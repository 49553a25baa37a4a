import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The checkout's root, from where this module runs: dist/benchmarks/harness/. Ends with a slash. */
export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))

/** The shared editing traces sit beside the checkout (`../shared/traces`), as they do in the team's tree. */
export const tracesDir = join(repoRoot, '..', 'shared', 'traces')
