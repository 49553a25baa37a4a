import WebSocket from 'ws'
import { answerChallenge, createTicket, ticketHeader } from '../../src/peer/handshake.js'
import {
  PeerChannel,
  decodeHandshakeMessage,
  encodeChannelFrame,
  encodeHandshakeMessage,
  type HandshakeMessage,
} from '../../src/protocol/peer-frames.js'
import { encodeReconcileMessage, type WireRange } from '../../src/protocol/range-codec.js'
import { encodeReplicationMessage, type ReplicationMessage } from '../../src/protocol/replication-codec.js'
import { Rng } from '../sim/rng.js'
import { hex, mutate, randomBytes } from './bytes.js'
import { delay, type InputGenerator, type Target } from './fuzz-input.js'
import { storedDocName } from './targets.js'
import type { YjsCorpus } from './yjs-corpus.js'

/** How the fuzzer answers the node's challenge. */
const helloKinds = ['valid', 'mutated', 'wrong-secret', 'unknown-id', 'wrong-acceptor', 'acceptor-id-as-dialer', 'garbage'] as const
type HelloKind = (typeof helloKinds)[number]

/** The admission ticket on the upgrade request: a member's, someone else's, stale, mutated, garbage, or none. */
const ticketKinds = ['none', 'valid', 'stranger', 'expired', 'mutated', 'garbage'] as const
type TicketKind = (typeof ticketKinds)[number]

/** Everything after a valid hello is fuzzed on an authenticated link; otherwise it tests the handshake. */
export const peerInput: InputGenerator = (rng, corpus) => {
  const ticket = rng.pick(ticketKinds)
  const garbageTicket = rng.pick([
    ...['', '.', '..', '1.2.3', '999999999999999.eA.AA', '-1.x.y', 'a'.repeat(5000)],
    Buffer.from(randomBytes(rng, 40)).toString('base64url'),
  ])
  const hello = rng.pick(helloKinds)
  // Drawn now, applied to bytes that depend on the node's nonce: the same seed mutates the same positions.
  const mutationSeed = rng.int(2 ** 32)
  const garbage = randomBytes(rng, 100)
  const frames = Array.from({ length: hello === 'valid' ? 1 + rng.int(5) : rng.int(2) }, () => channelFrame(rng, corpus))
  return {
    edge: 'peer',
    describe:
      `peer /_peer: ${ticket === 'garbage' ? `ticket ${JSON.stringify(garbageTicket.slice(0, 100))}` : `${ticket} ticket`}, ${hello} hello` +
      (hello === 'mutated' ? ` (mutation seed ${mutationSeed})` : hello === 'garbage' ? ` ${hex(garbage)}` : '') +
      `, then channel frames [${frames.map((f) => hex(f)).join(', ')}]`,
    send: (target) => peerSession(target, { ticket, garbageTicket, hello, mutationSeed, garbage, frames }),
  }
}

interface PeerPlan {
  ticket: TicketKind
  garbageTicket: string
  hello: HelloKind
  mutationSeed: number
  garbage: Uint8Array
  frames: Uint8Array[]
}

async function peerSession(target: Target, plan: PeerPlan): Promise<void> {
  const ticket = ticketFor(target, plan)
  let ws: WebSocket
  try {
    const headers = ticket === undefined ? {} : { [ticketHeader]: ticket }
    ws = new WebSocket(`ws://127.0.0.1:${target.port}/_peer`, { perMessageDeflate: false, handshakeTimeout: 1_000, headers })
  } catch {
    // A mutated ticket may hold bytes no HTTP header may carry; the client refuses to send it.
    return
  }
  ws.on('error', () => {})
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
  const messages: Buffer[] = []
  let arrived = () => {}
  ws.on('message', (data: Buffer) => {
    messages.push(data)
    arrived()
  })
  const nextMessage = async (): Promise<Buffer | undefined> => {
    if (messages.length === 0) await Promise.race([new Promise<void>((resolve) => (arrived = resolve)), closed, delay(1_000)])
    return messages.shift()
  }
  try {
    const challenge = await nextMessage()
    const message = challenge && decodeHandshakeMessage(challenge)
    if (message?.type !== 'challenge') return
    ws.send(helloBytes(target, plan, message))
    if (plan.hello === 'valid' && !(await nextMessage())) return
    for (const frame of plan.frames) if (ws.readyState === WebSocket.OPEN) ws.send(frame)
    await Promise.race([closed, delay(50)])
  } finally {
    ws.terminate()
  }
}

