import * as Y from 'yjs'
import { afterEach, describe, expect, test } from 'vitest'
import { DocStore, type ApplyResult } from '../../src/docs/doc-store.js'
import { docToJson } from '../../src/docs/doc-json.js'
import { createMetrics } from '../../src/metrics.js'
import { VersionHistory } from '../../src/history/version-history.js'
import { noMetadata, openStore, silentLog } from '../helpers/store.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterEach(removeTempDirs)

/** A history store on real LMDB whose writes, once `hold` is called, wait for `release`: a slow disk, held still. */
class HeldHistories extends DocStore {
  private held: Promise<void> | null = null
  release: () => void = () => {}

  hold(): void {
    this.held = new Promise((resolve) => (this.release = resolve))
  }

  override async apply(name: string, update: Uint8Array, origin: unknown): Promise<ApplyResult> {
    await this.held
    return super.apply(name, update, origin)
  }
}

/** A client's edit of the stored document, as the update it would send. */
function clientEdit(docs: DocStore, name: string, change: (doc: Y.Doc) => void): Uint8Array {
  const doc = new Y.Doc()
  const stored = docs.readUpdate(name)
  if (stored) Y.applyUpdate(doc, stored)
  const before = Y.encodeStateVector(doc)
  change(doc)
  return Y.encodeStateAsUpdate(doc, before)
}

describe('restoring a version', () => {
  test('undoes exactly the state it keeps as "before": an edit that lands while that version is written stays', async () => {
    const { storage, docs } = openStore(tempDir())
    const histories = new HeldHistories(storage.history, createMetrics(), silentLog, noMetadata)
    const versions = new VersionHistory(
      { docs, histories, retention: () => ({ keepVersions: 10, keepDays: 1 }), now: Date.now },
      silentLog,
    )
    const write = async (change: (doc: Y.Doc) => void) => expect(await docs.apply('d', clientEdit(docs, 'd', change), 'ws')).toEqual({ ok: true })

    await write((d) => d.getText('t').insert(0, 'A'))
    const saved = await versions.create('d', { kind: 'named', label: 'just A', by: null, editors: [] })
    if (!saved.ok || !saved.value) throw new Error('no version made')
    await write((d) => d.getText('t').insert(1, 'B'))

    histories.hold()
    const restore = versions.restore('d', saved.value.id, null, {})
    await write((d) => d.getText('t').insert(2, 'C'))
    histories.release()
    const restored = await restore
    if (!restored.ok) throw new Error(restored.message)

    // The restore undid "B" (the state it read was "AB"); "C", written after that reading, merges with it.
    expect(docs.withDoc('d', (doc) => docToJson(doc))).toEqual({ t: 'AC' })
    expect(versions.read('d', restored.value.before!.id, (doc) => docToJson(doc))).toEqual({ ok: true, value: { t: 'AB' } })
    await histories.close()
  })
})
