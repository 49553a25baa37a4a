import fc from 'fast-check'
import * as Y from 'yjs'
import { describe, expect, test } from 'vitest'
import { tokenOf } from '../../src/auth/doc-access.js'
import { checkDocName, docNameFromPath, maxDocNameBytes } from '../../src/docs/doc-name.js'
import { listCursors } from '../../src/http/list-cursor.js'
import { formatCursor, parseCursor } from '../../src/changes/cursor.js'
import { encodeBackupHeader, headerProbeBytes, readBackupHeader } from '../../src/storage/backup-file.js'
import { checkRequest, parseRequestTarget } from '../../src/http/request-target.js'
import { applyCommand } from '../../src/meta/apply.js'
import { checkTicket, createTicket } from '../../src/peer/handshake.js'
import { decodeCommand, decodeMetaState, encodeCommand, encodeMetaState } from '../../src/meta/codec.js'
import { parseCommand } from '../../src/meta/commands.js'
import { emptyMetaState } from '../../src/meta/state.js'
import { encodeFormat1MetaState } from '../helpers/legacy-meta-snapshot.js'
import { durableQueryOf, editedDoc } from '../helpers/edited-docs.js'
import {
  decodeChannelFrame,
  decodeHandshakeMessage,
  encodeChannelFrame,
  encodeHandshakeMessage,
  MalformedPeerFrameError,
  nonceBytes,
  proofBytes,
} from '../../src/protocol/peer-frames.js'
import { decodeRaftMessage, encodeRaftMessage } from '../../src/protocol/raft-codec.js'
import {
  MalformedMembershipNoticeError,
  decodeMembershipNotice,
  encodeMembershipNotice,
} from '../../src/protocol/membership-notice.js'
import { decodeWebhookNotice, encodeWebhookNotice, MalformedWebhookNoticeError, type WebhookNotice } from '../../src/protocol/webhook-notice.js'
import { decodeReconcileMessage, MalformedReconcileMessageError, maxItemNameBytes, type WireRange } from '../../src/protocol/range-codec.js'
import {
  decodeReplicationMessage,
  encodeReplicationMessage,
  MalformedReplicationMessageError,
  type ReplicationMessage,
} from '../../src/protocol/replication-codec.js'
import {
  decodeClientFrame,
  decodeClientMessage,
  decodeDurableQuery,
  encodeAwareness,
  encodeDurableQuery,
  encodeQueryAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
  MalformedMessageError,
} from '../../src/protocol/y-websocket.js'
import type { Entry, Message } from '../../src/raft/types.js'
import { ItemSet } from '../../src/replication/item-set.js'
import { RangeReconciler } from '../../src/replication/range-reconciler.js'

/*
 * Every decoder of bytes or text from outside the process, held to one property: whatever arrives — random
 * bytes, or a valid encoding with a few bytes set, inserted, deleted or cut — it returns a value or throws its
 * codec's own error, never anything else. Bytes arrive as views into larger buffers (ws and the peer link
 * hand over slices), so each input is decoded as a view with other bytes after it and as a copy: a decoder
 * must not read past the end of its view, and both must agree. Round trips are here for the codecs whose own
 * tests have none.
 */

type ByteEdit = { op: 'set' | 'insert' | 'delete' | 'flip' | 'cut'; at: number; value: number }

const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff))
const byteEdit: fc.Arbitrary<ByteEdit> = fc.record({
  op: fc.constantFrom('set', 'insert', 'delete', 'flip', 'cut'),
  at: fc.nat(),
  value: byte,
})

function edited(bytes: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  const out = Array.from(bytes)
  for (const { op, at, value } of edits) {
    const i = at % (out.length + 1)
    const existing = Math.min(i, out.length - 1)
    if (op === 'insert' || out.length === 0) out.splice(i, 0, value)
    else if (op === 'set') out[existing] = value
    else if (op === 'delete') out.splice(existing, 1)
    else if (op === 'flip') out[existing] = out[existing]! ^ (1 << (value % 8))
    else out.length = i
  }
  return Uint8Array.from(out)
}

