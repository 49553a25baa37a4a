import { open } from 'lmdb'
import * as Y from 'yjs'
import { afterEach, describe, expect, test } from 'vitest'
import { killAllNodes } from '../helpers/node-process.js'
import { startProxiedCluster, type ProxiedCluster } from '../helpers/proxied-cluster.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { closeAllProxies } from '../helpers/tcp-proxy.js'
import { waitFor, waitForValue } from '../helpers/wait.js'

let cluster: ProxiedCluster | null = null

afterEach(async () => {
  await cluster?.close()
  cluster = null
  await closeAllProxies()
  await killAllNodes()
  removeTempDirs()
})

const noAutoVersions = ['--version-quiet-ms', '0', '--version-interval-ms', '0']

interface Version {
  id: string
  label: string
}

async function appendText(url: string, name: string, text: string): Promise<void> {
  const doc = new Y.Doc()
  const stored = await fetch(`${url}/v1/docs/${name}/update`)
  if (stored.ok) Y.applyUpdate(doc, new Uint8Array(await stored.arrayBuffer()))
  const before = Y.encodeStateVector(doc)
  const body = doc.getText('body')
  body.insert(body.length, text)
  const res = await fetch(`${url}/v1/docs/${name}/update`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Y.encodeStateAsUpdate(doc, before) as Uint8Array<ArrayBuffer>,
  })
  expect(res.status).toBe(204)
}

async function saveVersion(url: string, name: string, label: string): Promise<Version> {
  const res = await fetch(`${url}/v1/docs/${name}/versions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label }) })
  expect(res.status).toBe(201)
  return (await res.json()) as Version
}

async function versionIds(url: string, name: string): Promise<string[] | number> {
  const res = await fetch(`${url}/v1/docs/${name}/versions`)
  if (!res.ok) return res.status
  return ((await res.json()) as { versions: Version[] }).versions.map((v) => v.id).sort()
}

async function versionText(url: string, name: string, id: string): Promise<string | number> {
  const res = await fetch(`${url}/v1/docs/${name}/versions/${id}?types=body:text`)
  return res.ok ? ((await res.json()) as { body: string }).body : res.status
}

describe('versions across real node processes', () => {
  test('a version made on one node is listed and readable on every node, including one made on each side of a partition once it heals', async () => {
    cluster = await startProxiedCluster({ extraArgs: noAutoVersions })
    const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => cluster!.node(id).url) as [string, string, string]
    await appendText(n1, 'notes', 'before the cut.')
    const first = await saveVersion(n1, 'notes', 'before the cut')
    for (const url of [n2, n3]) {
      await waitForValue(`the version on ${url}`, () => versionIds(url, 'notes'), (ids) => Array.isArray(ids) && ids.includes(first.id))
      expect(await versionText(url, 'notes', first.id)).toBe('before the cut.')
    }

    cluster.partition(['n3'], ['n1', 'n2'])
    await appendText(n2, 'notes', ' majority side.')
    const majority = await saveVersion(n2, 'notes', 'majority side')
    await appendText(n3, 'notes', ' edge side.')
    const edge = await saveVersion(n3, 'notes', 'edge side')
    expect(await versionIds(n3, 'notes')).not.toContain(majority.id)
    expect(await versionText(n3, 'notes', edge.id)).toBe('before the cut. edge side.')

    cluster.heal()
    const all = [first.id, majority.id, edge.id].sort()
    for (const url of [n1, n2, n3]) {
      await waitForValue(`every version on ${url}`, () => versionIds(url, 'notes'), (ids) => JSON.stringify(ids) === JSON.stringify(all))
      await waitForValue(`the edge version's content on ${url}`, () => versionText(url, 'notes', edge.id), (text) => text === 'before the cut. edge side.')
      await waitForValue(`the majority version's content on ${url}`, () => versionText(url, 'notes', majority.id), (text) => text === 'before the cut. majority side.')
    }
  })

  test('a version answered 201 survives kill -9, and a deleted document loses its history on every node', async () => {
    cluster = await startProxiedCluster({ extraArgs: noAutoVersions })
    const n1 = cluster.node('n1').url
    await appendText(n1, 'doomed', 'text')
    const kept = await saveVersion(n1, 'doomed', 'kept')
    await cluster.stop('n1')
    await cluster.restart('n1')
    const restarted = cluster.node('n1').url
    expect(await versionIds(restarted, 'doomed')).toEqual([kept.id])
    expect(await versionText(restarted, 'doomed', kept.id)).toBe('text')
    for (const id of ['n2', 'n3']) {
      await waitForValue(`the version on ${id}`, () => versionIds(cluster!.node(id).url, 'doomed'), (ids) => Array.isArray(ids) && ids.length === 1)
    }

    const deleted = await fetch(`${restarted}/v1/docs/doomed`, { method: 'DELETE', headers: { authorization: `Bearer ${cluster.adminToken}` } })
    expect(deleted.status).toBe(200)
    for (const node of cluster.nodes) await waitFor(`${node.id} refuses the history`, async () => (await versionIds(node.url, 'doomed')) === 410)
    // What each node stored is gone too, not only refused.
    for (const node of cluster.nodes) {
      await waitFor(`${node.id} drops the stored history`, async () => {
        await cluster!.stop(node.id)
        const held = storedHistories(node.dataDir)
        await cluster!.restart(node.id)
        return !held.includes('doomed')
      })
    }
  })
})

/** The names in a stopped node's history store, read from its LMDB files. */
function storedHistories(dataDir: string): string[] {
  const env = open({ path: dataDir, readOnly: true, maxDbs: 64 })
  try {
    return [...env.openDB<unknown, string>({ name: 'history-meta' }).getKeys()] as string[]
  } finally {
    void env.close()
  }
}
