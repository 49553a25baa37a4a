import { describe, expect, test } from 'vitest'
import { RaftCore } from '../../src/raft/core.js'
import { defaultRaftOptions } from '../../src/raft/options.js'
import { Role } from '../../src/raft/types.js'
import { ScriptedCluster } from './raft-harness.js'

const et = defaultRaftOptions.electionTimeoutTicks
const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array) => new TextDecoder().decode(data)

describe('membership changes (thesis §4.1, §4.2.1)', () => {
  test('a new node joins as a replica, catches up without voting, and counts toward quorum once promoted', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'], {}, ['d'])
    c.elect('a')
    c.core('a').propose('before')
    expect(c.core('a').proposeConfChange({ op: 'add-replica', id: 'd' }, 'add d')).toMatchObject({ ok: true })
    c.tickAll(2)
    expect(c.core('d').status().config).toEqual({ voters: ['a', 'b', 'c'], replicas: ['d'] })
    expect(c.appliedData('d')).toEqual(['before', 'add d'])
    expect(c.core('d').status().commit).toBe(c.core('a').status().commit)
    // A replica never campaigns.
    c.tick('d', 3 * et)
    expect(c.core('d').status().role).toBe(Role.follower)

    expect(c.core('a').proposeConfChange({ op: 'promote', id: 'd' }, 'promote d')).toMatchObject({ ok: true })
    c.tickAll(2)
    expect(c.core('a').status().config).toEqual({ voters: ['a', 'b', 'c', 'd'], replicas: [] })
    // With four voters a quorum is three: a and one more is not enough.
    c.isolate('c')
    c.isolate('d')
    c.core('a').propose('needs three')
    c.tickAll(1)
    expect(c.appliedData('a')).not.toContain('needs three')
    c.heal()
    c.tickAll(2)
    expect(c.appliedData('a')).toContain('needs three')
  })

  test('only one membership change may be pending at a time', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'], {}, ['d', 'e'])
    c.elect('a')
    expect(c.core('a').proposeConfChange({ op: 'add-replica', id: 'd' }, null)).toMatchObject({ ok: true })
    expect(c.core('a').proposeConfChange({ op: 'add-replica', id: 'e' }, null)).toMatchObject({
      ok: false,
      reason: 'conf-change-pending',
    })
    c.tickAll(1)
    expect(c.core('a').proposeConfChange({ op: 'add-replica', id: 'e' }, null)).toMatchObject({ ok: true })
  })

  test('a new leader accepts no membership change before it commits an entry of its own term', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'], {}, ['d'])
    c.campaign('a')
    expect(c.core('a').status().role).toBe(Role.leader)
    expect(c.core('a').proposeConfChange({ op: 'add-replica', id: 'd' }, null)).toMatchObject({
      reason: 'conf-change-pending',
    })
    c.settle()
    expect(c.core('a').proposeConfChange({ op: 'add-replica', id: 'd' }, null)).toMatchObject({ ok: true })
  })

  test('invalid changes are refused: adding a member twice, promoting a voter, removing the last voter', () => {
    const c = new ScriptedCluster(['a'], {}, [])
    c.elect('a')
    expect(c.core('a').proposeConfChange({ op: 'add-replica', id: 'a' }, null)).toMatchObject({ reason: 'invalid' })
    expect(c.core('a').proposeConfChange({ op: 'promote', id: 'a' }, null)).toMatchObject({ reason: 'invalid' })
    expect(c.core('a').proposeConfChange({ op: 'remove', id: 'a' }, null)).toMatchObject({ reason: 'invalid' })
    expect(c.core('a').proposeConfChange({ op: 'demote', id: 'a' }, null)).toMatchObject({ reason: 'invalid' })
  })

  test('a leader that removes itself steps down once the removal is applied; the rest elect a new leader', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    expect(c.core('a').proposeConfChange({ op: 'remove', id: 'a' }, null)).toMatchObject({ ok: true })
    c.tickAll(1)
    expect(c.core('a').status()).toMatchObject({ role: Role.follower, removed: true })
    expect(c.core('a').propose('x')).toMatchObject({ ok: false, reason: 'removed' })
    c.tickAll(3 * et)
    const leaders = ['b', 'c'].filter((id) => c.core(id).status().role === Role.leader)
    expect(leaders).toHaveLength(1)
    expect(c.core(leaders[0]!).status().config).toEqual({ voters: ['b', 'c'], replicas: [] })
    // The removed node stays quiet.
    expect(c.core('a').status().role).toBe(Role.follower)
  })

  test('a leader that removed itself still answers a member that missed the commit of the removal, which then commits it and leads', () => {
    const c = new ScriptedCluster(['a', 'b'])
    c.elect('a')
    expect(c.core('a').proposeConfChange({ op: 'remove', id: 'a' }, null)).toMatchObject({ ok: true })
    // b appends the removal and acknowledges it; a commits it and steps down, but its word of the commit is lost.
    for (let round = 0; round < 10 && !c.core('a').status().removed; round++) {
      c.deliver(c.take((m) => m.from === 'a'))
      c.deliver(c.take((m) => m.from === 'b'))
    }
    c.take((m) => m.from === 'a')
    expect(c.core('a').status()).toMatchObject({ role: Role.follower, removed: true })
    // b still counts a among the voters: it can lead, and commit the removal, only with a's vote and acknowledgement.
    expect(c.core('b').status().config).toEqual({ voters: ['a', 'b'], replicas: [] })
    c.tickAll(3 * et)
    expect(c.core('b').status()).toMatchObject({ role: Role.leader, config: { voters: ['b'], replicas: [] } })
    expect(c.core('a').status().role).toBe(Role.follower)
  })
})

