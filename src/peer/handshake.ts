import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import * as encoding from 'lib0/encoding'
import { maxPeerIdBytes, nonceBytes, type HandshakeMessage } from '../protocol/peer-frames.js'
import { PeerCloseCode } from '../protocol/close-codes.js'

/**
 * The steps of the mutual challenge–response over the cluster secret, as functions of their inputs; the
 * link runs them against its socket.
 *
 *   acceptor → dialer    challenge { acceptor nonce }
 *   dialer   → acceptor  hello     { dialer id, acceptor id, dialer nonce, proof of the dialer }
 *   acceptor → dialer    welcome   { proof of the acceptor }
 *
 * Before them, the dialer's upgrade request carries a ticket (see createTicket), which decides only where
 * its handshake may wait: among members' dials or among anonymous sockets.
 *
 * Both proofs are HMAC-SHA256 over the whole transcript (both nonces and both ids), each under its own
 * role label, so that neither proof can be replayed in the other direction or on another connection. A
 * shared secret proves membership of the cluster, not identity: any holder of it can claim any id.
 */

export type Challenge = Extract<HandshakeMessage, { type: 'challenge' }>
export type Hello = Extract<HandshakeMessage, { type: 'hello' }>
type Welcome = Extract<HandshakeMessage, { type: 'welcome' }>

export type Refusal = { ok: false; code: number; reason: string }

interface Transcript {
  acceptorNonce: Uint8Array
  dialerNonce: Uint8Array
  dialerId: string
  acceptorId: string
}

const proofLabel = {
  dialer: 'syncmesh-peer-v1 dialer',
  acceptor: 'syncmesh-peer-v1 acceptor',
} as const
const ticketLabel = 'syncmesh-peer-v1 ticket'

function proofOf(secret: Uint8Array, role: keyof typeof proofLabel, transcript: Transcript): Uint8Array {
  // Length-prefixed fields, so that no two different transcripts hash the same bytes.
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, proofLabel[role])
  encoding.writeVarUint8Array(encoder, transcript.acceptorNonce)
  encoding.writeVarUint8Array(encoder, transcript.dialerNonce)
  encoding.writeVarString(encoder, transcript.dialerId)
  encoding.writeVarString(encoder, transcript.acceptorId)
  return createHmac('sha256', secret).update(encoding.toUint8Array(encoder)).digest()
}

const proofMatches = (actual: Uint8Array, expected: Uint8Array): boolean =>
  actual.byteLength === expected.byteLength && timingSafeEqual(actual, expected)

export function createChallenge(): Challenge {
  return { type: 'challenge', nonce: randomBytes(nonceBytes) }
}

/** The dialer's answer to a challenge from the node it means to reach. */
export function answerChallenge(options: {
  secret: Uint8Array
  dialerId: string
  acceptorId: string
  challenge: Challenge
}): Hello {
  const transcript: Transcript = {
    acceptorNonce: options.challenge.nonce,
    dialerNonce: randomBytes(nonceBytes),
    dialerId: options.dialerId,
    acceptorId: options.acceptorId,
  }
  return {
    type: 'hello',
    dialerId: transcript.dialerId,
    acceptorId: transcript.acceptorId,
    nonce: transcript.dialerNonce,
    proof: proofOf(options.secret, 'dialer', transcript),
  }
}

/**
 * The acceptor's check of a hello. The proof is checked first, so that a dialer without the secret learns
 * nothing — not which ids are members, nor this node's id: it is refused the same way whatever it claims.
 */
