import { describe, expect, test } from 'vitest'
import { applyCommand } from '../../src/meta/apply.js'
import { parseCommand, type CommandResult, type MetaCommand } from '../../src/meta/commands.js'
import { isDeleted, namespaceOf, policyFor } from '../../src/meta/queries.js'
import { emptyMetaState, maxRememberedRequests, maxWebhooks, type MetaState } from '../../src/meta/state.js'

type CommandInput = { type: MetaCommand['type']; [field: string]: unknown }

/** Applies commands as consecutive log entries, each with a fresh request id; returns their results. */
class Log {
  readonly state: MetaState = emptyMetaState()
  private index = 0

  apply(input: CommandInput, requestId = `request-${this.index + 1}`): CommandResult {
    const parsed = parseCommand({ requestId, ...input })
    if (!parsed.ok) throw new Error(parsed.message)
    this.index++
    return applyCommand(this.state, parsed.command, { index: this.index, term: 1 })
  }

  addVoter(id: string): void {
    expect(this.apply({ type: 'add-member', id, url: `http://${id}:4000` })).toEqual({ ok: true })
    expect(this.apply({ type: 'promote', id })).toEqual({ ok: true })
  }

  role(id: string): string | undefined {
    return this.state.members.get(id)?.role
  }
}

describe('members', () => {
  test('a new member joins as a replica', () => {
    const log = new Log()
    expect(log.apply({ type: 'add-member', id: 'a', url: 'http://a:4000' })).toEqual({ ok: true })
    expect(log.state.members.get('a')).toEqual({ id: 'a', url: 'http://a:4000', role: 'replica' })
  })

  test('member ids and URLs are unique', () => {
    const log = new Log()
    log.apply({ type: 'add-member', id: 'a', url: 'http://a:4000' })
    expect(log.apply({ type: 'add-member', id: 'a', url: 'http://other:4000' })).toEqual({
      ok: false,
      code: 'conflict',
      message: 'member "a" already exists',
    })
    expect(log.apply({ type: 'add-member', id: 'b', url: 'http://a:4000' })).toEqual({
      ok: false,
      code: 'conflict',
      message: 'member "a" already has the URL http://a:4000',
    })
  })

  test('replicas are promoted up to five voters, whatever the target (the planner keeps to the target)', () => {
    const log = new Log()
    for (const id of ['a', 'b', 'c', 'd', 'e']) log.addVoter(id)
    log.apply({ type: 'add-member', id: 'f', url: 'http://f:4000' })
    expect(log.apply({ type: 'promote', id: 'f' })).toMatchObject({ ok: false, code: 'conflict' })
    expect(log.apply({ type: 'demote', id: 'e' })).toEqual({ ok: true })
    expect(log.apply({ type: 'promote', id: 'f' })).toEqual({ ok: true })
    expect(log.role('f')).toBe('voter')
  })

  test('a role change to the role a member has is a conflict', () => {
    const log = new Log()
    log.addVoter('a')
    log.addVoter('b')
    log.apply({ type: 'add-member', id: 'c', url: 'http://c:4000' })
    expect(log.apply({ type: 'promote', id: 'a' })).toMatchObject({ ok: false, code: 'conflict' })
    expect(log.apply({ type: 'demote', id: 'c' })).toMatchObject({ ok: false, code: 'conflict' })
    expect(log.apply({ type: 'demote', id: 'b' })).toEqual({ ok: true })
    expect(log.role('b')).toBe('replica')
  })

  test('the last voter can be neither demoted nor removed', () => {
    const log = new Log()
    log.addVoter('a')
    log.apply({ type: 'add-member', id: 'b', url: 'http://b:4000' })
    expect(log.apply({ type: 'demote', id: 'a' })).toMatchObject({ ok: false, code: 'conflict' })
    expect(log.apply({ type: 'remove-member', id: 'a' })).toMatchObject({ ok: false, code: 'conflict' })
    expect(log.apply({ type: 'remove-member', id: 'b' })).toEqual({ ok: true })
    expect([...log.state.members.keys()]).toEqual(['a'])
  })

  test('commands naming an unknown member are not_found', () => {
    const log = new Log()
    for (const type of ['promote', 'demote', 'remove-member'] as const) {
      expect(log.apply({ type, id: 'ghost' })).toEqual({ ok: false, code: 'not_found', message: 'no member "ghost"' })
    }
  })
})

