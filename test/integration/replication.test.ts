import * as Y from 'yjs'
import { afterEach, describe, expect, test } from 'vitest'
import { connectSynced, destroyProviders, sameState } from '../helpers/clients.js'
import { NodeProcess, killAllNodes } from '../helpers/node-process.js'
import { clusterView, startProxiedCluster, type ProxiedCluster } from '../helpers/proxied-cluster.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { closeAllProxies } from '../helpers/tcp-proxy.js'
import { sleep, waitFor } from '../helpers/wait.js'

let cluster: ProxiedCluster | null = null

afterEach(async () => {
  destroyProviders()
  await cluster?.close()
  cluster = null
  await closeAllProxies()
  await killAllNodes()
  removeTempDirs()
})

async function writeUpdate(url: string, name: string, update: Uint8Array): Promise<number> {
  const res = await fetch(`${url}/v1/docs/${encodeURIComponent(name)}/update`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: update,
  })
  return res.status
}

async function readText(url: string, name: string): Promise<{ status: number; text: string | null }> {
  const res = await fetch(`${url}/v1/docs/${encodeURIComponent(name)}?types=body:text`)
  return { status: res.status, text: res.ok ? ((await res.json()) as { body: string }).body : null }
}

function textUpdate(text: string, clientID: number): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = clientID
  doc.getText('body').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

