import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { defaultNodeConfig, startNode, type SyncmeshNode } from '../../src/node.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const adminToken = 'raft-failure-test-token'
let node: SyncmeshNode | null = null

afterEach(async () => {
  await node?.close()
  node = null
  removeTempDirs()
})

const putNamespace = (name: string) =>
  fetch(`${node!.url}/v1/namespaces/${name}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ schema: { roots: { body: 'text' } } }),
  })

test('when the Raft storage fails, the node says so: /readyz 503 with the reason, metadata writes 503, one error log; documents still work', async () => {
  const lines: { level: number; msg: string; kind?: string }[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line))
      done()
    },
  })
  const dataDir = tempDir()
  // Segments of 4 KiB: a few metadata writes fill one, and the WAL starts the next.
  node = await startNode(
    { ...defaultNodeConfig, id: 'n1', port: 0, dataDir, adminToken, clusterSecret: 'raft-failure-cluster-secret', raftTickMs: 20, raftWal: { segmentBytes: 4096, preallocateBytes: 4096 } },
    pino(sink),
  )
  await waitFor('n1 to lead', () => node!.cluster().leader === 'n1')
  expect((await putNamespace('before')).status).toBe(200)

  // A real failure of the file system: the WAL's directory is replaced by a file underneath the node. The
  // segment being written stays open and takes records; making the next one fails with ENOTDIR.
  renameSync(join(dataDir, 'raft-wal'), join(dataDir, 'raft-wal-moved'))
  writeFileSync(join(dataDir, 'raft-wal'), 'not a directory')

  let failed: Response | undefined
  for (let i = 0; i < 100 && !failed; i++) {
    const during = await putNamespace(`during-${i}`)
    if (during.status !== 200) failed = during
  }
  expect(failed?.status).toBe(503)
  expect(((await failed!.json()) as { error: { code: string } }).error.code).toBe('metadata_unavailable')
  const ready = await fetch(`${node.url}/readyz`)
  expect(ready.status).toBe(503)
  const reason = (await ready.json()) as { error: { code: string; message: string } }
  expect(reason.error.code).toBe('metadata_unavailable')
  expect(reason.error.message).toMatch(/^raft storage failed: writing the raft log failed: ENOTDIR/)
  const later = await putNamespace('after')
  expect(later.status).toBe(503)
  expect(((await later.json()) as { error: { code: string } }).error.code).toBe('metadata_unavailable')
  expect(lines.filter((line) => line.level >= 50)).toEqual([
    expect.objectContaining({ level: 50, kind: 'storage', msg: 'raft stopped; the metadata of this node is frozen until it restarts' }),
  ])

  const doc = new Y.Doc()
  doc.getText('body').insert(0, 'the data plane goes on')
  const write = await fetch(`${node.url}/v1/docs/free/update`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Y.encodeStateAsUpdate(doc),
  })
  expect(write.status).toBe(204)
})
