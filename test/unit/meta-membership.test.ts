import fc from 'fast-check'
import { expect, test } from 'vitest'
import { applyCommand } from '../../src/meta/apply.js'
import { nextMembershipChange } from '../../src/meta/membership.js'
import { membersWithRole } from '../../src/meta/queries.js'
import { emptyMetaState, type MemberRole, type MetaState } from '../../src/meta/state.js'

function stateWith(members: Record<string, MemberRole>, voterTarget = 3): MetaState {
  const state = emptyMetaState()
  state.voterTarget = voterTarget
  for (const [id, role] of Object.entries(members)) state.members.set(id, { id, url: `http://${id}:4000`, role })
  return state
}

const allCaughtUp = (): boolean => true

test('at bootstrap the first member, alone and caught up, is promoted', () => {
  expect(nextMembershipChange(stateWith({ a: 'replica' }), 'a', allCaughtUp)).toEqual({ type: 'promote', id: 'a' })
})

test('below the target, the first caught-up replica by id is promoted; lagging ones wait', () => {
  const state = stateWith({ a: 'voter', b: 'replica', c: 'replica', d: 'replica' })
  expect(nextMembershipChange(state, 'a', (id) => id !== 'b')).toEqual({ type: 'promote', id: 'c' })
  expect(nextMembershipChange(state, 'a', (id) => id === 'a')).toBeNull()
})

test('at the target nothing changes', () => {
  expect(nextMembershipChange(stateWith({ a: 'voter', b: 'voter', c: 'voter', d: 'replica' }), 'a', allCaughtUp)).toBeNull()
})

test('above the target a voter is demoted, never the leader, a lagging one first', () => {
  const state = stateWith({ a: 'voter', b: 'voter', c: 'voter' }, 1)
  expect(nextMembershipChange(state, 'a', allCaughtUp)).toEqual({ type: 'demote', id: 'b' })
  expect(nextMembershipChange(state, 'b', allCaughtUp)).toEqual({ type: 'demote', id: 'a' })
  expect(nextMembershipChange(state, 'a', (id) => id !== 'c')).toEqual({ type: 'demote', id: 'c' })
})

test('a removed voter is replaced by a replica', () => {
  const state = stateWith({ a: 'voter', b: 'voter', c: 'voter', d: 'replica' })
  const removal = applyCommand(state, { type: 'remove-member', requestId: 'r', id: 'b' }, { index: 1, term: 1 })
  expect(removal).toEqual({ ok: true })
  expect(nextMembershipChange(state, 'a', allCaughtUp)).toEqual({ type: 'promote', id: 'd' })
})

test('following the plan one change at a time reaches the target, or every member, with every change accepted', () => {
  const memberId = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g')
  const roles = fc.dictionary(memberId, fc.constantFrom<MemberRole>('voter', 'replica'), { minKeys: 1 })
  fc.assert(
    fc.property(roles, fc.integer({ min: 1, max: 5 }), fc.nat(), (members, voterTarget, leaderPick) => {
      const state = stateWith(members, voterTarget)
      const voters = membersWithRole(state, 'voter')
      fc.pre(voters.length > 0 && voters.length <= 5)
      const leaderId = voters[leaderPick % voters.length]!.id
      for (let step = 1; step <= 10; step++) {
        const change = nextMembershipChange(state, leaderId, allCaughtUp)
        if (change === null) break
        expect(change.id === leaderId && change.type === 'demote').toBe(false)
        const result = applyCommand(state, { ...change, requestId: `plan-${step}` }, { index: step, term: 1 })
        expect(result).toEqual({ ok: true })
      }
      expect(nextMembershipChange(state, leaderId, allCaughtUp)).toBeNull()
      expect(membersWithRole(state, 'voter')).toHaveLength(Math.min(voterTarget, state.members.size))
      expect(state.members.get(leaderId)?.role).toBe('voter')
    }),
  )
})