describe('namespaces', () => {
  const spec = { schema: { roots: { body: 'text' } }, limits: { maxUpdateBytes: 1000 } }

  test('put-namespace declares a namespace, filling in defaults, and replaces it when repeated', () => {
    const log = new Log()
    expect(log.apply({ type: 'put-namespace', name: 'notes', ...spec })).toEqual({ ok: true })
    expect(log.state.namespaces.get('notes')).toEqual({ name: 'notes', ...spec, readOnly: false, publicRead: false })
    log.apply({ type: 'put-namespace', name: 'notes', schema: { roots: {} }, readOnly: true })
    expect(log.state.namespaces.get('notes')).toEqual({ name: 'notes', schema: { roots: {} }, limits: {}, readOnly: true, publicRead: false })
  })

  test('delete-namespace removes a declared namespace and is not_found otherwise', () => {
    const log = new Log()
    log.apply({ type: 'put-namespace', name: 'notes', ...spec })
    expect(log.apply({ type: 'delete-namespace', name: 'notes' })).toEqual({ ok: true })
    expect(log.apply({ type: 'delete-namespace', name: 'notes' })).toEqual({
      ok: false,
      code: 'not_found',
      message: 'no namespace "notes"',
    })
  })

  test('a document belongs to the namespace named before its first slash', () => {
    expect(namespaceOf('notes/2024/todo')).toBe('notes')
    expect(namespaceOf('notes/')).toBe('notes')
    expect(namespaceOf('plain')).toBeNull()
    expect(namespaceOf('/rooted')).toBeNull()
  })

  test('the policy of a document is its declared namespace; anything else is unrestricted', () => {
    const log = new Log()
    log.apply({ type: 'put-namespace', name: 'notes', ...spec })
    expect(policyFor(log.state, 'notes/a')).toMatchObject({ name: 'notes', limits: { maxUpdateBytes: 1000 } })
    expect(policyFor(log.state, 'other/a')).toBeNull()
    expect(policyFor(log.state, 'notes')).toBeNull()
  })
})

describe('tombstones', () => {
  test('delete-doc records the log index of the deletion', () => {
    const log = new Log()
    log.apply({ type: 'set-voter-target', count: 3 })
    expect(log.apply({ type: 'delete-doc', name: 'notes/a' })).toEqual({ ok: true })
    expect(log.state.tombstones.get('notes/a')).toBe(2)
    expect(isDeleted(log.state, 'notes/a')).toBe(true)
    expect(isDeleted(log.state, 'notes/b')).toBe(false)
  })

  test('a deleted document stays deleted: deleting it again is a conflict naming the first deletion', () => {
    const log = new Log()
    log.apply({ type: 'delete-doc', name: 'a' })
    expect(log.apply({ type: 'delete-doc', name: 'a' })).toEqual({
      ok: false,
      code: 'conflict',
      message: 'document "a" was deleted at log index 1',
    })
    expect(log.state.tombstones.get('a')).toBe(1)
  })
})

describe('request ids', () => {
  test('a repeated request id returns the first result and applies nothing, whatever the command', () => {
    const log = new Log()
    expect(log.apply({ type: 'delete-doc', name: 'a' }, 'once')).toEqual({ ok: true })
    expect(log.apply({ type: 'delete-doc', name: 'a' }, 'once')).toEqual({ ok: true })
    expect(log.apply({ type: 'delete-doc', name: 'b' }, 'once')).toEqual({ ok: true })
    expect([...log.state.tombstones.keys()]).toEqual(['a'])
  })

  test('refusals are remembered too', () => {
    const log = new Log()
    const refused = log.apply({ type: 'promote', id: 'a' }, 'r')
    log.apply({ type: 'add-member', id: 'a', url: 'http://a:4000' })
    expect(log.apply({ type: 'promote', id: 'a' }, 'r')).toEqual(refused)
    expect(log.role('a')).toBe('replica')
  })

  test(`only the last ${maxRememberedRequests} request ids are remembered, the oldest forgotten first`, () => {
    const log = new Log()
    const namespace = { name: 'n', schema: { roots: {} }, limits: {}, readOnly: false, publicRead: false }
    log.apply({ type: 'put-namespace', ...namespace }, 'first')
    log.apply({ type: 'delete-namespace', name: 'n' }, 'second')
    for (let i = 0; i < maxRememberedRequests - 1; i++) log.apply({ type: 'set-voter-target', count: 3 })
    expect(log.state.recentResults.size).toBe(maxRememberedRequests)
    expect(log.state.recentResults.has('first')).toBe(false)
    // 'second' is still remembered, so it does nothing; 'first' was forgotten, so it runs again.
    expect(log.apply({ type: 'delete-namespace', name: 'n' }, 'second')).toEqual({ ok: true })
    expect(log.apply({ type: 'put-namespace', ...namespace }, 'first')).toEqual({ ok: true })
    expect(log.state.namespaces.has('n')).toBe(true)
  })

  test('a removed member id is never admitted again', () => {
    const log = new Log()
    log.addVoter('a')
    log.apply({ type: 'add-member', id: 'b', url: 'http://b:4000' })
    expect(log.apply({ type: 'remove-member', id: 'b' })).toEqual({ ok: true })
    expect(log.apply({ type: 'add-member', id: 'b', url: 'http://b:4000' })).toMatchObject({ ok: false, code: 'conflict' })
    expect(log.apply({ type: 'add-member', id: 'b2', url: 'http://b:4000' })).toEqual({ ok: true })
  })
})

