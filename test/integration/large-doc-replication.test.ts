import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { startProxiedCluster, type ProxiedCluster } from '../helpers/proxied-cluster.js'
import { waitFor } from '../helpers/wait.js'

let cluster: ProxiedCluster | null = null
afterEach(async () => {
  await cluster?.close()
  cluster = null
})

const mib = 1024 * 1024

async function bodyOn(url: string): Promise<string | null> {
  const res = await fetch(`${url}/v1/docs/big/update`)
  if (res.status === 404) return null
  expect(res.status).toBe(200)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, new Uint8Array(await res.arrayBuffer()))
  return doc.getText('body').toString()
}

test('a 50 MiB document written on one node is read identical on the others: by live fan-out on a linked node, by anti-entropy on one partitioned while it was written', async () => {
  // No reconciliation rounds but the one when a link comes up: n2 can only get the document by live fan-out.
  cluster = await startProxiedCluster({ antiEntropyMs: 600_000 })
  const [n1, n2, n3] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0], (typeof cluster.nodes)[0]]
  cluster.partition(['n3'], ['n1', 'n2'])
  const linkState = async (from: string, to: string) => (await cluster!.view(from))?.peers.find((p) => p.id === to)?.link.state
  await waitFor('n1 to see its link to n3 down', async () => (await linkState('n1', 'n3')) === 'down')

  const written = new Y.Doc()
  // Distinct 1 MiB lines: content a real document could hold, not one repeated byte.
  for (let i = 0; i < 50; i++) written.getText('body').insert(written.getText('body').length, `${i}`.padEnd(mib, `-${i}`))
  const expected = written.getText('body').toString()
  const res = await fetch(`${n1.url}/v1/docs/big/update`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Y.encodeStateAsUpdate(written),
  })
  expect(res.status).toBe(204)

  await waitFor('n2 to hold the document', async () => (await bodyOn(n2.url)) !== null, 20_000)
  expect(await bodyOn(n2.url)).toBe(expected)
  expect(await bodyOn(n3.url)).toBeNull()

  cluster.heal()
  await cluster.waitForIdenticalDocuments(['n1', 'n2', 'n3'], 1)
  expect(await bodyOn(n3.url)).toBe(expected)
}, 60_000)