/** What a decoder may be handed from the network: random bytes, or one of `valid` edited at a few bytes. */
function fromNetwork(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.tuple(valid, fc.array(byteEdit, { minLength: 1, maxLength: 4 })).map(([bytes, edits]) => edited(bytes, edits)),
  )
}

/** `bytes` as a view into a larger buffer that holds `after` behind them, as a slice of a socket's read is. */
function viewWithBytesAfter(bytes: Uint8Array, after: Uint8Array): Uint8Array {
  const buffer = new Uint8Array(bytes.byteLength + after.byteLength)
  buffer.set(bytes)
  buffer.set(after, bytes.byteLength)
  return buffer.subarray(0, bytes.byteLength)
}

const bytesAfter = fc.uint8Array({ minLength: 1, maxLength: 40 })

type Outcome = { value: unknown } | { error: unknown }

function outcomeOf(decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array): Outcome {
  try {
    return { value: decode(bytes) }
  } catch (error) {
    return { error }
  }
}

/**
 * `decode` of the view and of a copy agree, and each returns or throws an `errorClass` (with `null`, it must not
 * throw at all); returns the value, if any, for further checks.
 */
function expectValueOrOwnError(
  decode: (bytes: Uint8Array) => unknown,
  errorClass: (new (...args: never[]) => Error) | null,
  bytes: Uint8Array,
  after: Uint8Array,
): unknown {
  const fromView = outcomeOf(decode, viewWithBytesAfter(bytes, after))
  const fromCopy = outcomeOf(decode, Uint8Array.from(bytes))
  for (const outcome of [fromView, fromCopy]) {
    if (!('error' in outcome)) continue
    if (errorClass === null) throw outcome.error
    expect(outcome.error).toBeInstanceOf(errorClass)
  }
  expect('value' in fromView ? fromView.value : 'threw').toEqual('value' in fromCopy ? fromCopy.value : 'threw')
  return 'value' in fromCopy ? fromCopy.value : undefined
}

const payload = fc.uint8Array({ maxLength: 120 })
const numberOnWire = fc.oneof(fc.nat(), fc.constantFrom(0, 127, 128, 2 ** 32, Number.MAX_SAFE_INTEGER))

describe('client frames (y-websocket)', () => {
  const validFrame = fc.oneof(
    payload.map(encodeSyncStep1),
    payload.map(encodeSyncStep2),
    payload.map(encodeSyncUpdate),
    payload.map(encodeAwareness),
    fc.constant(encodeQueryAwareness()),
    fc.tuple(numberOnWire, payload).map(([id, stateVector]) => encodeDurableQuery(id, stateVector)),
  )

  test('any bytes decode to a message or throw MalformedMessageError, and never read past their end', () => {
    fc.assert(
      fc.property(fromNetwork(validFrame), bytesAfter, (bytes, after) => {
        expectValueOrOwnError(decodeClientMessage, MalformedMessageError, bytes, after)
      }),
      { numRuns: 2_000 },
    )
  })

  const maxMessages = 4
  const severalMessages = fc.array(validFrame, { minLength: 1, maxLength: maxMessages + 1 })
  const concatenated = (frames: Uint8Array[]) => Uint8Array.from(frames.flatMap((frame) => [...frame]))

  test('any bytes decode to 1 to maxMessages messages or throw MalformedMessageError', () => {
    fc.assert(
      fc.property(fromNetwork(severalMessages.map(concatenated)), bytesAfter, (bytes, after) => {
        const messages = expectValueOrOwnError((b) => decodeClientFrame(b, maxMessages), MalformedMessageError, bytes, after) as unknown[] | undefined
        if (messages === undefined) return
        expect(messages.length).toBeGreaterThanOrEqual(1)
        expect(messages.length).toBeLessThanOrEqual(maxMessages)
      }),
      { numRuns: 2_000 },
    )
  })

  const validQuery = fc.oneof(editedDoc.map((doc) => Y.encodeStateVector(doc)), editedDoc.map(durableQueryOf))

  test('any bytes decode to a durability query or throw MalformedMessageError', () => {
    fc.assert(
      fc.property(fromNetwork(validQuery), bytesAfter, (bytes, after) => {
        expectValueOrOwnError(decodeDurableQuery, MalformedMessageError, bytes, after)
      }),
      { numRuns: 2_000 },
    )
  })

  test('messages sent in one frame decode as each alone, in order; more than maxMessages are malformed', () => {
    fc.assert(
      fc.property(severalMessages, (frames) => {
        const frame = concatenated(frames)
        if (frames.length > maxMessages) expect(() => decodeClientFrame(frame, maxMessages)).toThrow(MalformedMessageError)
        else expect(decodeClientFrame(frame, maxMessages)).toEqual(frames.map(decodeClientMessage))
      }),
    )
  })
})

