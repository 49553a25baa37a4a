import { describe, expect, test } from 'vitest'
import { defaultRaftOptions, type RaftOptions } from '../../src/raft/options.js'
import type { Message } from '../../src/raft/types.js'
import { ScriptedCluster } from './raft-harness.js'

/*
 * InstallSnapshot in chunks (Raft §7, Figure 13: "offset", "done"), over the pure core: the leader sends a
 * snapshot larger than one chunk a window at a time, and the follower installs it only once every byte came,
 * in order, from one leader in one term.
 */

const et = defaultRaftOptions.electionTimeoutTicks
const chunkBytes = 4
const window = 2
const options = { snapshotChunkBytes: chunkBytes, maxSnapshotChunksInflight: window }
const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array) => new TextDecoder().decode(data)
const stateOfA = 'the state machine of a, 30 bytes'

type Chunk = Extract<Message, { type: 'snapshot-chunk' }>
const isChunk = (m: Message): m is Chunk => m.type === 'snapshot-chunk'

/** Three voters; c was cut off while `a` committed entries and compacted them into a 32-byte snapshot. */
function clusterWithCBehind(limits: Partial<RaftOptions> = {}): { c: ScriptedCluster; snapshotIndex: number } {
  const c = new ScriptedCluster(['a', 'b', 'c'], { ...options, ...limits })
  c.elect('a')
  c.isolate('c')
  for (let i = 0; i < 3; i++) c.core('a').propose(`e${i}`)
  c.tickAll(1)
  const { index } = c.core('a').compact(bytes(stateOfA))
  c.heal()
  return { c, snapshotIndex: index }
}

/** Ticks everyone `ticks` times, passing each batch of messages through `network` before delivering it. */
function run(c: ScriptedCluster, ticks: number, network: (batch: Message[]) => Message[] = (batch) => batch): void {
  for (let i = 0; i < ticks; i++) {
    for (const core of c.cores.values()) core.tick()
    for (let round = 0; round < 50; round++) {
      const batch = c.take()
      if (batch.length === 0) break
      c.deliver(network(batch))
    }
  }
}

function expectCaughtUp(c: ScriptedCluster, from: string, snapshotText: string): void {
  expect(c.installed.get('c')!.map((s) => text(s.data))).toEqual([snapshotText])
  expect(c.core('c').status().commit).toBe(c.core(from).status().commit)
  expect(c.core('c').termAt(c.core(from).status().lastIndex)).toBe(c.core(from).termAt(c.core(from).status().lastIndex))
}