function ticketFor(target: Target, plan: PeerPlan): string | undefined {
  const secret = Buffer.from(target.clusterSecret)
  const now = Date.now()
  const ticket = (dialerId: string, issuedAtMs = now) => createTicket({ secret, dialerId, acceptorId: target.nodeId, issuedAtMs })
  switch (plan.ticket) {
    case 'none':
      return undefined
    case 'valid':
      return ticket(target.peerId)
    case 'stranger':
      return ticket('stranger')
    case 'expired':
      return ticket(target.peerId, now - 10 * 60_000)
    case 'mutated':
      return Buffer.from(mutate(new Rng(plan.mutationSeed), Buffer.from(ticket(target.peerId)))).toString('latin1')
    case 'garbage':
      return plan.garbageTicket
  }
}

function helloBytes(target: Target, plan: PeerPlan, challenge: Extract<HandshakeMessage, { type: 'challenge' }>): Uint8Array {
  const secret = Buffer.from(plan.hello === 'wrong-secret' ? 'not-the-cluster-secret' : target.clusterSecret)
  const ids = {
    dialerId: plan.hello === 'unknown-id' ? 'stranger' : plan.hello === 'acceptor-id-as-dialer' ? target.nodeId : target.peerId,
    acceptorId: plan.hello === 'wrong-acceptor' ? 'someone-else' : target.nodeId,
  }
  if (plan.hello === 'garbage') return plan.garbage
  const hello = encodeHandshakeMessage(answerChallenge({ secret, ...ids, challenge }))
  return plan.hello === 'mutated' ? mutate(new Rng(plan.mutationSeed), hello) : hello
}

/** A frame on an authenticated link: replication messages whole, mutated or random; raft garbage; unknown channels. */
function channelFrame(rng: Rng, corpus: YjsCorpus): Uint8Array {
  switch (rng.int(6)) {
    case 0:
    case 1:
      return encodeChannelFrame(PeerChannel.replication, encodeReplicationMessage(replicationMessage(rng, corpus)))
    case 2:
      return encodeChannelFrame(PeerChannel.replication, mutate(rng, encodeReplicationMessage(replicationMessage(rng, corpus))))
    case 3:
      // Raft bodies are trusted once the secret is proven; only envelopes that are not Raft messages go here.
      return encodeChannelFrame(PeerChannel.raft, randomBytes(rng, 100))
    case 4:
      return encodeChannelFrame(rng.pick([2, 7, 255, 2 ** 32]), randomBytes(rng, 20))
    default:
      return mutate(rng, encodeChannelFrame(PeerChannel.replication, encodeReplicationMessage(replicationMessage(rng, corpus))))
  }
}

function replicationMessage(rng: Rng, corpus: YjsCorpus): ReplicationMessage {
  const maybeMutated = (bytes: Uint8Array) => (rng.chance(0.5) ? bytes : mutate(rng, bytes))
  const update = () => maybeMutated(corpus.update())
  const session = rng.pick([0, 1, rng.int(2 ** 32)])
  const docs = () => Array.from({ length: rng.int(4) }, () => storedDocName(rng))
  switch (rng.int(7)) {
    case 0:
      return { type: 'updates', updates: docs().map((name) => ({ name, update: update() })) }
    case 1:
      return { type: 'range', session, payload: maybeMutated(encodeReconcileMessage(wireRanges(rng))) }
    case 2:
      return { type: 'doc-request', session, docs: docs().map((name) => ({ name, stateVector: corpus.stateVector() })) }
    case 3:
      return {
        type: 'doc-reply',
        session,
        docs: docs().map((name) =>
          rng.chance(0.6)
            ? { name, holding: 'present' as const, update: update(), stateVector: corpus.stateVector() }
            : { name, holding: rng.pick(['absent', 'deleted'] as const) },
        ),
      }
    case 4:
      return { type: 'doc-fill', session, docs: docs().map((name) => ({ name, update: update() })) }
    case 5:
      return { type: 'busy', session }
    default:
      return { type: 'awareness', name: storedDocName(rng), update: maybeMutated(corpus.awarenessUpdate()) }
  }
}

/** Ranges that cover every name, as a reconciliation message must, with fingerprints, skips and a listed document. */
function wireRanges(rng: Rng): WireRange[] {
  const listed = storedDocName(rng)
  const bounds = [...new Set(Array.from({ length: rng.int(3) }, () => storedDocName(rng)).filter((name) => name !== ''))].sort()
  const uppers: (string | null)[] = [...bounds, null]
  let lower = ''
  return uppers.map((upper) => {
    const holdsListed = lower <= listed && (upper === null || listed < upper)
    const range: WireRange = rng.chance(0.4)
      ? { mode: 'fingerprint', upper, fingerprint: randomFixed(rng, 8), count: rng.int(10) }
      : rng.chance(0.5)
        ? { mode: 'skip', upper }
        : { mode: 'list', upper, items: holdsListed ? [{ name: listed, digest: randomFixed(rng, 16) }] : [] }
    if (upper !== null) lower = upper
    return range
  })
}

function randomFixed(rng: Rng, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => rng.int(256))
}
