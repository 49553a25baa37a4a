import { describe, expect, test } from 'vitest'
import { planReady } from '../../src/raft/ready-plan.js'
import type { Entry, HardState, Message, Ready } from '../../src/raft/types.js'

const stored: HardState = { term: 2, vote: 'n1', commit: 4 }
const entry = (index: number, extra: Partial<Entry> = {}): Entry => ({ index, term: 2, data: { op: index }, ...extra })
const append = (to: string, entries: Entry[], commit: number): Message => ({ type: 'append', from: 'n1', to, term: 2, prevIndex: 4, prevTerm: 2, entries, commit })

function ready(fields: Partial<Ready>): Ready {
  return {
    hardState: null,
    entries: [],
    snapshot: null,
    snapshotReceived: false,
    messages: [],
    messagesFirst: false,
    committed: [],
    readStates: [],
    readsDropped: [],
    snapshotsRefused: [],
    ...fields,
  }
}

describe('planReady', () => {
  test("a leader's new entries go to its followers before its own write", () => {
    const messages = [append('n2', [entry(5)], 4), append('n3', [entry(5)], 4)]
    const plan = planReady(ready({ entries: [entry(5)], messages, messagesFirst: true }), stored, null)
    expect(plan.sendBeforeWrite).toEqual(messages)
    expect(plan.write?.entries).toEqual([entry(5)])
    expect(plan.sendAfterWrite).toEqual([])
    expect(plan.sendAfterApply).toEqual([])
  })

  test("a follower's answer goes after its write", () => {
    const answer: Message = { type: 'append-resp', from: 'n2', to: 'n1', term: 2, index: 5, reject: false, hint: 0 }
    const plan = planReady(ready({ entries: [entry(5)], messages: [answer] }), stored, null)
    expect(plan.sendBeforeWrite).toEqual([])
    expect(plan.write?.entries).toEqual([entry(5)])
    expect(plan.sendAfterWrite).toEqual([answer])
  })

  test('telling followers a new commit index waits until the committed entries are applied, and writes nothing', () => {
    const hardState = { ...stored, commit: 5 }
    const notices = [append('n2', [], 5), append('n3', [], 5)]
    const plan = planReady(ready({ hardState, committed: [entry(5)], messages: notices, messagesFirst: true }), stored, null)
    expect(plan.write).toBeNull()
    expect(plan.sendBeforeWrite).toEqual([])
    expect(plan.sendAfterWrite).toEqual([])
    expect(plan.sendAfterApply).toEqual(notices)
    expect(plan.unwrittenCommit).toEqual(hardState)
  })

  test('messages of a Ready that neither writes nor commits go at once, and an unwritten commit index is kept', () => {
    const heartbeat: Message = { type: 'heartbeat', from: 'n1', to: 'n2', term: 2, commit: 5, readCtx: null }
    const unwritten = { ...stored, commit: 5 }
    const plan = planReady(ready({ messages: [heartbeat], messagesFirst: true }), stored, unwritten)
    expect(plan).toEqual({ sendBeforeWrite: [heartbeat], write: null, sendAfterWrite: [], sendAfterApply: [], unwrittenCommit: unwritten })
  })

  test('the commit index left unwritten goes with the next write', () => {
    const unwritten = { ...stored, commit: 5 }
    const plan = planReady(ready({ entries: [entry(6)], messagesFirst: true }), stored, unwritten)
    expect(plan.write?.hardState).toEqual(unwritten)
    expect(plan.unwrittenCommit).toBeNull()
  })

  test('a committed membership change is written at once', () => {
    const hardState = { ...stored, commit: 5 }
    const change = entry(5, { change: { op: 'promote', id: 'n4' } })
    const plan = planReady(ready({ hardState, committed: [change], messagesFirst: true }), stored, null)
    expect(plan.write?.hardState).toEqual(hardState)
    expect(plan.unwrittenCommit).toBeNull()
  })
})
