import fc from 'fast-check'
import { expect, test } from 'vitest'
import { rootKinds } from '../../src/docs/doc-json.js'
import { applyCommand } from '../../src/meta/apply.js'
import { decodeCommand, decodeMetaState, encodeCommand, encodeMetaState } from '../../src/meta/codec.js'
import { maxVoterTarget, parseCommand, type CommandResult, type MetaCommand } from '../../src/meta/commands.js'
import { membersWithRole } from '../../src/meta/queries.js'
import { emptyMetaState, maxRememberedRequests, memberRoles, type MetaState } from '../../src/meta/state.js'
import { encodeFormat1MetaState } from '../helpers/legacy-meta-snapshot.js'

// Small pools of names, so that sequences collide: the same member twice, a repeated request id, …
const memberId = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f')
const namespaceName = fc.constantFrom('notes', 'boards', 'constructor')
const docName = fc.constantFrom('notes/a', 'notes/b', 'boards/x/y', 'plain')
const webhookId = fc.constantFrom('wh_aaaaaaaaaaaaaaaaaaaa', 'wh_0123456789abcdefghij')
const requestId = fc.integer({ min: 0, max: 150 }).map((n) => `request-${n}`)

const commandInput = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({ type: fc.constant('add-member'), id: memberId, port: fc.integer({ min: 1, max: 2 }) })
      .map(({ id, port, ...rest }) => ({ ...rest, id, url: `http://${id}.example:${port}` })),
  },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('promote'), id: memberId }) },
  fc.record({ type: fc.constantFrom('demote', 'remove-member'), id: memberId }),
  fc.record({ type: fc.constant('set-voter-target'), count: fc.integer({ min: 1, max: maxVoterTarget }) }),
  fc.record({
    type: fc.constant('put-namespace'),
    name: namespaceName,
    schema: fc.record({
      roots: fc.dictionary(fc.constantFrom('body', 'meta', '1', 'toString'), fc.constantFrom(...rootKinds), { maxKeys: 3 }),
    }),
    limits: fc.record(
      { maxUpdateBytes: fc.integer({ min: 1, max: 1e6 }), maxDocBytes: fc.integer({ min: 1, max: 1e9 }) },
      { requiredKeys: [] },
    ),
    readOnly: fc.boolean(),
    publicRead: fc.boolean(),
  }),
  fc.record({ type: fc.constant('delete-namespace'), name: namespaceName }),
  fc.record({ type: fc.constant('delete-doc'), name: docName }),
  fc.record({
    type: fc.constant('put-webhook'),
    id: webhookId,
    url: fc.constantFrom('https://hooks.example/a', 'http://127.0.0.1:9/b'),
    events: fc.subarray(['updated', 'deleted'], { minLength: 1 }),
    prefix: fc.constantFrom('', 'notes/'),
    secret: fc.constantFrom(`whsec_${'A'.repeat(43)}=`, `whsec_${'b'.repeat(32)}`),
    createdAtMs: fc.option(fc.nat(), { nil: undefined }),
  }, { requiredKeys: ['type', 'id', 'url', 'events', 'prefix', 'secret'] }),
  fc.record({ type: fc.constant('delete-webhook'), id: webhookId }),
)

const command: fc.Arbitrary<MetaCommand> = fc.tuple(commandInput, requestId).map(([input, id]) => {
  const parsed = parseCommand({ ...input, requestId: id })
  if (!parsed.ok) throw new Error(`the generator made an invalid command: ${parsed.message}`)
  return parsed.command
})

const commands = fc.array(command, { maxLength: 100, size: 'max' })

function applyAll(commands: readonly MetaCommand[], state: MetaState = emptyMetaState(), firstIndex = 1): CommandResult[] {
  return commands.map((c, i) => applyCommand(state, c, { index: firstIndex + i, term: 1 }))
}

/** The snapshot as text: strings compare much faster than byte arrays do in `expect`. */
const snapshotOf = (state: MetaState): string => Buffer.from(encodeMetaState(state)).toString('base64')

