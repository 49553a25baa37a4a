import { pino } from 'pino'
import { NodeStorage } from '../../src/storage/lmdb-env.js'
import { DocStore, type DocStoreOptions } from '../../src/docs/doc-store.js'
import { createMetrics } from '../../src/metrics.js'

export const silentLog = pino({ level: 'silent' })

/** A DocStore over a real LMDB environment in `dir`. */
export function openStore(dir: string, options: Partial<DocStoreOptions> = {}) {
  const storage = new NodeStorage({ path: dir })
  const metrics = createMetrics()
  const docs = new DocStore(storage.docs, metrics, silentLog, options)
  return {
    storage,
    docs,
    metrics,
    close: async () => {
      await docs.close()
      await storage.close()
    },
  }
}
