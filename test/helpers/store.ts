import { pino } from 'pino'
import { onTestFinished } from 'vitest'
import { NodeStorage } from '../../src/storage/lmdb-env.js'
import { DocStore, type DocStoreMetadata, type DocStoreOptions } from '../../src/docs/doc-store.js'
import { createMetrics } from '../../src/metrics.js'

export const silentLog = pino({ level: 'silent' })

/** The metadata of a node that has none: no namespace limits, no tombstones. */
export const noMetadata: DocStoreMetadata = { gate: () => ({ ok: true }), isDeleted: () => false }

/** A DocStore over a real LMDB environment in `dir`, closed when the test ends if the test did not close it. */
export function openStore(dir: string, options: Partial<DocStoreOptions> = {}, metadata: DocStoreMetadata = noMetadata) {
  const storage = new NodeStorage({ path: dir })
  const metrics = createMetrics()
  const docs = new DocStore(storage.docs, metrics, silentLog, metadata, options)
  let closing: Promise<void> | null = null
  const close = () =>
    (closing ??= (async () => {
      await docs.close()
      await storage.close()
    })())
  onTestFinished(close)
  return { storage, docs, metrics, close }
}