describe('command validation', () => {
  const refused = (input: object): boolean => !parseCommand({ requestId: 'r', ...input }).ok

  test('namespace names cannot contain a slash', () => {
    expect(refused({ type: 'put-namespace', name: 'a/b', schema: { roots: {} } })).toBe(true)
    expect(refused({ type: 'delete-namespace', name: 'a/b' })).toBe(true)
    expect(refused({ type: 'put-namespace', name: 'a', schema: { roots: {} } })).toBe(false)
  })

  test('the voter target is 1 to 5', () => {
    expect([0, 1, 5, 6, 2.5].map((count) => refused({ type: 'set-voter-target', count }))).toEqual([
      true,
      false,
      false,
      true,
      true,
    ])
  })

  test('member URLs are http(s) or ws(s)', () => {
    expect(refused({ type: 'add-member', id: 'a', url: 'https://a.example' })).toBe(false)
    expect(refused({ type: 'add-member', id: 'a', url: 'ftp://a.example' })).toBe(true)
    expect(refused({ type: 'add-member', id: 'a', url: 'a:4000' })).toBe(true)
  })

  test('roots are of a known kind; limits are positive integers', () => {
    expect(refused({ type: 'put-namespace', name: 'n', schema: { roots: { body: 'rich' } } })).toBe(true)
    expect(refused({ type: 'put-namespace', name: 'n', schema: { roots: {} }, limits: { maxDocBytes: 0 } })).toBe(true)
  })

  test('every command needs a request id; unknown types and fields are refused and dropped', () => {
    expect(parseCommand({ type: 'delete-doc', name: 'a' })).toMatchObject({ ok: false, code: 'invalid' })
    expect(refused({ type: 'drop-everything' })).toBe(true)
    expect(parseCommand({ type: 'delete-doc', requestId: 'r', name: 'a', extra: 1 })).toEqual({
      ok: true,
      command: { type: 'delete-doc', requestId: 'r', name: 'a' },
    })
  })

  test('the message names the field', () => {
    expect(parseCommand({ type: 'set-voter-target', requestId: 'r', count: 9 })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^count: /),
    })
  })
})

describe('webhooks', () => {
  const spec = (id: string) => ({ type: 'put-webhook' as const, id, url: 'https://hooks.example/x', events: ['deleted', 'updated'], prefix: 'team/', secret: `whsec_${'A'.repeat(43)}=` })
  const id = (n: number) => `wh_${String(n).padStart(20, '0')}`

  test('a webhook is kept with its events in a fixed order; an id is taken once, and removing an unknown one is not_found', () => {
    const log = new Log()
    expect(log.apply(spec(id(1)))).toEqual({ ok: true })
    expect(log.state.webhooks.get(id(1))).toEqual({ id: id(1), url: 'https://hooks.example/x', events: ['updated', 'deleted'], prefix: 'team/', secret: `whsec_${'A'.repeat(43)}=` })
    expect(log.apply(spec(id(1)))).toMatchObject({ ok: false, code: 'conflict' })
    expect(log.apply({ type: 'delete-webhook', id: id(1) })).toEqual({ ok: true })
    expect(log.apply({ type: 'delete-webhook', id: id(1) })).toMatchObject({ ok: false, code: 'not_found' })
  })

  test(`a cluster holds at most ${maxWebhooks} webhooks`, () => {
    const log = new Log()
    for (let n = 0; n < maxWebhooks; n++) expect(log.apply(spec(id(n)))).toEqual({ ok: true })
    expect(log.apply(spec(id(maxWebhooks)))).toMatchObject({ ok: false, code: 'conflict' })
  })

  test('a malformed webhook is not a command', () => {
    for (const bad of [{ url: 'ftp://x' }, { events: [] }, { secret: 'not-a-secret' }, { id: 'wh_UPPER0000000000000000' }]) {
      expect(parseCommand({ requestId: 'r', ...spec(id(1)), ...bad }).ok).toBe(false)
    }
  })
})
