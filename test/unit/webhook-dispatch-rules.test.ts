import fc from 'fast-check'
import * as Y from 'yjs'
import { describe, expect, test } from 'vitest'
import { covers, merged, nothingDelivered, withDelivered, type DeliveredState } from '../../src/webhooks/coverage.js'
import { messageIdOf } from '../../src/webhooks/delivery-message.js'
import { responsibleNode } from '../../src/webhooks/responsibility.js'
import { afterFailure, type RetryPolicy } from '../../src/webhooks/retry-schedule.js'

const nodes = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 7 })
const webhookId = fc.stringMatching(/^wh_[a-z0-9]{20}$/)

describe('responsibility', () => {
  test('every node that sees the same members names the same one, whatever their order', () => {
    fc.assert(
      fc.property(webhookId, nodes, fc.nat(), (id, members, shift) => {
        const rotated = [...members.slice(shift % members.length), ...members.slice(0, shift % members.length)].reverse()
        expect(responsibleNode(id, rotated)).toBe(responsibleNode(id, members))
        expect(members).toContain(responsibleNode(id, members))
      }),
    )
  })

  test('a webhook moves only when its responsible node goes, and then to a remaining one', () => {
    fc.assert(
      fc.property(webhookId, nodes, fc.nat(), (id, members, pick) => {
        const responsible = responsibleNode(id, members)!
        const gone = members[pick % members.length]!
        const remaining = members.filter((m) => m !== gone)
        const after = responsibleNode(id, remaining)
        if (gone !== responsible) expect(after).toBe(responsible)
        else expect(after === null ? remaining.length === 0 : remaining.includes(after)).toBe(true)
      }),
    )
  })

  test('webhooks spread over the nodes', () => {
    const counts = new Map<string, number>()
    for (let i = 0; i < 3_000; i++) {
      const node = responsibleNode(`wh_${String(i).padStart(20, '0')}`, ['n1', 'n2', 'n3'])!
      counts.set(node, (counts.get(node) ?? 0) + 1)
    }
    for (const count of counts.values()) expect(count).toBeGreaterThan(800)
  })

  test('no node is responsible among none', () => {
    expect(responsibleNode('wh_00000000000000000000', [])).toBeNull()
  })
})

describe('retry schedule', () => {
  const policy: RetryPolicy = { baseDelayMs: 1_000, maxDelayMs: 60_000, retryForMs: 3_600_000 }

  test('a retry comes between half and all of the doubled delay later, never past the window; after the window, failed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_000 }), fc.nat({ max: 5_000_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempts, elapsed, random) => {
        const first = 1_000_000
        const now = first + elapsed
        const next = afterFailure(policy, attempts, first, now, random)
        if (elapsed >= policy.retryForMs) return void expect(next).toEqual({ status: 'failed' })
        expect(next.status).toBe('pending')
        if (next.status !== 'pending') return
        const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempts - 1))
        expect(next.dueMs).toBeLessThanOrEqual(Math.min(first + policy.retryForMs, now + delay))
        expect(next.dueMs).toBeGreaterThanOrEqual(Math.min(first + policy.retryForMs, now + delay / 2))
      }),
    )
  })
})

describe('coverage', () => {
  const stateVector = fc.array(fc.tuple(fc.nat({ max: 5 }), fc.nat({ max: 50 })), { maxLength: 4 }).map((clocks) => Y.encodeStateVector(new Map(clocks)))
  const delivered: fc.Arbitrary<DeliveredState> = fc.record({ stateVector, deleted: fc.boolean() })
  const change = fc.oneof(
    stateVector.map((sv) => ({ type: 'updated' as const, stateVector: sv })),
    fc.constant({ type: 'deleted' as const }),
  )

  test('a delivered change is covered, and stays covered by whatever is delivered after it', () => {
    fc.assert(
      fc.property(delivered, change, delivered, (before, c, later) => {
        const after = withDelivered(before, c)
        expect(covers(after, c)).toBe(true)
        expect(covers(merged(after, later), c)).toBe(true)
        expect(covers(merged(later, after), c)).toBe(true)
      }),
    )
  })

  test('a change with an update nobody delivered is not covered', () => {
    const sv = Y.encodeStateVector(new Map([[1, 5]]))
    const newer = Y.encodeStateVector(new Map([[1, 6]]))
    const other = Y.encodeStateVector(new Map([[2, 1]]))
    const state = withDelivered(nothingDelivered, { type: 'updated', stateVector: sv })
    expect(covers(state, { type: 'updated', stateVector: newer })).toBe(false)
    expect(covers(state, { type: 'updated', stateVector: other })).toBe(false)
    expect(covers(state, { type: 'deleted' })).toBe(false)
  })

  test("once a document's deletion was delivered, every change of it is covered: the sender may never have held its updates", () => {
    fc.assert(
      fc.property(delivered, change, (before, c) => {
        expect(covers(withDelivered(before, { type: 'deleted' }), c)).toBe(true)
      }),
    )
  })

  test('the same change has the same webhook-id on every node; another change, or webhook, another', () => {
    const change = { type: 'updated' as const, name: 'doc', stateVector: Y.encodeStateVector(new Map([[1, 5]])) }
    const id = messageIdOf('wh_00000000000000000001', change)
    expect(id).toMatch(/^msg_[A-Za-z0-9_-]{32}$/)
    expect(messageIdOf('wh_00000000000000000001', { ...change })).toBe(id)
    expect(messageIdOf('wh_00000000000000000002', change)).not.toBe(id)
    expect(messageIdOf('wh_00000000000000000001', { ...change, stateVector: Y.encodeStateVector(new Map([[1, 6]])) })).not.toBe(id)
    expect(messageIdOf('wh_00000000000000000001', { type: 'deleted', name: 'doc' })).not.toBe(id)
  })
})
