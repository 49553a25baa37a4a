// The npm registry these machines reach lacks four platform builds of msgpackr-extract (an optional
// native speed-up of lmdb's msgpack codec). `npm install` then writes a lock that names them without
// entries, and `npm ci` refuses such a lock. Run this after `npm install` to drop those dangling names.
import { readFileSync, writeFileSync } from 'node:fs'

const path = new URL('../package-lock.json', import.meta.url)
const lock = JSON.parse(readFileSync(path, 'utf8'))
for (const [location, entry] of Object.entries(lock.packages)) {
  for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
    const nested = `${location ? `${location}/` : ''}node_modules/${dep}`
    if (!(nested in lock.packages) && !(`node_modules/${dep}` in lock.packages)) {
      delete entry.optionalDependencies[dep]
      console.log(`dropped ${dep} from ${location}`)
    }
  }
}
writeFileSync(path, JSON.stringify(lock, null, 2) + '\n')
