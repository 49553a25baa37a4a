import { expect, test } from 'vitest'
import { createTicket, signTicket } from '../../src/peer/handshake.js'
import { generateNodeIdentity, keyFingerprint } from '../../src/peer/node-identity.js'
import { PeerKeys } from '../../src/peer/peer-keys.js'

const b = generateNodeIdentity()

test("a peer whose member entry is gone (removed, still linked to hand off) must still prove the key it had on record", () => {
  const onRecord = new Map([['b', b.publicKey]])
  const keys = new PeerKeys((id) => onRecord.get(id))
  expect(keys.keyOf('b')).toBe(b.publicKey)
  onRecord.delete('b')
  expect(keys.keyOf('b')).toBe(b.publicKey)
  expect(keys.mismatch('b', null)).toBe(`b proved node key none, not ${keyFingerprint(b.publicKey)} now on record`)
  // Once it leaves the peer set, nothing of it is kept.
  keys.forget('b')
  expect(keys.keyOf('b')).toBeUndefined()
})

test('a key-less member is dialed until a dial proves a key; one with a key on record is not', () => {
  const onRecord = new Map<string, string>()
  const keys = new PeerKeys((id) => onRecord.get(id))
  expect(keys.wantsDial('b')).toBe(true)
  keys.dialed('b', b.publicKey)
  expect([keys.wantsDial('b'), keys.dialedKeyOf('b')]).toEqual([false, b.publicKey])
  onRecord.set('c', generateNodeIdentity().publicKey)
  expect(keys.wantsDial('c')).toBe(false)
})

test("a ticket admits a member with a key on record only with its signature, a key-less one without", () => {
  const keys = new PeerKeys((id) => (id === 'b' ? b.publicKey : undefined))
  const ticket = createTicket({ secret: Buffer.from('a secret of the tests'), dialerId: 'b', acceptorId: 'a', issuedAtMs: 1 })
  expect(keys.ticketAdmits('b', ticket, undefined)).toBe(false)
  expect(keys.ticketAdmits('b', ticket, signTicket(generateNodeIdentity(), ticket))).toBe(false)
  expect(keys.ticketAdmits('b', ticket, [signTicket(b, ticket)])).toBe(false)
  expect(keys.ticketAdmits('b', ticket, signTicket(b, ticket))).toBe(true)
  expect(keys.ticketAdmits('b', `${ticket}x`, signTicket(b, ticket))).toBe(false)
  expect(keys.ticketAdmits('c', ticket, undefined)).toBe(true)
})