describe('peer frames', () => {
  const fixed = (length: number) => fc.uint8Array({ minLength: length, maxLength: length })
  const peerId = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
  const validHandshake = fc
    .oneof(
      fixed(nonceBytes).map((nonce) => ({ type: 'challenge' as const, nonce })),
      fc.record({ type: fc.constant('hello' as const), dialerId: peerId, acceptorId: peerId, nonce: fixed(nonceBytes), proof: fixed(proofBytes) }),
      fixed(proofBytes).map((proof) => ({ type: 'welcome' as const, proof })),
    )
    .map(encodeHandshakeMessage)
  const validChannelFrame = fc.tuple(numberOnWire, payload).map(([channel, bytes]) => encodeChannelFrame(channel, bytes))

  test('any bytes decode to a handshake message or throw MalformedPeerFrameError', () => {
    fc.assert(
      fc.property(fromNetwork(validHandshake), bytesAfter, (bytes, after) => {
        expectValueOrOwnError(decodeHandshakeMessage, MalformedPeerFrameError, bytes, after)
      }),
      { numRuns: 2_000 },
    )
  })

  test('any bytes decode to a channel frame or throw MalformedPeerFrameError', () => {
    fc.assert(
      fc.property(fromNetwork(validChannelFrame), bytesAfter, (bytes, after) => {
        expectValueOrOwnError(decodeChannelFrame, MalformedPeerFrameError, bytes, after)
      }),
      { numRuns: 2_000 },
    )
  })

  test('any bytes decode to a membership notice or throw MalformedMembershipNoticeError', () => {
    const validNotice = fc.constant(encodeMembershipNotice({ type: 'removed' }))
    fc.assert(
      fc.property(fromNetwork(validNotice), bytesAfter, (bytes, after) => {
        expectValueOrOwnError(decodeMembershipNotice, MalformedMembershipNoticeError, bytes, after)
      }),
      { numRuns: 2_000 },
    )
  })

  const webhookNotice: fc.Arbitrary<WebhookNotice> = fc.record({
    webhookId: fc.stringMatching(/^wh_[a-z0-9]{20}$/),
    docs: fc.array(
      fc.record({
        name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((name) => checkDocName(name).ok),
        deleted: fc.boolean(),
        stateVector: fc
          .array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 4 })
          .map((clocks) => Y.encodeStateVector(new Map(clocks))),
      }),
      { maxLength: 5 },
    ),
  })

  test('a webhook notice decodes to what was encoded', () => {
    fc.assert(fc.property(webhookNotice, (notice) => void expect(decodeWebhookNotice(encodeWebhookNotice(notice))).toEqual(notice)))
  })

  test('any bytes decode to a webhook notice or throw MalformedWebhookNoticeError', () => {
    fc.assert(
      fc.property(fromNetwork(webhookNotice.map(encodeWebhookNotice)), bytesAfter, (bytes, after) => {
        expectValueOrOwnError(decodeWebhookNotice, MalformedWebhookNoticeError, bytes, after)
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('peer admission tickets', () => {
  const secret = Buffer.from('a cluster secret of the ticket properties')
  const dialerId = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
  const nowMs = 1_800_000_000_000
  const check = (ticket: string) => checkTicket({ secret, acceptorId: 'acceptor', ticket, nowMs })

  test('any ticket names a dialer or is refused, never a throw', () => {
    const pieces = fc.oneof(fc.string(), fc.constantFrom('', '1800000000000', '9'.repeat(16), '-1', 'YQ', '=='))
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.array(pieces, { maxLength: 4 }).map((p) => p.join('.'))), (ticket) => {
        const dialer = check(ticket)
        expect(dialer === null || typeof dialer === 'string').toBe(true)
      }),
      { numRuns: 2_000 },
    )
  })

  test('a ticket names its dialer, and one edited anywhere is refused or still names that dialer', () => {
    const edit = fc.record({ at: fc.nat(), char: fc.constantFrom('A', '0', '.', '-', '_', '=', 'é', '') })
    fc.assert(
      fc.property(dialerId, fc.array(edit, { maxLength: 3 }), (id, edits) => {
        const ticket = createTicket({ secret, dialerId: id, acceptorId: 'acceptor', issuedAtMs: nowMs })
        expect(check(ticket)).toBe(id)
        const editedTicket = edits.reduce((t, { at, char }) => t.slice(0, at % (t.length + 1)) + char + t.slice((at % (t.length + 1)) + 1), ticket)
        expect([null, id]).toContain(check(editedTicket))
      }),
    )
  })
})

describe('range reconciliation messages', () => {
  const itemName = fc.string({ unit: fc.constantFrom('a', 'b', '/', 'é', '😀', '\uE000'), minLength: 1, maxLength: 8 })
  /** What a node really sends: the first message and the reply of a session between two random sets. */
  const validMessage = fc
    .tuple(fc.uniqueArray(itemName, { maxLength: 30 }), fc.uniqueArray(itemName, { maxLength: 30 }), fc.boolean())
    .map(([mine, theirs, reply]) => {
      const set = (names: string[]) => {
        const items = new ItemSet()
        for (const name of names) items.set(name, new Uint8Array(16).fill(name.length))
        return items
      }
      const first = new RangeReconciler(set(mine)).initiate()
      return reply ? (new RangeReconciler(set(theirs)).receive(first).reply ?? first) : first
    })

  /** What the decoder promises of a message it returns. */
  function expectWellFormed(ranges: WireRange[]): void {
    expect(ranges.at(-1)?.upper).toBeNull()
    let lower = ''
    for (const range of ranges) {
      if (range.upper !== null) expect(range.upper > lower).toBe(true)
      if (range.mode === 'list') {
        let previous: string | null = null
        for (const { name, digest } of range.items) {
          expect(name >= lower && (range.upper === null || name < range.upper)).toBe(true)
          if (previous !== null) expect(name > previous).toBe(true)
          expect(Buffer.byteLength(name, 'utf8')).toBeLessThanOrEqual(maxItemNameBytes)
          expect(digest.byteLength).toBe(16)
          previous = name
        }
      }
      if (range.upper !== null) lower = range.upper
    }
  }

  test('any bytes decode to well-formed ranges or throw MalformedReconcileMessageError', () => {
    fc.assert(
      fc.property(fromNetwork(validMessage), bytesAfter, (bytes, after) => {
        const ranges = expectValueOrOwnError(decodeReconcileMessage, MalformedReconcileMessageError, bytes, after)
        if (ranges !== undefined) expectWellFormed(ranges as WireRange[])
      }),
      { numRuns: 1_000 },
    )
  })
})

describe('replication messages', () => {
  const name = fc.string({ minLength: 1, maxLength: 20 })
  const session = numberOnWire
  const named = fc.array(fc.record({ name, update: payload }), { maxLength: 3 })
  const validMessage = fc
    .oneof(
      fc.record({ type: fc.constant('updates' as const), updates: named }),
      fc.record({ type: fc.constant('range' as const), session, payload }),
      fc.record({ type: fc.constant('doc-request' as const), session, docs: fc.array(fc.record({ name, stateVector: payload }), { maxLength: 3 }) }),
      fc.record({
        type: fc.constant('doc-reply' as const),
        session,
        docs: fc.array(
          fc.oneof(
            fc.record({ name, holding: fc.constant('present' as const), update: payload, stateVector: payload }),
            fc.record({ name, holding: fc.constantFrom('absent' as const, 'deleted' as const) }),
          ),
          { maxLength: 3 },
        ),
      }),
      fc.record({ type: fc.constant('doc-fill' as const), session, docs: named }),
      fc.record({ type: fc.constant('busy' as const), session }),
      fc.record({ type: fc.constant('awareness' as const), name, update: payload }),
      fc.record({ type: fc.constant('hold-check' as const), check: session, docs: fc.array(fc.record({ name, snapshot: payload }), { maxLength: 3 }) }),
      fc.record({ type: fc.constant('hold-answer' as const), check: session, missing: fc.array(name, { maxLength: 3 }) }),
    )
    .map((message: ReplicationMessage) => encodeReplicationMessage(message))

  test('any bytes decode to a message or throw MalformedReplicationMessageError', () => {
    fc.assert(
      fc.property(fromNetwork(validMessage), bytesAfter, (bytes, after) => {
        expectValueOrOwnError(decodeReplicationMessage, MalformedReplicationMessageError, bytes, after)
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('raft messages', () => {
  const id = fc.constantFrom('n1', 'n2', 'n3', 'ü-😀')
  const index = fc.nat()
  // msgpackr reads binary back as a Buffer.
  const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b))
  const entry: fc.Arbitrary<Entry> = fc.record(
    {
      index,
      term: index,
      data: fc.oneof(fc.constant(null), bytes(40)),
      change: fc.record({ op: fc.constantFrom('add-replica', 'promote', 'demote', 'remove' as const), id }),
    },
    { requiredKeys: ['index', 'term', 'data'] },
  )
  const envelope = { from: id, to: id, term: fc.nat() }
  const raftMessageTypes = [
    ...['pre-vote', 'pre-vote-resp', 'vote', 'vote-resp', 'append', 'append-resp'],
    ...['heartbeat', 'heartbeat-resp', 'snapshot-chunk', 'snapshot-ack', 'timeout-now'],
  ]
  const readCtx = fc.option(fc.string({ maxLength: 20 }), { nil: null })
  const message: fc.Arbitrary<Message> = fc.oneof(
    fc.record({ type: fc.constantFrom('pre-vote', 'vote' as const), ...envelope, lastIndex: index, lastTerm: index, transfer: fc.boolean() }),
    fc.record({ type: fc.constantFrom('pre-vote-resp', 'vote-resp' as const), ...envelope, reject: fc.boolean() }),
    fc.record({
      type: fc.constant('append' as const),
      ...envelope,
      prevIndex: index,
      prevTerm: index,
      entries: fc.array(entry, { maxLength: 4 }),
      commit: index,
    }),
    fc.record({ type: fc.constant('append-resp' as const), ...envelope, index, reject: fc.boolean(), hint: index }),
    fc.record({ type: fc.constant('heartbeat' as const), ...envelope, commit: index, readCtx }),
    fc.record({ type: fc.constant('heartbeat-resp' as const), ...envelope, readCtx }),
    fc.record({
      type: fc.constant('snapshot-chunk' as const),
      ...envelope,
      snapshot: fc.record({ index, term: index, config: fc.record({ voters: fc.array(id), replicas: fc.array(id) }) }),
      totalBytes: index,
      offset: index,
      data: bytes(60),
    }),
    fc.record({ type: fc.constant('snapshot-ack' as const), ...envelope, index, offset: index, reject: fc.boolean() }),
    fc.record({ type: fc.constant('timeout-now' as const), ...envelope }),
  ) as fc.Arbitrary<Message>

  test('every message round-trips through encode and decode', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeRaftMessage(encodeRaftMessage(m))).toEqual(m)
      }),
    )
  })

  // The codec has no error class of its own: node.ts catches any Error from it and drops the message.
  test('any bytes decode to a message with a valid envelope or throw an Error', () => {
    fc.assert(
      fc.property(fromNetwork(message.map(encodeRaftMessage)), bytesAfter, (bytes, after) => {
        const decoded = expectValueOrOwnError(decodeRaftMessage, Error, bytes, after) as Message | undefined
        if (decoded === undefined) return
        expect(raftMessageTypes).toContain(decoded.type)
        expect([typeof decoded.from, typeof decoded.to]).toEqual(['string', 'string'])
        expect(Number.isSafeInteger(decoded.term)).toBe(true)
        if (decoded.type === 'snapshot-chunk') {
          expect([decoded.offset, decoded.totalBytes, decoded.snapshot.index].every(Number.isSafeInteger)).toBe(true)
          expect(decoded.data).toBeInstanceOf(Uint8Array)
        }
        if (decoded.type === 'snapshot-ack') expect([typeof decoded.offset, typeof decoded.reject]).toEqual(['number', 'boolean'])
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('metadata snapshots and log entries', () => {
  const rawCommand = fc.oneof(
    fc.record({ type: fc.constant('add-member'), id: fc.constantFrom('a', 'b', 'c'), url: fc.constantFrom('http://a:1', 'http://b:2', 'https://c') }),
    fc.record({ type: fc.constantFrom('promote', 'demote', 'remove-member'), id: fc.constantFrom('a', 'b', 'c') }),
    fc.record({ type: fc.constant('set-voter-target'), count: fc.integer({ min: 1, max: 5 }) }),
    fc.record({
      type: fc.constant('put-namespace'),
      name: fc.constantFrom('notes', 'x'),
      schema: fc.constant({ roots: { body: 'text' } }),
      readOnly: fc.boolean(),
    }),
    fc.record({ type: fc.constant('delete-doc'), name: fc.constantFrom('notes/a', 'notes/ab', 'notes/é', 'notes/😀', 'x') }),
  )
  const command = fc.tuple(rawCommand, fc.nat(20)).map(([input, n]) => {
    const parsed = parseCommand({ ...input, requestId: `r${n}` })
    if (!parsed.ok) throw new Error(`the generator made an invalid command: ${parsed.message}`)
    return parsed.command
  })
  const state = fc.array(command, { maxLength: 20 }).map((commands) => {
    const state = emptyMetaState()
    commands.forEach((c, i) => applyCommand(state, c, { index: i + 1, term: 1 }))
    return state
  })
  const snapshot = state.map(encodeMetaState)
  /** Format 1, which older data directories hold. */
  const jsonSnapshot = state.map(encodeFormat1MetaState)
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
  const encodedJson = fc.jsonValue().map((value) => new TextEncoder().encode(JSON.stringify(value)))
  /** A valid snapshot with one top-level field replaced by any JSON value. */
  const field = fc.constantFrom('format', 'voterTarget', 'members', 'namespaces', 'tombstones', 'removedMembers', 'recentResults')
  const snapshotWithOddField = fc
    .tuple(jsonSnapshot, field, fc.jsonValue())
    .map(([bytes, field, value]) => new TextEncoder().encode(JSON.stringify({ ...JSON.parse(text(bytes)), [field]: value })))

  // Returns `{ ok: false }` for what it refuses: a snapshot may come from a peer.
  test('any bytes decode to a state or a refusal, never a throw, and a decoded state survives a round trip', () => {
    fc.assert(
      fc.property(fc.oneof(fromNetwork(snapshot), fromNetwork(jsonSnapshot), encodedJson, snapshotWithOddField), bytesAfter, (bytes, after) => {
        const decoded = expectValueOrOwnError(decodeMetaState, null, bytes, after) as ReturnType<typeof decodeMetaState>
        if (!decoded.ok) return
        expect(decodeMetaState(encodeMetaState(decoded.state))).toEqual(decoded)
      }),
      { numRuns: 1_000 },
    )
  })

  test('any bytes decode to a command or a refusal, never a throw, and a decoded command survives a round trip', () => {
    fc.assert(
      fc.property(fc.oneof(fromNetwork(command.map(encodeCommand)), encodedJson), bytesAfter, (bytes, after) => {
        const decoded = expectValueOrOwnError(decodeCommand, null, bytes, after) as ReturnType<typeof decodeCommand>
        if (decoded.ok) expect(decodeCommand(encodeCommand(decoded.command))).toEqual(decoded)
      }),
      { numRuns: 1_000 },
    )
  })
})

describe('document names and request targets', () => {
  const anyString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }))
  /** Names that have a UTF-8 form, hence a percent-encoding: no lone surrogates. */
  const hasUtf8Form = (name: string) => {
    try {
      encodeURIComponent(name)
      return true
    } catch {
      return false
    }
  }
  const wellFormed = fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).filter(hasUtf8Form)

  // The node's own WebSocket endpoint, and the dot segments URL parsers resolve away.
  const reserved = ['_peer', '.', '..']

  test('any name is accepted exactly when it is 1 to 512 bytes of UTF-8 and not reserved', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, fc.constantFrom(...reserved, 'a'.repeat(maxDocNameBytes), 'a'.repeat(maxDocNameBytes + 1))), (name) => {
        const bytes = Buffer.byteLength(name, 'utf8')
        expect(checkDocName(name).ok).toBe(bytes >= 1 && bytes <= maxDocNameBytes && !reserved.includes(name))
        expect(docNameFromPath('/' + name)).toEqual(checkDocName(name))
      }),
      { numRuns: 2_000 },
    )
  })

  test('a percent-encoded name and query come back from the request target unchanged', () => {
    fc.assert(
      fc.property(wellFormed, fc.array(fc.tuple(wellFormed, wellFormed), { maxLength: 3 }), (name, query) => {
        const search = query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
        const target = parseRequestTarget(`/${encodeURIComponent(name)}${search ? `?${search}` : ''}`)
        if (!target.ok) throw new Error(target.message)
        expect(target.path).toBe('/' + name)
        expect([...target.query]).toEqual(query)
        expect(docNameFromPath(target.path)).toEqual(checkDocName(name))
      }),
    )
  })

  test('any request target and Host header give a target or a refusal, never a throw', () => {
    const host = fc.oneof(fc.constant(undefined), anyString, fc.constantFrom('127.0.0.1:4000', '[::1', 'x:99999', 'a/b', 'a b', ''))
    fc.assert(
      fc.property(fc.oneof(anyString, anyString.map((s) => '/' + s)), host, (url, hostHeader) => {
        const target = checkRequest({ url, headers: { host: hostHeader } })
        expect(typeof target.ok).toBe('boolean')
        if (target.ok) expect(docNameFromPath(target.path).ok).toBe(checkDocName(target.path.slice(1)).ok)
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('document list cursors', () => {
  const cursors = listCursors('a cluster secret of the cursor properties')

  test('any cursor opens to a name or to nothing, never a throw', () => {
    const base64url = fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes).toString('base64url'))
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), base64url), (cursor) => {
        const name = cursors.open(cursor)
        expect(name === undefined || typeof name === 'string').toBe(true)
      }),
      { numRuns: 2_000 },
    )
  })

  test('a sealed name opens to itself, and a cursor edited anywhere opens to nothing or to that name', () => {
    const edit = fc.record({ at: fc.nat(), char: fc.constantFrom('A', '_', '-', '0', '') })
    const name = fc.string({ unit: 'grapheme', maxLength: 60 })
    fc.assert(
      fc.property(name, fc.array(edit, { minLength: 1, maxLength: 3 }), (docName, edits) => {
        const cursor = cursors.seal(docName)
        expect(cursors.open(cursor)).toBe(docName)
        const edited = edits.reduce((c, { at, char }) => c.slice(0, at % (c.length + 1)) + char + c.slice((at % (c.length + 1)) + 1), cursor)
        expect([undefined, docName]).toContain(cursors.open(edited))
      }),
    )
  })
})

describe('change-feed cursors', () => {
  const logId = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes) => Buffer.from(bytes).toString('hex'))
  const seq = fc.maxSafeNat()

  test('a cursor reads back as itself', () => {
    fc.assert(
      fc.property(logId, seq, (id, n) => {
        expect(parseCursor(formatCursor({ logId: id, seq: n }))).toEqual({ logId: id, seq: n })
      }),
    )
  })

  test('any text reads as a cursor it is the only spelling of, or as none, never a throw', () => {
    const near = fc.tuple(logId, fc.string({ unit: fc.constantFrom('0', '1', '9', '-', '+', 'e', '.', ' ', 'x'), maxLength: 20 })).map(([id, rest]) => `${id}-${rest}`)
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), near), (text) => {
        const cursor = parseCursor(text)
        if (cursor !== null) expect(formatCursor(cursor)).toBe(text)
      }),
      { numRuns: 5_000 },
    )
    expect(parseCursor('0123abcd-9007199254740992')).toBeNull()
    expect(parseCursor('0123abcd-01')).toBeNull()
  })
})