describe('snapshot install in chunks', () => {
  test('the leader sends the chunks in order, never more than a window unacknowledged; the follower installs once all came', () => {
    const { c, snapshotIndex } = clusterWithCBehind()
    const offsets: number[] = []
    let unacknowledged = 0
    let mostUnacknowledged = 0
    run(c, 3 * et, (batch) => {
      for (const m of batch) {
        if (isChunk(m) && m.to === 'c') {
          expect(m.snapshot).toMatchObject({ index: snapshotIndex, config: { voters: ['a', 'b', 'c'], replicas: [] } })
          expect(m.totalBytes).toBe(stateOfA.length)
          // "Install only when done": until the last chunk arrives, c holds none of the snapshot.
          expect(c.core('c').status().commit).toBeLessThan(snapshotIndex)
          offsets.push(m.offset)
          unacknowledged++
        }
        if (m.from === 'c' && (m.type === 'snapshot-ack' || (m.type === 'append-resp' && unacknowledged > 0))) unacknowledged--
        mostUnacknowledged = Math.max(mostUnacknowledged, unacknowledged)
      }
      return batch
    })
    expect(offsets).toEqual([0, 4, 8, 12, 16, 20, 24, 28])
    expect(mostUnacknowledged).toBe(window)
    expectCaughtUp(c, 'a', stateOfA)
  })

  test('a lost chunk is resent from where the follower stopped, after one rejection', () => {
    const { c } = clusterWithCBehind()
    let lost = false
    const rejections: number[] = []
    const sent: number[] = []
    run(c, 3 * et, (batch) =>
      batch.filter((m) => {
        if (m.type === 'snapshot-ack' && m.reject) rejections.push(m.offset)
        if (!isChunk(m)) return true
        sent.push(m.offset)
        if (m.offset !== 8 || lost) return true
        lost = true
        return false
      }),
    )
    // Chunk 12 arrives past the gap: c says where it stopped, once (chunks after it are ignored).
    expect(rejections).toEqual([8])
    expect(sent.filter((offset) => offset === 8)).toHaveLength(2)
    expectCaughtUp(c, 'a', stateOfA)
  })

  test('a transfer whose acknowledgements are all lost for a while resumes after an election timeout', () => {
    const { c } = clusterWithCBehind()
    let acksLost = 0
    run(c, 4 * et, (batch) =>
      batch.filter((m) => {
        if (m.type !== 'snapshot-ack' || acksLost >= 4) return true
        acksLost++
        return false
      }),
    )
    expect(acksLost).toBe(4)
    expectCaughtUp(c, 'a', stateOfA)
  })

  test('every message delivered twice still installs the snapshot once, byte for byte', () => {
    const { c } = clusterWithCBehind()
    let duplicatedChunks = 0
    run(c, 3 * et, (batch) =>
      batch.flatMap((m) => {
        if (isChunk(m)) duplicatedChunks++
        return [m, m]
      }),
    )
    expect(duplicatedChunks).toBeGreaterThanOrEqual(8)
    // Readies that carried a received snapshot: the last chunk came twice, and installed it once.
    expect(c.installed.get('c')).toHaveLength(1)
    expectCaughtUp(c, 'a', stateOfA)
  })

  test("a snapshot over the follower's maxSnapshotBytes is refused once, with both sizes, and never installed", () => {
    const maxSnapshotBytes = stateOfA.length - 1
    const { c, snapshotIndex } = clusterWithCBehind({ maxSnapshotBytes })
    let chunksToC = 0
    run(c, 6 * et, (batch) => {
      chunksToC += batch.filter((m) => isChunk(m) && m.to === 'c').length
      return batch
    })
    // The leader sends the snapshot again after each stall; c says so the first time only.
    expect(chunksToC).toBeGreaterThan(window)
    expect(c.snapshotsRefused.get('c')).toEqual([{ from: 'a', index: snapshotIndex, totalBytes: stateOfA.length, maxSnapshotBytes }])
    expect(c.installed.get('c')).toEqual([])
    expect(c.core('c').status().commit).toBeLessThan(snapshotIndex)
  })

  test('a new leader mid-transfer: the partial snapshot is dropped, and chunks of the old term are ignored', () => {
    const { c, snapshotIndex } = clusterWithCBehind()
    const stateOfB = 'b compacted the same log: other bytes'
    // b folds the same log into a snapshot of the same index and term, but other bytes: a mix would show.
    c.core('b').compact(bytes(stateOfB))
    const lateChunks: Chunk[] = []
    run(c, 2 * et, (batch) =>
      batch.filter((m) => {
        if (!isChunk(m) || m.offset < 8) return true
        lateChunks.push(m)
        return false
      }),
    )
    expect(c.core('c').status().commit).toBeLessThan(snapshotIndex)
    expect(lateChunks.length).toBeGreaterThan(0)

    c.isolate('a')
    let lateDelivered = false
    run(c, 4 * et, (batch) => {
      if (!lateDelivered && batch.some((m) => isChunk(m) && m.from === 'b')) {
        // a's chunks, delayed in the network, reach c while b's transfer is under way.
        for (const m of lateChunks) if (m.to === 'c') c.core('c').step(m)
        lateDelivered = true
      }
      return batch
    })
    expect(lateDelivered).toBe(true)
    expect(c.core('b').status()).toMatchObject({ role: 'leader', term: 3 })
    expectCaughtUp(c, 'b', stateOfB)
  })
})
