import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { applyCommand } from '../../src/meta/apply.js'
import { decodeCommand, decodeMetaState, encodeCommand, encodeMetaState } from '../../src/meta/codec.js'
import { parseCommand, publicKeySchema, type CommandResult } from '../../src/meta/commands.js'
import { emptyMetaState, type MetaState } from '../../src/meta/state.js'
import { generateNodeIdentity } from '../../src/peer/node-identity.js'

const keyA = generateNodeIdentity().publicKey
const keyB = generateNodeIdentity().publicKey

function apply(state: MetaState, input: Record<string, unknown>, index = state.recentResults.size + 1): CommandResult {
  const parsed = parseCommand({ requestId: `request-${index}`, ...input })
  if (!parsed.ok) throw new Error(parsed.message)
  return applyCommand(state, parsed.command, { index, term: 1 })
}

describe('node keys in member entries', () => {
  test('a member added with its key keeps it; one added without has none', () => {
    const state = emptyMetaState()
    expect(apply(state, { type: 'add-member', id: 'a', url: 'http://a:4000', publicKey: keyA })).toEqual({ ok: true })
    expect(apply(state, { type: 'add-member', id: 'b', url: 'http://b:4000' })).toEqual({ ok: true })
    expect(state.members.get('a')).toEqual({ id: 'a', url: 'http://a:4000', role: 'replica', publicKey: keyA })
    expect(state.members.get('b')).not.toHaveProperty('publicKey')
  })

  test('adding an existing id with another key is refused in words a joining node does not take for its own retry', () => {
    const state = emptyMetaState()
    apply(state, { type: 'add-member', id: 'a', url: 'http://a:4000', publicKey: keyA })
    const again = apply(state, { type: 'add-member', id: 'a', url: 'http://a:4000', publicKey: keyA })
    expect(again).toMatchObject({ ok: false, code: 'conflict', message: 'member "a" already exists' })
    const other = apply(state, { type: 'add-member', id: 'a', url: 'http://a:4000', publicKey: keyB })
    expect(other).toMatchObject({ ok: false, code: 'conflict' })
    expect(other.ok || other.message).not.toContain('already exists')
    expect(state.members.get('a')?.publicKey).toBe(keyA)
  })

  test('set-member-key records the key of a member that has none, once; a recorded key is never replaced', () => {
    const state = emptyMetaState()
    apply(state, { type: 'add-member', id: 'a', url: 'http://a:4000' })
    expect(apply(state, { type: 'set-member-key', id: 'a', publicKey: keyA })).toEqual({ ok: true })
    expect(apply(state, { type: 'set-member-key', id: 'a', publicKey: keyA })).toEqual({ ok: true })
    expect(apply(state, { type: 'set-member-key', id: 'a', publicKey: keyB })).toMatchObject({ ok: false, code: 'conflict' })
    expect(apply(state, { type: 'set-member-key', id: 'z', publicKey: keyB })).toMatchObject({ ok: false, code: 'not_found' })
    expect(state.members.get('a')?.publicKey).toBe(keyA)
  })

  test('a promoted member keeps its key', () => {
    const state = emptyMetaState()
    apply(state, { type: 'add-member', id: 'a', url: 'http://a:4000', publicKey: keyA })
    apply(state, { type: 'promote', id: 'a' })
    expect(state.members.get('a')).toMatchObject({ role: 'voter', publicKey: keyA })
  })
})

describe('snapshots and log entries with and without node keys', () => {
  test('a state with keyed and key-less members round-trips through its snapshot', () => {
    const state = emptyMetaState()
    state.members.set('a', { id: 'a', url: 'http://a:4000', role: 'voter', publicKey: keyA })
    state.members.set('b', { id: 'b', url: 'http://b:4000', role: 'replica' })
    const decoded = decodeMetaState(encodeMetaState(state))
    expect(decoded).toEqual({ ok: true, state })
    expect(decoded.ok && decoded.state.members.get('b')).not.toHaveProperty('publicKey')
  })

  test('a snapshot written before node keys decodes, its members without keys', () => {
    // A format 1 snapshot as the previous version wrote it, byte for byte.
    const old =
      '{"format":1,"voterTarget":3,"members":[{"id":"n1","url":"http://127.0.0.1:4001","role":"voter"},' +
      '{"id":"n2","url":"http://127.0.0.1:4002","role":"replica"}],"namespaces":[],"tombstones":[],"removedMembers":[],' +
      '"recentResults":[["r1",{"ok":true}]]}'
    const decoded = decodeMetaState(new TextEncoder().encode(old))
    if (!decoded.ok) throw new Error(decoded.message)
    expect([...decoded.state.members.values()]).toEqual([
      { id: 'n1', url: 'http://127.0.0.1:4001', role: 'voter' },
      { id: 'n2', url: 'http://127.0.0.1:4002', role: 'replica' },
    ])
    expect(decodeMetaState(encodeMetaState(decoded.state))).toEqual(decoded)
  })

  test('an add-member log entry written before node keys applies as a member without a key', () => {
    const entry = new TextEncoder().encode('{"type":"add-member","requestId":"r1","id":"n2","url":"http://127.0.0.1:4002"}')
    const parsed = decodeCommand(entry)
    if (!parsed.ok) throw new Error(parsed.message)
    const state = emptyMetaState()
    expect(applyCommand(state, parsed.command, { index: 2, term: 1 })).toEqual({ ok: true })
    expect(state.members.get('n2')).toEqual({ id: 'n2', url: 'http://127.0.0.1:4002', role: 'replica' })
  })

  test('commands with keys round-trip through their log entries', () => {
    for (const input of [
      { type: 'add-member', requestId: 'r1', id: 'a', url: 'http://a:4000', publicKey: keyA },
      { type: 'set-member-key', requestId: 'r2', id: 'a', publicKey: keyB },
    ]) {
      const parsed = parseCommand(input)
      if (!parsed.ok) throw new Error(parsed.message)
      expect(decodeCommand(encodeCommand(parsed.command))).toEqual({ ok: true, command: input })
    }
  })

  test('a snapshot or log entry with a malformed key is refused as a value', () => {
    const state = emptyMetaState()
    state.members.set('a', { id: 'a', url: 'http://a:4000', role: 'voter', publicKey: keyA })
    const bytes = Buffer.from(encodeMetaState(state))
    const at = bytes.indexOf(keyA)
    expect(at).toBeGreaterThan(0)
    // The same length, so only the key is wrong: a last character whose low bits are set spells no 32 bytes.
    bytes.write('B', at + keyA.length - 1)
    expect(decodeMetaState(bytes)).toEqual({ ok: false, message: expect.stringMatching(/^snapshot members\.0\.publicKey: /) })
    expect(decodeCommand(new TextEncoder().encode(JSON.stringify({ type: 'set-member-key', requestId: 'r', id: 'a', publicKey: 'x' })))).toMatchObject({
      ok: false,
      code: 'invalid',
    })
  })
})

describe('the public key schema', () => {
  test('accepts the base64url of any 32 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        expect(publicKeySchema.safeParse(Buffer.from(bytes).toString('base64url')).success).toBe(true)
      }),
    )
  })

  test('accepts a string exactly when it is the canonical base64url of 32 bytes', () => {
    const base64urlish = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ '), minLength: 40, maxLength: 46 })
    fc.assert(
      fc.property(fc.oneof(base64urlish, fc.string()), (text) => {
        const bytes = Buffer.from(text, 'base64url')
        const canonical = bytes.byteLength === 32 && bytes.toString('base64url') === text
        expect(publicKeySchema.safeParse(text).success).toBe(canonical)
      }),
    )
  })
})
