import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import * as encoding from 'lib0/encoding'
import { maxPeerIdBytes, nonceBytes, type HandshakeMessage, type KeyProof } from '../protocol/peer-frames.js'
import { PeerCloseCode } from '../protocol/close-codes.js'
import { keyFingerprint, publicKeyRaw, publicKeyText, signAs, signedBy, type NodeIdentity } from './node-identity.js'

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
 *
 * Identity comes from each node's own key (see node-identity.ts): the hello and the welcome also carry the
 * sender's public key and its Ed25519 signature over the transcript and the sender's own proof, under a
 * role label of its own. The verifier compares the key with the one the metadata holds for the claimed id.
 * A node of an earlier version sends no key proof; it is let in only while its member entry holds no key
 * either (see keyProofOf). A dialer signs when the acceptor's upgrade answer says it reads signed hellos
 * (`identityHeader`) or the acceptor has a key on record, and otherwise not, so that it can still reach such
 * a node.
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
const keyProofLabel = {
  dialer: 'syncmesh-peer-v1 dialer node key',
  acceptor: 'syncmesh-peer-v1 acceptor node key',
} as const
const ticketLabel = 'syncmesh-peer-v1 ticket'

type Role = keyof typeof proofLabel

/** The upgrade answer header by which an acceptor says it reads signed hellos and signs its welcome. */
export const identityHeader = 'syncmesh-peer-identity'

/** The node key on record for a member; undefined for one whose entry holds none (it joined before node keys). */
export type KeyOf = (id: string) => string | undefined

function transcriptBytes(label: string, transcript: Transcript, ...more: Uint8Array[]): Uint8Array {
  // Length-prefixed fields, so that no two different transcripts hash the same bytes.
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, label)
  encoding.writeVarUint8Array(encoder, transcript.acceptorNonce)
  encoding.writeVarUint8Array(encoder, transcript.dialerNonce)
  encoding.writeVarString(encoder, transcript.dialerId)
  encoding.writeVarString(encoder, transcript.acceptorId)
  for (const field of more) encoding.writeVarUint8Array(encoder, field)
  return encoding.toUint8Array(encoder)
}

function proofOf(secret: Uint8Array, role: Role, transcript: Transcript): Uint8Array {
  return createHmac('sha256', secret).update(transcriptBytes(proofLabel[role], transcript)).digest()
}

/** What a sender signs: the transcript, its own secret proof (so the two proofs cannot be taken apart) and its key. */
const keyProofBytes = (role: Role, transcript: Transcript, proof: Uint8Array, publicKey: Uint8Array) =>
  transcriptBytes(keyProofLabel[role], transcript, proof, publicKey)

function signedProof(identity: NodeIdentity, role: Role, transcript: Transcript, proof: Uint8Array): KeyProof {
  const publicKey = publicKeyRaw(identity.publicKey)
  return { publicKey, signature: signAs(identity, keyProofBytes(role, transcript, proof, publicKey)) }
}

/**
 * The node key that the sender of a hello or welcome proved, or null where it proved none and none is on record
 * for the id it claims (a member from before node keys, admitted by the cluster secret alone, as it was then).
 * Refused: a bad signature, a key other than the one on record, or no proof where a key is on record.
 */
function keyProofOf(
  role: Role,
  transcript: Transcript,
  proof: Uint8Array,
  keyProof: KeyProof | undefined,
  onRecord: string | undefined,
): { ok: true; key: string | null } | Refusal {
  const id = role === 'dialer' ? transcript.dialerId : transcript.acceptorId
  const refuse = (reason: string): Refusal => ({ ok: false, code: PeerCloseCode.authenticationFailed, reason })
  if (keyProof === undefined) {
    if (onRecord === undefined) return { ok: true, key: null }
    return refuse(`${id} proved no node key; key ${keyFingerprint(onRecord)} is on record for it`)
  }
  const presented = publicKeyText(keyProof.publicKey)
  if (!signedBy(presented, keyProofBytes(role, transcript, proof, keyProof.publicKey), keyProof.signature)) {
    return refuse(`${id} failed to prove node key ${keyFingerprint(presented)}`)
  }
  if (onRecord !== undefined && presented !== onRecord) {
    return refuse(`${id} has node key ${keyFingerprint(presented)}, not ${keyFingerprint(onRecord)} on record`)
  }
  return { ok: true, key: presented }
}

const proofMatches = (actual: Uint8Array, expected: Uint8Array): boolean =>
  actual.byteLength === expected.byteLength && timingSafeEqual(actual, expected)

export function createChallenge(): Challenge {
  return { type: 'challenge', nonce: randomBytes(nonceBytes) }
}

/**
 * The dialer's answer to a challenge from the node it means to reach; signed with `identity` if given, which
 * is left out only for an acceptor of an earlier version.
 */
