import { pino } from 'pino'
import { onTestFinished } from 'vitest'
import { NodeStorage } from '../../src/storage/lmdb-env.js'
import { DocStore, type DocStoreOptions } from '../../src/docs/doc-store.js'
import { createMetrics } from '../../src/metrics.js'

export const silentLog = pino({ level: 'silent' })

/** A DocStore over a real LMDB environment in `dir`, closed when the test ends if the test did not close it. */
export function openStore(dir: string, options: Partial<DocStoreOptions> = {}) {
  const storage = new NodeStorage({ path: dir })
  const metrics = createMetrics()
  const docs = new DocStore(storage.docs, metrics, silentLog, options)
  let closing: Promise<void> | null = null
  const close = () =>
    (closing ??= (async () => {
      await docs.close()
      await storage.close()
    })())
  onTestFinished(close)
  return { storage, docs, metrics, close }
}
