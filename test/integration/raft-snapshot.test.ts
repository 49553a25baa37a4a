import { afterEach, expect, test } from 'vitest'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const common = { adminToken: 'snapshot-test-token', clusterSecret: 'snapshot-test-cluster-secret', raftTickMs: 20 }

afterEach(async () => {
  await closeTestNodes()
  removeTempDirs()
})

test('a node that joins after the log was compacted receives the metadata as a snapshot over the peer link', async () => {
  const n1 = await startTestNode({ ...common, id: 'n1', raftSnapshotEntries: 5 })
  await waitFor('n1 to lead', () => n1.cluster().leader === 'n1')
  for (let i = 0; i < 12; i++) {
    const res = await fetch(`${n1.url}/v1/namespaces/ns${i}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${common.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ schema: { roots: { body: 'text' } } }),
    })
    expect(res.status).toBe(200)
  }
  const n2 = await startTestNode({ ...common, id: 'n2', join: n1.url })
  await waitFor('n2 to hold the metadata', () => n2.cluster().members.length === 2 && n2.cluster().leader === 'n1')
  const namespaces = await fetch(`${n2.url}/v1/namespaces`, { headers: { authorization: `Bearer ${common.adminToken}` } })
  const names = ((await namespaces.json()) as { namespaces: { name: string }[] }).namespaces.map((n) => n.name)
  expect(names).toHaveLength(12)
  expect(n2.cluster().commitIndex).toBe(n1.cluster().commitIndex)
})
