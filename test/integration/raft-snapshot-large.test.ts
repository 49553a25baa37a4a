import { createHash } from 'node:crypto'
import { afterEach, expect, test } from 'vitest'
import { decodeMetaState, encodeMetaState } from '../../src/meta/codec.js'
import { defaultPeerTuning } from '../../src/peer/peer-tuning.js'
import { NodeStorage } from '../../src/storage/lmdb-env.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const common = { adminToken: 'large-snapshot-token', clusterSecret: 'large-snapshot-cluster-secret', raftTickMs: 20 }
const tombstoneCount = 300_000
/** Names with 64 distinct hex characters each, so that even compact the tombstones pass one peer frame. */
const deletedName = (i: number) => `notes/${createHash('sha256').update(String(i)).digest('hex')}`

afterEach(async () => {
  await closeTestNodes()
  removeTempDirs()
})

/**
 * Replaces the metadata in a stopped node's bootstrap snapshot by the same state plus `count` tombstones: as if
 * the cluster had deleted that many documents, without committing 300,000 commands one by one.
 */
async function seedTombstones(dataDir: string, count: number): Promise<number> {
  const storage = new NodeStorage({ path: dataDir })
  try {
    const stored = storage.raft.load()
    const decoded = decodeMetaState(stored.snapshot!.data)
    if (!decoded.ok) throw new Error(decoded.message)
    for (let i = 0; i < count; i++) decoded.state.tombstones.set(deletedName(i), 1)
    const data = encodeMetaState(decoded.state)
    storage.raft.saveSnapshot({ ...stored.snapshot!, data })
    return data.byteLength
  } finally {
    await storage.close()
  }
}

test('a member that joins a cluster holding 300,000 tombstones receives them in a snapshot past the frame limit', async () => {
  const n1Dir = tempDir()
  const first = await startTestNode({ ...common, id: 'n1', dataDir: n1Dir })
  await waitFor('n1 to lead', () => first.cluster().leader === 'n1')
  const port = first.port
  await first.close()
  const snapshotBytes = await seedTombstones(n1Dir, tombstoneCount)
  // The premise: no single peer frame could carry this snapshot.
  expect(snapshotBytes).toBeGreaterThan(defaultPeerTuning.maxFrameBytes)

  const n1 = await startTestNode({ ...common, id: 'n1', dataDir: n1Dir, port })
  await waitFor('n1 to lead again', () => n1.cluster().leader === 'n1')
  const n2Dir = tempDir()
  const n2 = await startTestNode({ ...common, id: 'n2', dataDir: n2Dir, join: n1.url })
  await waitFor(
    'n2 to catch up',
    () => n2.cluster().members.length === 2 && n2.cluster().commitIndex === n1.cluster().commitIndex,
    30_000,
  )
  for (const i of [0, 123_456, tombstoneCount - 1]) {
    expect((await fetch(`${n2.url}/v1/docs/${encodeURIComponent(deletedName(i))}`)).status).toBe(410)
  }
  expect((await fetch(`${n2.url}/v1/docs/${encodeURIComponent(deletedName(tombstoneCount))}`)).status).not.toBe(410)

  await n2.close()
  const n2Storage = new NodeStorage({ path: n2Dir })
  const persisted = decodeMetaState(n2Storage.raft.load().snapshot!.data)
  await n2Storage.close()
  expect(persisted.ok && persisted.state.tombstones.size).toBe(tombstoneCount)
}, 60_000)
