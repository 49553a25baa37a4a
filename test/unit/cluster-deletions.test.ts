import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { ClusterDeletions } from '../../src/docs/cluster-deletions.js'
import { ChangeFeed } from '../../src/changes/change-feed.js'
import { ChangeRecorder, defaultChangeRecorderOptions } from '../../src/changes/change-recorder.js'
import { emptyMetaState, type MetaState } from '../../src/meta/state.js'
import { openStore, silentLog } from '../helpers/store.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterEach(removeTempDirs)

const member = { id: 'self', url: 'http://127.0.0.1:1', role: 'voter' as const }

/** ClusterDeletions on a real store and change feed; sessions and histories hold nothing here. */
function open(dir: string, meta: MetaState) {
  const store = openStore(dir)
  const recorder = new ChangeRecorder(store.docs, store.storage.changes, silentLog, { ...defaultChangeRecorderOptions, quietMs: 60_000, maxDelayMs: 60_000 })
  const feed = new ChangeFeed(recorder, 10)
  const deletions = new ClusterDeletions(
    {
      selfId: 'self',
      meta: () => meta,
      docs: store.docs,
      sync: { closeDoc: () => {}, hasDoc: () => false },
      history: { dropDeleted: async () => {}, holds: () => false },
      changes: store.storage.changes,
    },
    silentLog,
  )
  const recorded = async () => {
    await store.storage.docs.transact(() => {}) // after the removals queued before it
    await recorder.flush()
    const page = feed.page(undefined, () => true, 100)
    if (!page.ok) throw new Error(page.reason)
    return page.changes.map((c) => `${c.type} ${c.name}`)
  }
  const close = async () => {
    feed.close()
    await recorder.close()
    await store.close()
  }
  return { ...store, deletions, recorded, close }
}

function write(docs: ReturnType<typeof openStore>['docs'], name: string) {
  const doc = new Y.Doc()
  doc.getText('body').insert(0, name)
  return docs.apply(name, Y.encodeStateAsUpdate(doc), 'test')
}

test('before it is a member a node records the deletions of what it holds only; after, every deletion, once', async () => {
  const meta = emptyMetaState()
  const { docs, deletions, recorded, close } = open(tempDir(), meta)
  await write(docs, 'held')
  expect(await recorded()).toEqual(['updated held'])
  deletions.applied('held', 3)
  deletions.applied('elsewhere', 4)
  expect(await recorded()).toEqual(['updated held', 'deleted held'])

  deletions.joinedAt(5)
  deletions.applied('unheld', 7)
  deletions.applied('unheld', 7) // the log replayed after a restart
  deletions.joinedAt(9) // only the first counts
  deletions.applied('other', 8)
  expect(await recorded()).toEqual(['updated held', 'deleted held', 'deleted unheld', 'deleted other'])
  await close()
})

test('catching up after a snapshot records the deletions after the last one recorded, whatever the order of their names', async () => {
  let meta: MetaState = { ...emptyMetaState(), members: new Map([['self', member]]) }
  const dir = tempDir()
  const first = open(dir, meta)
  first.deletions.joinedAt(5)
  await write(first.docs, 'kept/held')
  await first.close()

  // The snapshot's tombstones come in name order.
  meta = { ...meta, tombstones: new Map([['a', 12], ['b', 10], ['c', 3], ['kept/held', 4]]) }
  const { deletions, recorded, close } = open(dir, meta)
  deletions.catchUp()
  expect(await recorded()).toEqual(['updated kept/held', 'deleted kept/held', 'deleted b', 'deleted a'])
  deletions.catchUp()
  expect((await recorded()).length).toBe(4)
  await close()
})

test('a member that has recorded no deletion starts after those its metadata already holds', async () => {
  const meta: MetaState = { ...emptyMetaState(), members: new Map([['self', member]]), tombstones: new Map([['old', 40]]) }
  const { deletions, recorded, close } = open(tempDir(), meta)
  deletions.catchUp()
  deletions.applied('new', 41)
  expect(await recorded()).toEqual(['deleted new'])
  await close()
})
