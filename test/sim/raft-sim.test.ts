import { describe, expect, test } from 'vitest'
import { checkSeed } from './check-seed.js'

const seeds = Number(process.env.SIM_SEEDS ?? 300)

describe('deterministic Raft simulation', () => {
  test(`${seeds} seeds of 3 voters with drops, duplicates, delays, partitions, crashes and membership changes`, () => {
    let committed = 0
    for (let seed = 1; seed <= seeds; seed++) committed += checkSeed(seed).committed
    expect(committed).toBeGreaterThan(seeds * 20)
  })

  test('5 voters, harsher network', () => {
    for (let seed = 1; seed <= 40; seed++) {
      checkSeed(seed, { voters: 5, faults: { dropRate: 0.2, duplicateRate: 0.1, maxDelayTicks: 5 } })
    }
  })

  test('without check-quorum: deposed leaders linger, and reads must still be linearizable', () => {
    for (let seed = 1; seed <= 100; seed++) checkSeed(seed, { checkQuorum: false, partitionRate: 0.05, proposeRate: 0.2, keys: 10 })
  })

  test('a cluster grown from one node by membership changes', () => {
    for (let seed = 1; seed <= 60; seed++) checkSeed(seed, { voters: 1, spares: 4, confChangeRate: 0.1 })
  })

  test('leaders send before their own writes are durable: one voter with replicas, slow disks, crashes', () => {
    // A lone voter's appends must not announce a commit of entries it has not yet made durable
    // (Ready.messagesFirst): removing that condition fails seed 32 here.
    for (let seed = 1; seed <= 250; seed++) {
      checkSeed(seed, { voters: 1, spares: 4, confChangeRate: 0.1, syncRate: 0.3, crashRate: 0.05 })
    }
  })

  test('slow disks, frequent snapshots, crashes and membership changes', () => {
    for (let seed = 1; seed <= 40; seed++) {
      checkSeed(seed, { syncRate: 0.3, compactAfterEntries: 5, crashRate: 0.05, confChangeRate: 0.1, maxEntriesPerAppend: 1 })
    }
  })
})