describe('snapshots (§7)', () => {
  test('a follower that fell behind the compacted log receives the snapshot and then the rest of the log', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.isolate('c')
    for (let i = 0; i < 10; i++) c.core('a').propose(`e${i}`)
    c.tickAll(1)
    const snapshot = c.core('a').compact(bytes('after e9'))
    expect(snapshot).toMatchObject({ index: 12, config: { voters: ['a', 'b', 'c'], replicas: [] } })
    c.core('a').propose('after snapshot')
    c.heal()
    const installed: unknown[] = []
    for (let i = 0; i < 3 * et; i++) {
      for (const core of c.cores.values()) core.tick()
      for (let round = 0; round < 20; round++) {
        const batch = c.take()
        for (const m of batch) if (m.type === 'snapshot-chunk') installed.push(text(m.data))
        c.deliver(batch)
      }
    }
    expect(installed).toEqual(['after e9'])
    expect(c.core('c').status().commit).toBe(c.core('a').status().commit)
    expect(c.appliedData('c')).toEqual(['after snapshot'])
    expect(c.core('c').termAt(12)).toBe(c.core('a').termAt(12))
  })

  test('a snapshot lost in the network is sent again', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.isolate('c')
    c.core('a').propose('x')
    c.tickAll(1)
    c.core('a').compact(bytes('state'))
    c.heal()
    let sent = 0
    for (let i = 0; i < 4 * et; i++) {
      for (const core of c.cores.values()) core.tick()
      for (let round = 0; round < 20; round++) {
        const batch = c.take()
        const snapshots = batch.filter((m) => m.type === 'snapshot-chunk')
        sent += snapshots.length
        // The first snapshot is lost.
        c.deliver(sent === 1 && snapshots.length === 1 ? batch.filter((m) => m.type !== 'snapshot-chunk') : batch)
      }
    }
    expect(sent).toBeGreaterThanOrEqual(2)
    expect(c.core('c').status().commit).toBe(c.core('a').status().commit)
  })
})

describe('leadership transfer (thesis §3.10)', () => {
  test('the target, once up to date, is told to campaign at once and wins the next term', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.isolate('c')
    c.core('a').propose('c lacks this')
    c.settle()
    expect(c.core('a').transferLeadership('c')).toEqual({ ok: true })
    expect(c.core('a').propose('during transfer')).toMatchObject({ ok: false, reason: 'transferring' })
    c.heal()
    c.tickAll(2)
    expect(c.core('c').status()).toMatchObject({ role: Role.leader, term: 3 })
    expect(c.core('a').status()).toMatchObject({ role: Role.follower, leader: 'c' })
    expect(c.appliedData('c')).toContain('c lacks this')
  })

  test('a transfer that cannot finish within an election timeout is abandoned', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.isolate('c')
    c.core('a').transferLeadership('c')
    c.tickAll(et)
    expect(c.core('a').status().role).toBe(Role.leader)
    expect(c.core('a').propose('after abandon')).toMatchObject({ ok: true })
  })

  test('only a voter can receive leadership', () => {
    const c = new ScriptedCluster(['a', 'b'], {}, ['d'])
    c.elect('a')
    expect(c.core('a').transferLeadership('d')).toMatchObject({ ok: false, reason: 'invalid' })
    expect(c.core('b').transferLeadership('a')).toMatchObject({ ok: false, reason: 'not-leader', leader: 'a' })
  })
})

describe('ReadIndex (thesis §6.4)', () => {
  test('a read is released at the commit index once a quorum confirms the leader', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.core('a').propose('x')
    c.settle()
    expect(c.core('a').readIndex('r1')).toEqual({ ok: true })
    expect(c.readStates.get('a')).toEqual([])
    c.settle()
    expect(c.readStates.get('a')).toEqual([{ ctx: 'r1', index: 3 }])
  })

  test('a leader cut off from the quorum never answers a read, and drops it when it steps down', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.isolate('a')
    c.core('a').readIndex('stale?')
    c.tick('a', 2 * et)
    c.take()
    expect(c.readStates.get('a')).toEqual([])
    expect(c.dropped.get('a')).toEqual(['stale?'])
  })

  test('a read that arrives before the new leader committed an entry of its term waits for it', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.campaign('a')
    expect(c.core('a').status()).toMatchObject({ role: Role.leader, commit: 1 })
    c.core('a').readIndex('early')
    c.settle()
    expect(c.readStates.get('a')).toEqual([{ ctx: 'early', index: 2 }])
  })

  test('a follower refuses ReadIndex and names the leader', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    expect(c.core('b').readIndex('r')).toEqual({ ok: false, reason: 'not-leader', leader: 'a' })
  })

  test('a single-voter cluster answers reads at once', () => {
    const c = new ScriptedCluster(['a'])
    c.elect('a')
    c.core('a').readIndex('solo')
    c.flush()
    expect(c.readStates.get('a')).toEqual([{ ctx: 'solo', index: 2 }])
  })
})