export function answerChallenge(options: {
  secret: Uint8Array
  dialerId: string
  acceptorId: string
  challenge: Challenge
  identity?: NodeIdentity
}): Hello {
  const transcript: Transcript = {
    acceptorNonce: options.challenge.nonce,
    dialerNonce: randomBytes(nonceBytes),
    dialerId: options.dialerId,
    acceptorId: options.acceptorId,
  }
  const proof = proofOf(options.secret, 'dialer', transcript)
  return {
    type: 'hello',
    dialerId: transcript.dialerId,
    acceptorId: transcript.acceptorId,
    nonce: transcript.dialerNonce,
    proof,
    ...(options.identity && { keyProof: signedProof(options.identity, 'dialer', transcript, proof) }),
  }
}

/**
 * The acceptor's check of a hello. The proof is checked first, so that a dialer without the secret learns
 * nothing — not which ids are members, nor this node's id: it is refused the same way whatever it claims.
 * The welcome is signed with `identity` when the hello was: a dialer that did not sign reads no signed welcome.
 */
export function checkHello(options: {
  secret: Uint8Array
  acceptorId: string
  identity: NodeIdentity
  challenge: Challenge
  hello: Hello
  isPeer(id: string): boolean
  keyOf: KeyOf
}): { ok: true; dialerId: string; dialerKey: string | null; welcome: Welcome } | Refusal {
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
  const dialerKey = keyProofOf('dialer', transcript, hello.proof, hello.keyProof, options.keyOf(hello.dialerId))
  if (!dialerKey.ok) return dialerKey
  const proof = proofOf(options.secret, 'acceptor', transcript)
  return {
    ok: true,
    dialerId: hello.dialerId,
    dialerKey: dialerKey.key,
    welcome: {
      type: 'welcome',
      proof,
      ...(hello.keyProof && { keyProof: signedProof(options.identity, 'acceptor', transcript, proof) }),
    },
  }
}

/**
 * The dialer's check that the node that answered holds the secret and is the one it meant to reach: the node
 * key on record for it, or, where none is, any it proves (returned) or none.
 */
export function checkWelcome(options: {
  secret: Uint8Array
  challenge: Challenge
  hello: Hello
  welcome: Welcome
  keyOf: KeyOf
}): { ok: true; acceptorKey: string | null } | Refusal {
  const { challenge, hello, welcome } = options
  const transcript: Transcript = {
    acceptorNonce: challenge.nonce,
    dialerNonce: hello.nonce,
    dialerId: hello.dialerId,
    acceptorId: hello.acceptorId,
  }
  if (!proofMatches(welcome.proof, proofOf(options.secret, 'acceptor', transcript))) {
    return {
      ok: false,
      code: PeerCloseCode.authenticationFailed,
      reason: `acceptor failed to prove the cluster secret for ${hello.acceptorId}`,
    }
  }
  const acceptorKey = keyProofOf('acceptor', transcript, welcome.proof, welcome.keyProof, options.keyOf(hello.acceptorId))
  return acceptorKey.ok ? { ok: true, acceptorKey: acceptorKey.key } : acceptorKey
}

/** The upgrade request header that carries a dialer's admission ticket. */
export const ticketHeader = 'syncmesh-peer-ticket'
/** How far a ticket's issue time may be from the acceptor's clock, either way. */
export const ticketLifetimeMs = 60_000

/**
 * A dialer's admission ticket, sent with its upgrade request: proof, before any challenge, that it holds the
 * cluster secret and means to reach `acceptorId`, so that the acceptor can tell a member's dial from an
 * anonymous socket before the upgrade (see InboundHandshakes). It authenticates nothing: the
 * challenge–response still follows. Seen on an unencrypted link, a ticket can be replayed to the same node
 * within ticketLifetimeMs; that takes the member's pending-handshake slot, nothing more. For a member whose
 * node key is on record, the ticket counts only with the dialer's signature of it (signTicket), so that another
 * holder of the secret cannot take that member's slot.
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

/** The upgrade request header with the dialer's node-key signature of its ticket; nodes of an earlier version ignore it. */
export const ticketSignatureHeader = 'syncmesh-peer-ticket-signature'
const ticketSignatureLabel = 'syncmesh-peer-v1 ticket signature'

export function signTicket(identity: NodeIdentity, ticket: string): string {
  return Buffer.from(signAs(identity, ticketSignatureBytes(ticket))).toString('base64url')
}

export function ticketSignedBy(publicKey: string, ticket: string, signature: string): boolean {
  return signedBy(publicKey, ticketSignatureBytes(ticket), Buffer.from(signature, 'base64url'))
}

function ticketSignatureBytes(ticket: string): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, ticketSignatureLabel)
  encoding.writeVarString(encoder, ticket)
  return encoding.toUint8Array(encoder)
}

function ticketMac(secret: Uint8Array, dialerId: string, acceptorId: string, issuedAtMs: number): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, ticketLabel)
  encoding.writeVarString(encoder, dialerId)
  encoding.writeVarString(encoder, acceptorId)
  encoding.writeVarString(encoder, String(issuedAtMs))
  return createHmac('sha256', secret).update(encoding.toUint8Array(encoder)).digest()
}