describe('replication across real node processes', () => {
  test('an edit on one node reaches clients connected to the others', async () => {
    cluster = await startProxiedCluster({ antiEntropyMs: 60_000 })
    const [a, b, c] = await Promise.all(['n1', 'n2', 'n3'].map((id) => connectSynced(cluster!.node(id).url, 'live')))
    a!.doc.getText('body').insert(0, 'from n1')
    await waitFor('n2 and n3 clients to see the edit', () =>
      [b!, c!].every((p) => p.doc.getText('body').toString() === 'from n1'),
    )
    c!.doc.getText('body').insert(0, 'n3 says hi; ')
    await waitFor('the n1 client to see the n3 edit', () => a!.doc.getText('body').toString() === 'n3 says hi; from n1')
    const metrics = await (await fetch(`${cluster.node('n1').url}/metrics`)).text()
    expect(metrics).toContain('syncmesh_peer_link_up{peer="n2"} 1')
    expect(metrics).toMatch(/syncmesh_peer_live_updates_sent\{peer="n3"\} [1-9]/)
  })

  test('a new member receives every document from its peers', async () => {
    cluster = await startProxiedCluster({ antiEntropyMs: 200 })
    for (let i = 0; i < 50; i++) expect(await writeUpdate(cluster.node(`n${1 + (i % 3)}`).url, `old/${i}`, textUpdate(`doc ${i}`, 1))).toBe(204)
    await cluster.waitForIdenticalDocuments(['n1', 'n2', 'n3'], 50)
    const n4 = await NodeProcess.start([
      ...['--id', 'n4', '--data', tempDir(), '--cluster-secret', cluster.clusterSecret, '--admin-token', cluster.adminToken],
      ...['--raft-tick-ms', '20', '--anti-entropy-ms', '200', '--join', cluster.node('n1').url],
    ])
    await waitFor('n4 to hold every document', async () => (await clusterView(n4.url))?.replication.documents === 50)
    expect(await readText(n4.url, 'old/42')).toEqual({ status: 200, text: 'doc 42' })
  })

  test('a partition heals: concurrent edits and deletions on both sides merge, nothing acknowledged is lost', async () => {
    cluster = await startProxiedCluster({ antiEntropyMs: 200 })
    const names = ['p/a', 'p/b', 'p/c']
    const before = await Promise.all(names.map((name) => connectSynced(cluster!.node('n1').url, name)))
    for (const [i, p] of before.entries()) p.doc.getText('body').insert(0, `shared ${i} text`)
    await cluster.waitForIdenticalDocuments(['n1', 'n2', 'n3'], 3)
    destroyProviders()

    cluster.partition(['n1'], ['n2', 'n3'])
    const left = await Promise.all(names.map((name) => connectSynced(cluster!.node('n1').url, name)))
    const right = await Promise.all(names.map((name) => connectSynced(cluster!.node('n2').url, name)))
    for (const [i, p] of left.entries()) {
      p.doc.getText('body').insert(0, `left ${i} `)
      p.doc.getText('body').delete(p.doc.getText('body').length - 4, 4) // deletes "text"
    }
    for (const [i, p] of right.entries()) p.doc.getText('body').insert(p.doc.getText('body').length, ` right ${i}`)
    expect(await writeUpdate(cluster.node('n3').url, 'p/only-right', textUpdate('made on n3', 3))).toBe(204)
    expect(await writeUpdate(cluster.node('n1').url, 'p/only-left', textUpdate('made on n1', 1))).toBe(204)
    // Each side's clients converge among themselves: the edits were durable on their side.
    for (const side of [left, right]) {
      for (const p of side) await waitFor(`${p.roomname} to be synced`, () => p.synced)
    }

    cluster.heal()
    await cluster.waitForIdenticalDocuments(['n1', 'n2', 'n3'], 5)
    for (const [i] of names.entries()) {
      await waitFor(`clients of ${names[i]} on both sides to agree`, () => sameState(left[i]!.doc, right[i]!.doc))
      expect(left[i]!.doc.getText('body').toString()).toBe(`left ${i} shared ${i}  right ${i}`)
    }
    for (const id of ['n1', 'n2', 'n3']) {
      expect(await readText(cluster.node(id).url, 'p/only-right')).toEqual({ status: 200, text: 'made on n3' })
      expect(await readText(cluster.node(id).url, 'p/only-left')).toEqual({ status: 200, text: 'made on n1' })
    }
  })

  test('what a node receives by anti-entropy it relays to its other peers', async () => {
    // Anti-entropy ticks are rare here: only the reconciliation of a link coming up, and relays, carry data.
    cluster = await startProxiedCluster({ antiEntropyMs: 60_000 })
    cluster.partition(['n1'], ['n2', 'n3'])
    expect(await writeUpdate(cluster.node('n1').url, 'relayed', textUpdate('written while cut off', 1))).toBe(204)
    // n1 comes back to n2 only; n1 and n3 stay cut off from each other.
    for (const [from, to] of [['n1', 'n2'], ['n2', 'n1']] as const) cluster.proxy(from, to).heal()
    await waitFor('the document on n3', async () => (await readText(cluster!.node('n3').url, 'relayed')).text === 'written while cut off')
  })

  test('a divergence made only of a deletion is found and repaired', async () => {
    cluster = await startProxiedCluster({ antiEntropyMs: 200 })
    const writer = await connectSynced(cluster.node('n1').url, 'del/only')
    writer.doc.getText('body').insert(0, 'keep this, drop that')
    await cluster.waitForIdenticalDocuments(['n1', 'n2', 'n3'], 1)
    for (const id of ['n2', 'n3']) {
      await waitFor(`the text on ${id}`, async () => (await readText(cluster!.node(id).url, 'del/only')).text === 'keep this, drop that')
    }
    destroyProviders()

    cluster.partition(['n1'], ['n2', 'n3'])
    const deleter = await connectSynced(cluster.node('n2').url, 'del/only')
    deleter.doc.getText('body').delete(9, 11)
    await waitFor('the deletion to be durable on n2', async () => (await readText(cluster!.node('n2').url, 'del/only')).text === 'keep this')
    cluster.heal()
    await cluster.waitForIdenticalDocuments(['n1', 'n2', 'n3'], 1)
    expect(await readText(cluster.node('n1').url, 'del/only')).toEqual({ status: 200, text: 'keep this' })
  })

  test('a node killed with -9 during writes converges after its restart', async () => {
    cluster = await startProxiedCluster({ antiEntropyMs: 200 })
    const writes: Promise<number>[] = []
    for (let i = 0; i < 200; i++) {
      writes.push(writeUpdate(cluster.node(i % 2 === 0 ? 'n1' : 'n2').url, `k/${i % 20}`, textUpdate(`w${i} `, 1000 + i)))
      if (i === 100) await cluster.stop('n3')
    }
    const statuses = await Promise.all(writes)
    expect(statuses.every((s) => s === 204)).toBe(true)
    await cluster.restart('n3')
    await cluster.waitForIdenticalDocuments(['n1', 'n2', 'n3'], 20)
  })

  test('a node stopped while 10,000 documents changed catches up when it returns', async () => {
    cluster = await startProxiedCluster({ antiEntropyMs: 500 })
    await cluster.stop('n3')
    const url = cluster.node('n1').url
    const total = 10_000
    let next = 0
    const worker = async () => {
      while (next < total) {
        const i = next++
        expect(await writeUpdate(url, `bulk/${i}`, textUpdate(`doc ${i}`, 1))).toBe(204)
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))
    await cluster.restart('n3')
    await cluster.waitForIdenticalDocuments(['n1', 'n2', 'n3'], total, { timeoutMs: 120_000 })
    expect(await readText(cluster.node('n3').url, 'bulk/4711')).toEqual({ status: 200, text: 'doc 4711' })
  }, 180_000)

  test('a document deleted while a partitioned node edited it stays deleted everywhere after the heal', async () => {
    cluster = await startProxiedCluster({ antiEntropyMs: 200 })
    expect(await writeUpdate(cluster.node('n1').url, 'doomed', textUpdate('v1', 1))).toBe(204)
    await cluster.waitForIdenticalDocuments(['n1', 'n2', 'n3'], 1)

    cluster.partition(['n1'], ['n2', 'n3'])
    // Admin writes go to the leader over its member URL, which the partition does not cut: elect one on n2's side.
    await cluster.waitForLeader(['n2', 'n3'])
    expect(await writeUpdate(cluster.node('n1').url, 'doomed', textUpdate('edited while cut off', 7))).toBe(204)
    const deleted = await fetch(`${cluster.node('n2').url}/v1/docs/doomed`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${cluster.adminToken}` },
    })
    expect(deleted.status).toBe(200)

    cluster.heal()
    await cluster.waitForIdenticalDocuments(['n1', 'n2', 'n3'], 0)
    for (const id of ['n1', 'n2', 'n3']) {
      expect((await readText(cluster.node(id).url, 'doomed')).status).toBe(410)
      expect(await writeUpdate(cluster.node(id).url, 'doomed', textUpdate('again', 9))).toBe(410)
    }
  })

  test('a removed member refuses writes, drops its peer links once it has handed off, and learns nothing new', async () => {
    cluster = await startProxiedCluster({ antiEntropyMs: 200 })
    const removed = await fetch(`${cluster.node('n1').url}/v1/cluster/members/n3`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${cluster.adminToken}` },
    })
    expect(removed.status).toBe(200)
    await waitFor('n3 to learn of its removal', async () => (await fetch(`${cluster!.node('n3').url}/readyz`)).status === 503)
    expect(await writeUpdate(cluster.node('n3').url, 'from-removed', textUpdate('ignored', 3))).toBe(503)
    await waitFor('n3 to drop its peer links after its hand-off', async () => (await cluster!.view('n3'))?.peers.length === 0)
    expect(await writeUpdate(cluster.node('n1').url, 'after-removal', textUpdate('secret', 1))).toBe(204)
    await cluster.waitForIdenticalDocuments(['n1', 'n2'], 1)
    // Several anti-entropy rounds later, nothing has crossed in either direction.
    await sleep(1_000)
    expect((await readText(cluster.node('n3').url, 'after-removal')).status).toBe(404)
    for (const id of ['n1', 'n2']) expect((await readText(cluster.node(id).url, 'from-removed')).status).toBe(404)
  })
})
