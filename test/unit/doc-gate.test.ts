import * as Y from 'yjs'
import { expect, test } from 'vitest'
import { metadataGate } from '../../src/control/doc-gate.js'
import { MetaStateMachine } from '../../src/meta/state-machine.js'

const fromPeer = Symbol('a peer')
const fromClient = Symbol('a client')

function gate() {
  const meta = new MetaStateMachine()
  meta.state.namespaces.set('ns', {
    name: 'ns',
    schema: { roots: { body: 'text' } },
    limits: { maxUpdateBytes: 64, maxDocBytes: 128 },
    readOnly: false,
    publicRead: false,
  })
  return { meta, check: metadataGate(meta, () => meta.state.removedMembers.has('n1'), (origin) => origin === fromPeer) }
}

function update(edit: (doc: Y.Doc) => void): Uint8Array {
  const doc = new Y.Doc()
  edit(doc)
  return Y.encodeStateAsUpdate(doc)
}

const undeclaredRoot = update((doc) => doc.getArray('legacy').push(['written before the schema']))
const large = update((doc) => doc.getText('body').insert(0, 'x'.repeat(100)))

test("a client's update is held to the namespace: schema, update size, document size, read-only", () => {
  const { meta, check } = gate()
  expect(check('ns/a', undeclaredRoot, () => 0, fromClient)).toMatchObject({ ok: false, reason: 'undeclared_root' })
  expect(check('ns/a', large, () => 0, fromClient)).toMatchObject({ ok: false, reason: 'update_too_large' })
  const small = update((doc) => doc.getText('body').insert(0, 'hi'))
  expect(check('ns/a', small, () => 127, fromClient)).toMatchObject({ ok: false, reason: 'doc_too_large' })
  meta.state.namespaces.set('ns', { ...meta.state.namespaces.get('ns')!, readOnly: true })
  expect(check('ns/a', small, () => 0, fromClient)).toMatchObject({ ok: false, reason: 'read_only' })
})

test("a peer's update passes the namespace (the node that took it from its client decided), but never a tombstone", () => {
  const { meta, check } = gate()
  expect(check('ns/a', undeclaredRoot, () => 0, fromPeer)).toEqual({ ok: true })
  expect(check('ns/a', large, () => 1_000, fromPeer)).toEqual({ ok: true })
  meta.state.namespaces.set('ns', { ...meta.state.namespaces.get('ns')!, readOnly: true })
  expect(check('ns/a', large, () => 0, fromPeer)).toEqual({ ok: true })
  meta.state.tombstones.set('ns/a', 1)
  expect(check('ns/a', large, () => 0, fromPeer)).toMatchObject({ ok: false, reason: 'deleted' })
  expect(check('ns/a', large, () => 0, fromClient)).toMatchObject({ ok: false, reason: 'deleted' })
})

test("once this node is removed from the cluster its clients' updates are refused, while peers' still pass (its hand-off)", () => {
  const { meta, check } = gate()
  const small = update((doc) => doc.getText('body').insert(0, 'hi'))
  meta.state.removedMembers.add('n2')
  expect(check('free', small, () => 0, fromClient)).toEqual({ ok: true })
  meta.state.removedMembers.add('n1')
  expect(check('free', small, () => 0, fromClient)).toMatchObject({ ok: false, reason: 'not_a_member' })
  expect(check('free', small, () => 0, fromPeer)).toEqual({ ok: true })
})
