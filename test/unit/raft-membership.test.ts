import { expect, test } from 'vitest'
import { Membership } from '../../src/raft/membership.js'

test('a change is valid only for a member in the role it leaves, and never takes the last voter away', () => {
  const members = new Membership({ voters: ['a'], replicas: ['b'] })
  expect(members.isValid({ op: 'add-replica', id: 'c' })).toBe(true)
  expect(members.isValid({ op: 'add-replica', id: 'b' })).toBe(false)
  expect(members.isValid({ op: 'promote', id: 'b' })).toBe(true)
  expect(members.isValid({ op: 'promote', id: 'a' })).toBe(false)
  expect(members.isValid({ op: 'demote', id: 'a' })).toBe(false)
  expect(members.isValid({ op: 'remove', id: 'a' })).toBe(false)
  expect(members.isValid({ op: 'remove', id: 'b' })).toBe(true)
})

test('applying moves members between the sets, and a change applied again from the log changes nothing', () => {
  const members = new Membership({ voters: ['a'], replicas: [] })
  members.apply({ op: 'add-replica', id: 'b' })
  members.apply({ op: 'promote', id: 'b' })
  members.apply({ op: 'add-replica', id: 'b' })
  expect(members.config()).toEqual({ voters: ['a', 'b'], replicas: [] })
  members.apply({ op: 'demote', id: 'a' })
  expect(members.config()).toEqual({ voters: ['b'], replicas: ['a'] })
  members.apply({ op: 'remove', id: 'a' })
  members.apply({ op: 'remove', id: 'a' })
  expect(members.config()).toEqual({ voters: ['b'], replicas: [] })
  expect(members.includes('a')).toBe(false)
  expect(members.includes('b')).toBe(true)
  expect(members.all()).toEqual(['b'])
})