describe('backup file headers', () => {
  test('any bytes read as a header that lies inside the file, or as a refusal, never a throw', () => {
    const nearly = fc
      .tuple(fc.uint8Array({ maxLength: 12 }), fc.nat({ max: 1_000 }))
      .map(([tail, size]) => ({ bytes: Uint8Array.from([...new TextEncoder().encode('SYNCMESH BACKUP\n'), ...tail]), size }))
    const any = fc.record({ bytes: fc.uint8Array({ maxLength: 40 }), size: fc.nat({ max: 1_000 }) })
    fc.assert(
      fc.property(fc.oneof(nearly, any), ({ bytes, size }) => {
        const header = readBackupHeader(bytes.subarray(0, headerProbeBytes), size)
        if (header.ok) expect(header.metaAt + header.metaBytes === header.dataAt && header.dataAt < size).toBe(true)
      }),
      { numRuns: 5_000 },
    )
  })

  test('a header reads back where its metadata and its store are', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3_000 }), fc.integer({ min: 1, max: 10_000 }), (meta, storeBytes) => {
        const header = encodeBackupHeader(meta)
        const read = readBackupHeader(header.subarray(0, headerProbeBytes), header.byteLength + storeBytes)
        expect(read).toEqual({ ok: true, metaAt: header.byteLength - meta.byteLength, metaBytes: meta.byteLength, dataAt: header.byteLength })
        expect(readBackupHeader(header.subarray(0, headerProbeBytes), header.byteLength)).toMatchObject({ ok: false })
      }),
    )
  })
})

