import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { connectSynced, destroyProviders, sameState } from '../helpers/clients.js'
import { contains } from '../helpers/edited-docs.js'
import { NodeProcess, killAllNodes } from '../helpers/node-process.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

afterEach(async () => {
  destroyProviders()
  await killAllNodes()
  removeTempDirs()
})

async function storedDoc(url: string, name: string): Promise<Y.Doc> {
  const res = await fetch(`${url}/v1/docs/${encodeURIComponent(name)}/update`)
  expect(res.status).toBe(200)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, new Uint8Array(await res.arrayBuffer()))
  return doc
}

test('SIGTERM closes clients with 1001, exits 0, and a restart serves every document identically', async () => {
  const data = tempDir()
  const node = await NodeProcess.start(['--data', data])
  const names = Array.from({ length: 10 }, (_, i) => `restart/${i}`)
  const clients = await Promise.all(names.map((name) => connectSynced(node.url, name)))
  const closeCodes: number[] = []
  clients.forEach((provider, i) => {
    provider.on('connection-close', (event: { code: number } | null) => {
      if (event) closeCodes.push(event.code)
    })
    provider.doc.getText('body').insert(0, `document ${i} `.repeat(20))
    provider.doc.getMap('meta').set('index', i)
    provider.doc.getText('body').delete(0, 5)
  })
  const readers = await Promise.all(names.map((name) => connectSynced(node.url, name)))
  await waitFor('readers to catch up', () => readers.every((r, i) => sameState(r.doc, clients[i]!.doc)))

  const exit = await node.kill('SIGTERM')
  expect(exit.code).toBe(0)
  await waitFor('every client to see the close', () => closeCodes.length === names.length)
  expect(new Set(closeCodes)).toEqual(new Set([1001]))
  for (const provider of [...clients, ...readers]) provider.disconnect()

  const restarted = await NodeProcess.start(['--data', data])
  for (const [i, name] of names.entries()) {
    const stored = await storedDoc(restarted.url, name)
    expect(sameState(stored, clients[i]!.doc)).toBe(true)
    expect(stored.getText('body').toString()).toBe(clients[i]!.doc.getText('body').toString())
  }
})

test('kill -9 while clients write: after a restart every update another client had received is present', async () => {
  const data = tempDir()
  const node = await NodeProcess.start(['--data', data])
  const writers = await Promise.all([connectSynced(node.url, 'crash'), connectSynced(node.url, 'crash/2')])
  const readers = await Promise.all([connectSynced(node.url, 'crash'), connectSynced(node.url, 'crash/2')])
  let typed = 0
  const typing = setInterval(() => {
    for (const writer of writers) {
      const text = writer.doc.getText('body')
      text.insert(text.length, String.fromCharCode(97 + (typed % 26)))
      if (typed % 7 === 6) text.delete(0, 1)
    }
    typed++
  }, 1)
  await waitFor('the readers to receive a few hundred updates', () =>
    readers.every((r) => r.doc.getText('body').length > 200),
  )
  await node.kill('SIGKILL')
  clearInterval(typing)
  // What each reader holds now is what the node had sent before it died; freeze it before anyone reconnects.
  const seen = readers.map((r) => {
    const copy = new Y.Doc()
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(r.doc))
    return copy
  })
  destroyProviders()

  const restarted = await NodeProcess.start(['--data', data])
  for (const [i, name] of ['crash', 'crash/2'].entries()) {
    const stored = await storedDoc(restarted.url, name)
    expect(seen[i]!.getText('body').length).toBeGreaterThan(200)
    expect(contains(stored, seen[i]!)).toBe(true)
  }
})
