import { describe, expect, test } from 'vitest'
import { RaftCore } from '../../src/raft/core.js'
import { defaultRaftOptions } from '../../src/raft/options.js'
import { Role, type Message } from '../../src/raft/types.js'
import { ScriptedCluster } from './raft-harness.js'

/** Tests named by the sentence of the Raft paper (or Ongaro's thesis) that they check, as etcd's raft_paper_test does. */

const et = defaultRaftOptions.electionTimeoutTicks

describe('§5.1 terms', () => {
  test('"If a server receives a request with a stale term number, it rejects the request" and tells the sender the newer term', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'], { checkQuorum: false })
    c.elect('a')
    c.isolate('a')
    c.elect('b')
    c.heal()
    expect(c.core('b').status()).toMatchObject({ role: Role.leader, term: 3 })
    c.core('a').propose('stale')
    // 'a' still believes it leads term 2 until it hears from others.
    const replies = c.take()
    c.deliver(replies)
    const answers = c.take((m) => m.to === 'a')
    expect(answers.some((m) => m.type === 'append-resp' && m.term === 3)).toBe(true)
    c.deliver(answers)
    expect(c.core('a').status()).toMatchObject({ role: Role.follower, term: 3 })
  })

  test('"If a candidate or leader discovers that its term is out of date, it immediately reverts to follower state"', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.core('a').step({ type: 'heartbeat', from: 'b', to: 'a', term: 9, commit: 0, readCtx: null })
    expect(c.core('a').status()).toMatchObject({ role: Role.follower, term: 9, leader: 'b' })
  })
})

describe('§5.2 leader election', () => {
  test('"To begin an election, a follower increments its current term" — after a pre-vote round that leaves the term alone', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.timeout('a')
    expect(c.core('a').status()).toMatchObject({ role: Role.preCandidate, term: 1 })
    const preVotes = c.take()
    expect(preVotes.map((m) => [m.type, m.to, m.term])).toEqual([
      ['pre-vote', 'b', 2],
      ['pre-vote', 'c', 2],
    ])
    c.deliver(preVotes)
    c.deliver(c.take())
    expect(c.core('a').status()).toMatchObject({ role: Role.candidate, term: 2 })
    expect(c.core('b').status().term).toBe(1)
  })

  test('"A candidate wins an election if it receives votes from a majority of the servers in the full cluster"', () => {
    const c = new ScriptedCluster(['a', 'b', 'c', 'd', 'e'])
    c.isolate('d')
    c.isolate('e')
    c.elect('a')
    expect(c.core('a').status().role).toBe(Role.leader)
  })

  test('a candidate that hears from only a minority does not win', () => {
    const c = new ScriptedCluster(['a', 'b', 'c', 'd', 'e'])
    c.isolate('c')
    c.isolate('d')
    c.isolate('e')
    c.elect('a')
    expect(c.core('a').status().role).not.toBe(Role.leader)
  })

  test('"Each server will vote for at most one candidate in a given term, on a first-come-first-served basis"', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'], { preVote: false })
    const voter = c.core('c')
    voter.step({ type: 'vote', from: 'a', to: 'c', term: 2, lastIndex: 1, lastTerm: 1, transfer: false })
    voter.step({ type: 'vote', from: 'b', to: 'c', term: 2, lastIndex: 1, lastTerm: 1, transfer: false })
    const answers = c.take((m) => m.from === 'c')
    expect(answers.map((m) => [m.to, (m as { reject: boolean }).reject])).toEqual([
      ['a', false],
      ['b', true],
    ])
  })

  test('"Raft uses randomized election timeouts": each follower waits between one and two election timeouts', () => {
    const seen = new Set<number>()
    for (const r of [0, 0.25, 0.5, 0.99]) {
      const core = new RaftCore(
        { ...defaultRaftOptions, id: 'a', random: () => r },
        { hardState: { term: 1, vote: null, commit: 1 }, snapshot: { index: 1, term: 1, config: { voters: ['a', 'b'], replicas: [] }, data: new Uint8Array() }, entries: [] },
      )
      let ticks = 0
      while (core.status().role === Role.follower) {
        core.tick()
        ticks++
      }
      seen.add(ticks)
      expect(ticks).toBeGreaterThanOrEqual(et)
      expect(ticks).toBeLessThan(2 * et)
    }
    expect(seen.size).toBeGreaterThan(1)
  })
})