describe('client tokens', () => {
  const tokenText = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '.', '-', '_', '=', '+', '/', 'é'), minLength: 1, maxLength: 60 })
  const authorization = fc.oneof(
    fc.constant(undefined),
    fc.string(),
    fc.string({ unit: 'binary' }),
    tokenText.map((token) => `Bearer ${token}`),
    fc.constantFrom('Bearer', 'Bearer ', 'bearer  x ', 'Basic Og==', 'Bearer a b', 'Bearer\ta', '\u0000'),
  )

  test('any query token and Authorization header give a token or none, never a throw', () => {
    fc.assert(
      fc.property(fc.option(fc.string(), { nil: undefined }), authorization, (query, header) => {
        const token = tokenOf(query, header)
        expect(token === undefined || typeof token === 'string').toBe(true)
        if (query !== undefined) expect(token).toBe(query)
      }),
      { numRuns: 2_000 },
    )
  })

  test('a token sent as a bearer token comes back unchanged, whatever the scheme case and spacing', () => {
    const scheme = fc.constantFrom('Bearer', 'bearer', 'BEARER')
    fc.assert(
      fc.property(tokenText, scheme, fc.constantFrom(' ', '  ', '\t'), fc.constantFrom('', ' '), (token, bearer, gap, end) => {
        expect(tokenOf(null, `${bearer}${gap}${token}${end}`)).toBe(token)
      }),
    )
  })
})