function invariantViolations(state: MetaState): string[] {
  const violations: string[] = []
  const voters = membersWithRole(state, 'voter').length
  if (voters > maxVoterTarget) violations.push(`${voters} voters`)
  if (state.voterTarget < 1 || state.voterTarget > maxVoterTarget) violations.push(`voter target ${state.voterTarget}`)
  const urls = new Set<string>()
  for (const [id, member] of state.members) {
    if (member.id !== id) violations.push(`member "${member.id}" filed under "${id}"`)
    if (!memberRoles.includes(member.role)) violations.push(`member "${id}" has role ${member.role}`)
    if (urls.has(member.url)) violations.push(`URL ${member.url} used twice`)
    urls.add(member.url)
  }
  for (const [name, namespace] of state.namespaces) {
    if (namespace.name !== name) violations.push(`namespace "${namespace.name}" filed under "${name}"`)
    if (name.includes('/')) violations.push(`namespace "${name}" contains a slash`)
  }
  if (state.recentResults.size > maxRememberedRequests) violations.push(`${state.recentResults.size} remembered requests`)
  return violations
}

test('applying the same commands from empty twice gives the same state and results', () => {
  fc.assert(
    fc.property(commands, (sequence) => {
      const first = emptyMetaState()
      const second = emptyMetaState()
      expect(applyAll(sequence, first)).toEqual(applyAll(sequence, second))
      expect(snapshotOf(first)).toBe(snapshotOf(second))
    }),
  )
})

test('a snapshot decodes to an equal state that behaves the same from then on', () => {
  fc.assert(
    fc.property(commands, commands, (before, after) => {
      const original = emptyMetaState()
      applyAll(before, original)
      const decoded = decodeMetaState(encodeMetaState(original))
      if (!decoded.ok) throw new Error(decoded.message)
      const restored = decoded.state
      expect(restored).toEqual(original)
      expect(snapshotOf(restored)).toBe(snapshotOf(original))
      const next = before.length + 1
      expect(applyAll(after, restored, next)).toEqual(applyAll(after, original, next))
      expect(snapshotOf(restored)).toBe(snapshotOf(original))
    }),
  )
})

test('a repeated request id gets its first result back and changes nothing', () => {
  fc.assert(
    fc.property(commands, (sequence) => {
      const state = emptyMetaState()
      const firstResults = new Map<string, CommandResult>()
      sequence.forEach((c, i) => {
        const before = snapshotOf(state)
        const result = applyCommand(state, c, { index: i + 1, term: 1 })
        const first = firstResults.get(c.requestId)
        if (first === undefined) {
          firstResults.set(c.requestId, result)
        } else {
          expect(result).toEqual(first)
          expect(snapshotOf(state)).toBe(before)
        }
      })
    }),
  )
})

test('invariants hold after every command, and a cluster that had a voter always keeps one', () => {
  fc.assert(
    fc.property(commands, (sequence) => {
      const state = emptyMetaState()
      let hadVoter = false
      sequence.forEach((c, i) => {
        applyCommand(state, c, { index: i + 1, term: 1 })
        const voters = membersWithRole(state, 'voter').length
        const violations = invariantViolations(state)
        if (hadVoter && voters === 0) violations.push('the last voter went')
        expect(violations).toEqual([])
        hadVoter ||= voters > 0
      })
    }),
  )
})

test('states built in different orders encode to the same bytes', () => {
  fc.assert(
    fc.property(fc.uniqueArray(docName, { minLength: 1 }), (names) => {
      const forwards = emptyMetaState()
      const backwards = emptyMetaState()
      names.forEach((name, i) => forwards.tombstones.set(name, i))
      names.reverse().forEach((name) => backwards.tombstones.set(name, forwards.tombstones.get(name)!))
      expect(snapshotOf(backwards)).toBe(snapshotOf(forwards))
    }),
  )
})

test('a command round-trips through its log entry encoding', () => {
  fc.assert(
    fc.property(command, (c) => {
      expect(decodeCommand(encodeCommand(c))).toEqual({ ok: true, command: c })
    }),
  )
})

test('malformed snapshots and log entries are refused as values', () => {
  const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
  const snapshot = JSON.parse(new TextDecoder().decode(encodeFormat1MetaState(emptyMetaState())))
  const member = { id: 'a', url: 'http://a:1', role: 'voter' }
  expect(decodeMetaState(bytes('{'))).toMatchObject({ ok: false })
  expect(decodeMetaState(new Uint8Array([0xff]))).toMatchObject({ ok: false })
  expect(decodeMetaState(bytes(JSON.stringify({ ...snapshot, format: 2 })))).toMatchObject({ ok: false })
  expect(decodeMetaState(bytes(JSON.stringify({ ...snapshot, members: [member, member] })))).toEqual({
    ok: false,
    message: 'snapshot repeats a key',
  })
  expect(decodeCommand(bytes('not json'))).toMatchObject({ ok: false, code: 'invalid' })
  expect(decodeCommand(bytes('{"type":"promote"}'))).toMatchObject({ ok: false, code: 'invalid' })
})