describe('restarts', () => {
  test('a restarted node takes its configuration from the committed log at once, not from its older snapshot', () => {
    const c = new ScriptedCluster(['a'], {}, ['b', 'c'])
    c.elect('a')
    for (const id of ['b', 'c']) {
      expect(c.core('a').proposeConfChange({ op: 'add-replica', id }, null)).toMatchObject({ ok: true })
      c.tickAll(2)
      expect(c.core('a').proposeConfChange({ op: 'promote', id }, null)).toMatchObject({ ok: true })
      c.tickAll(2)
    }
    const status = c.core('a').status()
    expect(status.config).toEqual({ voters: ['a', 'b', 'c'], replicas: [] })
    const entries = [...Array(status.lastIndex - 1).keys()].map((i) => i + 2)
    // Rebuild 'a' from what its driver would have stored: the bootstrap snapshot and the log.
    const restarted = new RaftCore(
      { ...defaultRaftOptions, id: 'a', random: () => 0 },
      {
        hardState: { term: status.term, vote: 'a', commit: status.commit },
        snapshot: { index: 1, term: 1, config: { voters: ['a'], replicas: [] }, data: new Uint8Array() },
        entries: entries.map((index) => c.applied.get('a')!.find((e) => e.index === index)!),
      },
    )
    expect(restarted.status().config).toEqual({ voters: ['a', 'b', 'c'], replicas: [] })
    restarted.campaignNow()
    expect(restarted.status().role).not.toBe(Role.leader)
    // Re-applying the log does not apply its membership changes a second time.
    restarted.ready()
    expect(restarted.status().config).toEqual({ voters: ['a', 'b', 'c'], replicas: [] })
  })
})

describe('a closed link to the leader (RaftCore.peerDown)', () => {
  /** Ticks the live nodes `ticks` times, delivering everything after each tick. */
  function tickLive(c: ScriptedCluster, live: string[], ticks: number): void {
    for (let i = 0; i < ticks; i++) {
      for (const id of live) c.core(id).tick()
      c.settle()
    }
  }

  test('when the leader dies, followers that saw its link close elect a new one after the random part of their timeout', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.core('a').propose('before the crash')
    c.settle()
    c.isolate('a')
    c.core('b').peerDown('a')
    c.core('c').peerDown('a')
    expect(c.core('b').status().leader).toBeNull()
    // b's randomized timeout is et + 3 ticks, c's et + 6: b campaigns after 3 ticks instead of et + 3.
    tickLive(c, ['b', 'c'], 3)
    expect(c.core('b').status()).toMatchObject({ role: Role.leader, term: 3 })
    expect(c.core('c').status()).toMatchObject({ role: Role.follower, leader: 'b' })
    expect(c.appliedData('b')).toContain('before the crash')
  })

  test('without the notice, the followers wait out the whole election timeout', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.isolate('a')
    tickLive(c, ['b', 'c'], et)
    expect(c.core('b').status()).toMatchObject({ role: Role.follower, leader: 'a', term: 2 })
  })

  test('a link that drops while the leader lives costs no election, and the leader is known again at its next message', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    // Only the link between a and b is down; c still hears from a and refuses b's pre-vote.
    c.cutLink('a', 'b')
    c.core('b').peerDown('a')
    tickLive(c, ['a', 'b', 'c'], 2 * et)
    expect(c.core('a').status()).toMatchObject({ role: Role.leader, term: 2 })
    expect(c.core('c').status()).toMatchObject({ role: Role.follower, leader: 'a', term: 2 })
    expect(c.core('b').status().term).toBe(2)
    c.heal()
    tickLive(c, ['a', 'b', 'c'], 1)
    expect(c.core('b').status()).toMatchObject({ role: Role.follower, leader: 'a', term: 2 })
  })

  test('only the leader counts: a follower ignores the loss of another follower, and a leader that of its followers', () => {
    const c = new ScriptedCluster(['a', 'b', 'c'])
    c.elect('a')
    c.core('b').peerDown('c')
    c.core('a').peerDown('b')
    expect(c.core('b').status()).toMatchObject({ role: Role.follower, leader: 'a' })
    expect(c.core('a').status().role).toBe(Role.leader)
    tickLive(c, ['a', 'b', 'c'], et)
    expect(c.core('a').status()).toMatchObject({ role: Role.leader, term: 2 })
  })
})
