import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { decodeWhole } from './decode-whole.js'

/**
 * Channels multiplexed over one peer link, by wire number. A number is part of the wire format: never
 * reuse or renumber one.
 */
export const PeerChannel = {
  raft: 0,
  replication: 1,
  membership: 2,
  webhooks: 3,
  history: 4,
} as const

export type PeerChannelName = keyof typeof PeerChannel

/**
 * Handshake message types; the handshake is challenge → hello → welcome (see peer/handshake.ts). A hello or
 * welcome that carries a node-key proof has a type of its own, so that nodes of an earlier version, which
 * send neither, still read and send the plain ones.
 */
export const HandshakeMessageType = {
  challenge: 0,
  hello: 1,
  welcome: 2,
  signedHello: 3,
  signedWelcome: 4,
} as const

/** Length of every handshake nonce and HMAC-SHA256 proof. */
export const nonceBytes = 32
export const proofBytes = 32
/** Length of an Ed25519 public key and signature. */
export const nodeKeyBytes = 32
export const nodeSignatureBytes = 64
/** Longest node id, in UTF-8 bytes. */
export const maxPeerIdBytes = 256

/** A sender's proof that it holds the private half of `publicKey`: its signature over the transcript. */
export interface KeyProof {
  publicKey: Uint8Array
  signature: Uint8Array
}

export type HandshakeMessage =
  /** Acceptor → dialer: the nonce the dialer must prove the secret over. */
  | { type: 'challenge'; nonce: Uint8Array }
  /** Dialer → acceptor: who it is, whom it meant to reach, its own nonce, and its proof. */
  | { type: 'hello'; dialerId: string; acceptorId: string; nonce: Uint8Array; proof: Uint8Array; keyProof?: KeyProof }
  /** Acceptor → dialer: the acceptor's proof over the dialer's nonce. */
  | { type: 'welcome'; proof: Uint8Array; keyProof?: KeyProof }

/** One message on an authenticated link. */
export interface ChannelFrame {
  channel: number
  payload: Uint8Array
}

const utf8Encoder = new TextEncoder()
// Strict, so that two different byte strings never decode to the same id.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export class MalformedPeerFrameError extends Error {
  override name = 'MalformedPeerFrameError'
}

export function encodeHandshakeMessage(message: HandshakeMessage): Uint8Array {
  const encoder = encoding.createEncoder()
  const signed = message.type !== 'challenge' && message.keyProof !== undefined
  const type = signed ? (message.type === 'hello' ? 'signedHello' : 'signedWelcome') : message.type
  encoding.writeVarUint(encoder, HandshakeMessageType[type])
  switch (message.type) {
    case 'challenge':
      encoding.writeVarUint8Array(encoder, message.nonce)
      break
    case 'hello':
      encoding.writeVarUint8Array(encoder, utf8Encoder.encode(message.dialerId))
      encoding.writeVarUint8Array(encoder, utf8Encoder.encode(message.acceptorId))
      encoding.writeVarUint8Array(encoder, message.nonce)
      encoding.writeVarUint8Array(encoder, message.proof)
      break
    case 'welcome':
      encoding.writeVarUint8Array(encoder, message.proof)
      break
  }
  if (signed) {
    const { publicKey, signature } = message.keyProof!
    encoding.writeVarUint8Array(encoder, publicKey)
    encoding.writeVarUint8Array(encoder, signature)
  }
  return encoding.toUint8Array(encoder)
}

/** Throws MalformedPeerFrameError for an unknown type, a wrong field length, truncation or trailing bytes. */
export function decodeHandshakeMessage(frame: Uint8Array): HandshakeMessage {
  return decodeWhole(frame, (decoder) => {
    const messageType = decoding.readVarUint(decoder)
    switch (messageType) {
      case HandshakeMessageType.challenge:
        return { type: 'challenge', nonce: readFixedBytes(decoder, nonceBytes, 'nonce') }
      case HandshakeMessageType.hello:
      case HandshakeMessageType.signedHello: {
        const hello: HandshakeMessage = {
          type: 'hello',
          dialerId: readPeerId(decoder, 'dialer id'),
          acceptorId: readPeerId(decoder, 'acceptor id'),
          nonce: readFixedBytes(decoder, nonceBytes, 'nonce'),
          proof: readFixedBytes(decoder, proofBytes, 'proof'),
        }
        if (messageType === HandshakeMessageType.signedHello) hello.keyProof = readKeyProof(decoder)
        return hello
      }
      case HandshakeMessageType.welcome:
      case HandshakeMessageType.signedWelcome: {
        const welcome: HandshakeMessage = { type: 'welcome', proof: readFixedBytes(decoder, proofBytes, 'proof') }
        if (messageType === HandshakeMessageType.signedWelcome) welcome.keyProof = readKeyProof(decoder)
        return welcome
      }
      default:
        throw new MalformedPeerFrameError(`unknown handshake message type ${messageType}`)
    }
  }, MalformedPeerFrameError, 'peer frame')
}

export function encodeChannelFrame(channel: number, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, channel)
  encoding.writeVarUint8Array(encoder, payload)
  return encoding.toUint8Array(encoder)
}

/**
 * Throws MalformedPeerFrameError for truncation or trailing bytes. Any channel number decodes: whether this
 * node serves that channel is the link's business, not the codec's.
 */
export function decodeChannelFrame(frame: Uint8Array): ChannelFrame {
  const read = (decoder: decoding.Decoder) => ({
    channel: decoding.readVarUint(decoder),
    payload: decoding.readVarUint8Array(decoder),
  })
  return decodeWhole(frame, read, MalformedPeerFrameError, 'peer frame')
}

function readFixedBytes(decoder: decoding.Decoder, length: number, what: string): Uint8Array {
  const bytes = decoding.readVarUint8Array(decoder)
  if (bytes.byteLength !== length) {
    throw new MalformedPeerFrameError(`${what} is ${bytes.byteLength} bytes; expected ${length}`)
  }
  return bytes
}

function readKeyProof(decoder: decoding.Decoder): KeyProof {
  return {
    publicKey: readFixedBytes(decoder, nodeKeyBytes, 'node key'),
    signature: readFixedBytes(decoder, nodeSignatureBytes, 'node key signature'),
  }
}

function readPeerId(decoder: decoding.Decoder, what: string): string {
  const bytes = decoding.readVarUint8Array(decoder)
  if (bytes.byteLength === 0 || bytes.byteLength > maxPeerIdBytes) {
    throw new MalformedPeerFrameError(`${what} is ${bytes.byteLength} bytes; expected 1 to ${maxPeerIdBytes}`)
  }
  try {
    return utf8Decoder.decode(bytes)
  } catch {
    throw new MalformedPeerFrameError(`${what} is not valid UTF-8`)
  }
}
