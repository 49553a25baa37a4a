import { readFileSync } from 'node:fs'
import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { connectSynced, destroyProviders } from '../helpers/clients.js'
import { killAllNodes, NodeProcess } from '../helpers/node-process.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

afterEach(async () => {
  destroyProviders()
  await killAllNodes()
  removeTempDirs()
})

const rssBytesOf = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
const mib = 1024 * 1024

test('with default flags a 50 MiB document syncs: a stock provider brings it in one frame, a fresh one loads it, the node stays within a small multiple of its size', async () => {
  const node = await NodeProcess.start(['--data', tempDir()])
  const pid = node.child.pid!
  const rssBefore = rssBytesOf(pid)
  let peakRss = rssBefore
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssBytesOf(pid))), 20)
  try {
    const offline = new Y.Doc()
    // Distinct 1 MiB lines: content a real document could hold, not one repeated byte.
    for (let i = 0; i < 50; i++) offline.getText('body').insert(offline.getText('body').length, `${i}`.padEnd(mib, `-${i}`))
    const bodyLength = offline.getText('body').length
    const writer = await connectSynced(node.url, 'big', offline)
    await waitFor('the node to store 50 MiB', async () => {
      const res = await fetch(`${node.url}/v1/docs?prefix=big`)
      const { docs } = (await res.json()) as { docs: { sizeBytes: number }[] }
      return (docs[0]?.sizeBytes ?? 0) >= 50 * mib
    }, 60_000)
    const reader = await connectSynced(node.url, 'big')
    // Stored (the listing sees it) a moment before the node's in-memory copy has it: wait for the content.
    await waitFor('the fresh client to hold the whole document', () => reader.doc.getText('body').length === bodyLength, 60_000)
    expect(reader.doc.getText('body').toString()).toBe(writer.doc.getText('body').toString())
  } finally {
    clearInterval(sampler)
  }
  const grownMiB = (peakRss - rssBefore) / mib
  console.log(`node RSS grew by ${grownMiB.toFixed(0)} MiB at peak for a 50 MiB document`)
  // 250 MiB alone until 4ecc1cd; since then 300–400 MiB alone and up to 402 MiB in a full run (while the
  // 50 MiB frame arrives the node already holds about 220 MiB of ArrayBuffers; cause not found yet). At 10×
  // the document the bound catches gross regressions only — several more copies of it — until that is found.
  expect(grownMiB).toBeLessThan(10 * 50)
})