describe('§5.3 log replication', () => {
  test('"the leader appends the command to its log … once the entry has been safely replicated … applies the entry" on every server', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    expect(c.core('a').propose('x')).toMatchObject({ ok: true, index: 3, term: 2 })
    c.settle()
    c.tickAll(1)
    for (const id of ['a', 'b', 'c']) expect(c.appliedData(id)).toEqual(['x'])
  })

  test('an entry is committed once a majority holds it, not before', () => {
    const c = new ScriptedCluster(['a', 'b', 'c', 'd', 'e'])
    c.elect('a')
    c.isolate('c')
    c.isolate('d')
    c.isolate('e')
    c.core('a').propose('needs-3')
    c.settle()
    expect(c.core('a').status().commit).toBe(2)
    c.heal()
    c.tickAll(1)
    expect(c.core('a').status().commit).toBe(3)
  })

  test('"the leader handles inconsistencies by forcing the followers\' logs to duplicate its own" (Figure 7)', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'], { checkQuorum: false })
    c.elect('a')
    c.isolate('a')
    for (const data of ['lost-1', 'lost-2', 'lost-3']) c.core('a').propose(data)
    c.settle()
    c.elect('b')
    c.core('b').propose('kept')
    c.settle()
    c.heal()
    c.tickAll(3)
    expect(c.core('a').status()).toMatchObject({ role: Role.follower, leader: 'b' })
    for (const id of ['a', 'b', 'c']) expect(c.appliedData(id)).toEqual(['kept'])
    expect(c.core('a').termAt(3)).toBe(c.core('b').termAt(3))
  })
})

describe('§5.4 safety', () => {
  test('"the voter denies its vote if its own log is more up-to-date than that of the candidate"', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false })
    c.elect('a')
    c.core('a').propose('x')
    c.settle()
    c.core('c').step({ type: 'vote', from: 'b', to: 'c', term: 5, lastIndex: 1, lastTerm: 1, transfer: false })
    const [answer] = c.take((m) => m.from === 'c' && m.type === 'vote-resp')
    expect(answer).toMatchObject({ reject: true })
  })

  test('"Raft never commits log entries from previous terms by counting replicas" (Figure 8)', () => {
    const c = new ScriptedCluster(['a', 'b', 'c', 'd', 'e'], { preVote: false, checkQuorum: false, maxEntriesPerAppend: 1 })
    c.elect('a')
    // (a) a, leader of term 2, gets entry 3 only to b, then is cut off.
    c.core('a').propose('term-2 entry')
    c.deliver(c.take((m) => m.to === 'b'))
    c.take()
    c.isolate('a')
    // (b) e wins term 3 with the votes of c and d, writes its own entry 3, and is cut off before sending it.
    c.campaign('e')
    expect(c.core('e').status()).toMatchObject({ role: Role.leader, term: 3 })
    c.take()
    c.isolate('e')
    // (c) a comes back and wins term 4 (c and d now have the older log), then replicates its term-2 entry 3.
    c.heal()
    c.isolate('e')
    c.tick('a')
    c.deliver(c.take())
    c.deliver(c.take((m) => m.to === 'a' && m.type === 'append-resp'))
    expect(c.core('a').status()).toMatchObject({ role: Role.follower, term: 3 })
    c.take()
    while (c.core('a').status().role !== Role.leader) c.campaign('a')
    expect(c.core('a').status().term).toBe(4)
    const carriesIndex4 = (m: Message): m is Extract<Message, { type: 'append' }> =>
      m.type === 'append' && m.entries.some((e) => e.index === 4)
    // b may take the term-4 entry; c and d get only entry 3 (a probe that they reject may carry 4 too).
    const wouldStoreIndex4 = (m: Message) =>
      carriesIndex4(m) && m.to !== 'b' && c.core(m.to).termAt(m.prevIndex) === m.prevTerm
    for (let round = 0; round < 20; round++) c.deliver(c.take((m) => !wouldStoreIndex4(m)))
    c.take()
    expect(c.core('c').termAt(3)).toBe(2)
    expect(c.core('d').termAt(4)).toBeUndefined()
    // Entry 3 is on a, b, c and d — a majority — but it is of term 2: it must not be committed yet.
    expect(c.core('a').status().commit).toBe(2)
    c.tickAll(3)
    expect(c.core('a').status().commit).toBe(4)
  })
})

describe('pre-vote and check-quorum (thesis §9.6, §6.2)', () => {
  test('a node cut off from the cluster does not raise its term, so rejoining does not depose the leader', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.isolate('c')
    c.tick('c', 5 * et)
    c.take()
    expect(c.core('c').status().term).toBe(2)
    c.heal()
    c.tickAll(2)
    expect(c.core('a').status()).toMatchObject({ role: Role.leader, term: 2 })
  })

  test('a leader that cannot reach a quorum steps down after an election timeout', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.isolate('a')
    c.tick('a', et)
    expect(c.core('a').status().role).toBe(Role.leader)
    c.tick('a', et)
    expect(c.core('a').status().role).toBe(Role.follower)
  })

  test('a follower that hears from its leader ignores a candidate (leader lease)', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.core('b').step({ type: 'vote', from: 'c', to: 'b', term: 7, lastIndex: 9, lastTerm: 9, transfer: false })
    expect(c.core('b').status().term).toBe(2)
    expect(c.take((m) => m.from === 'b')).toEqual([])
  })
})