export function checkHello(options: {
  secret: Uint8Array
  acceptorId: string
  challenge: Challenge
  hello: Hello
  isPeer(id: string): boolean
}): { ok: true; dialerId: string; welcome: Welcome } | Refusal {
  const { hello, acceptorId } = options
  const transcript: Transcript = {
    acceptorNonce: options.challenge.nonce,
    dialerNonce: hello.nonce,
    dialerId: hello.dialerId,
    acceptorId: hello.acceptorId,
  }
  if (!proofMatches(hello.proof, proofOf(options.secret, 'dialer', transcript))) {
    return { ok: false, code: PeerCloseCode.authenticationFailed, reason: 'authentication failed' }
  }
  if (hello.acceptorId !== acceptorId) {
    return {
      ok: false,
      code: PeerCloseCode.misdirected,
      reason: `misdirected: this is node ${acceptorId}, not ${hello.acceptorId}`,
    }
  }
  if (hello.dialerId === acceptorId) {
    return { ok: false, code: PeerCloseCode.duplicateId, reason: `dialer claims this node's own id ${acceptorId}` }
  }
  if (!options.isPeer(hello.dialerId)) {
    return { ok: false, code: PeerCloseCode.notAMember, reason: `${hello.dialerId} is not a member here` }
  }
  return {
    ok: true,
    dialerId: hello.dialerId,
    welcome: { type: 'welcome', proof: proofOf(options.secret, 'acceptor', transcript) },
  }
}

/** The dialer's check that the node that answered holds the secret and is the one it meant to reach. */
export function checkWelcome(options: {
  secret: Uint8Array
  challenge: Challenge
  hello: Hello
  welcome: Welcome
}): { ok: true } | Refusal {
  const { challenge, hello } = options
  const expected = proofOf(options.secret, 'acceptor', {
    acceptorNonce: challenge.nonce,
    dialerNonce: hello.nonce,
    dialerId: hello.dialerId,
    acceptorId: hello.acceptorId,
  })
  if (!proofMatches(options.welcome.proof, expected)) {
    return {
      ok: false,
      code: PeerCloseCode.authenticationFailed,
      reason: `acceptor failed to prove the cluster secret for ${hello.acceptorId}`,
    }
  }
  return { ok: true }
}

/** The upgrade request header that carries a dialer's admission ticket. */
export const ticketHeader = 'syncmesh-peer-ticket'
/** How far a ticket's issue time may be from the acceptor's clock, either way. */
export const ticketLifetimeMs = 60_000

/**
 * A dialer's admission ticket, sent with its upgrade request: proof, before any challenge, that it holds the
 * cluster secret and means to reach `acceptorId`, so that the acceptor can tell a member's dial from an
 * anonymous socket before the upgrade (see PeerNetwork.handleUpgrade). It authenticates nothing: the
 * challenge–response still follows. Seen on an unencrypted link, a ticket can be replayed to the same node
 * within ticketLifetimeMs; that takes the member's pending-handshake slot, nothing more.
 */
export function createTicket(options: { secret: Uint8Array; dialerId: string; acceptorId: string; issuedAtMs: number }): string {
  const { dialerId, issuedAtMs } = options
  const mac = ticketMac(options.secret, dialerId, options.acceptorId, issuedAtMs)
  return `${issuedAtMs}.${Buffer.from(dialerId, 'utf8').toString('base64url')}.${Buffer.from(mac).toString('base64url')}`
}

/** The dialer id a ticket proves, or null for anything but a current ticket made for this node. */
export function checkTicket(options: { secret: Uint8Array; acceptorId: string; ticket: string; nowMs: number }): string | null {
  const parts = options.ticket.split('.')
  if (parts.length !== 3 || !/^\d{1,15}$/.test(parts[0]!)) return null
  const issuedAtMs = Number(parts[0])
  if (Math.abs(options.nowMs - issuedAtMs) > ticketLifetimeMs) return null
  const dialerId = Buffer.from(parts[1]!, 'base64url').toString('utf8')
  if (dialerId.length === 0 || Buffer.byteLength(dialerId, 'utf8') > maxPeerIdBytes) return null
  const mac = Buffer.from(parts[2]!, 'base64url')
  return proofMatches(mac, ticketMac(options.secret, dialerId, options.acceptorId, issuedAtMs)) ? dialerId : null
}

function ticketMac(secret: Uint8Array, dialerId: string, acceptorId: string, issuedAtMs: number): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, ticketLabel)
  encoding.writeVarString(encoder, dialerId)
  encoding.writeVarString(encoder, acceptorId)
  encoding.writeVarString(encoder, String(issuedAtMs))
  return createHmac('sha256', secret).update(encoding.toUint8Array(encoder)).digest()
}
