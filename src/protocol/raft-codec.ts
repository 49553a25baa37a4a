import { Packr } from 'msgpackr'
import type { Message } from '../raft/types.js'

const packr = new Packr({ useRecords: false, moreTypes: false })

const messageTypes = new Set<Message['type']>([
  'pre-vote',
  'pre-vote-resp',
  'vote',
  'vote-resp',
  'append',
  'append-resp',
  'heartbeat',
  'heartbeat-resp',
  'snapshot-chunk',
  'snapshot-ack',
  'timeout-now',
])

export function encodeRaftMessage(message: Message): Uint8Array {
  return packr.pack(message)
}

/**
 * Decodes a Raft message from an authenticated peer. The envelope is checked so that garbage is refused
 * with an error instead of reaching the core; the body is trusted as far as the cluster secret goes, except
 * for a snapshot chunk's offsets and bytes, which the follower's assembly relies on.
 */
export function decodeRaftMessage(bytes: Uint8Array): Message {
  const message = packr.unpack(bytes) as Partial<Message> | null
  if (
    message === null ||
    typeof message !== 'object' ||
    !messageTypes.has(message.type as Message['type']) ||
    typeof message.from !== 'string' ||
    typeof message.to !== 'string' ||
    !Number.isSafeInteger(message.term)
  ) {
    throw new Error('not a Raft message')
  }
  if (message.type === 'snapshot-chunk' && !isChunk(message)) throw new Error('not a snapshot chunk')
  if (message.type === 'snapshot-ack' && !isAck(message)) throw new Error('not a snapshot acknowledgement')
  return message as Message
}

function isChunk(m: Partial<Extract<Message, { type: 'snapshot-chunk' }>>): boolean {
  const s = m.snapshot
  return (
    typeof s === 'object' &&
    s !== null &&
    isCount(s.index) &&
    isCount(s.term) &&
    typeof s.config === 'object' &&
    s.config !== null &&
    isIdList(s.config.voters) &&
    isIdList(s.config.replicas) &&
    isCount(m.totalBytes) &&
    isCount(m.offset) &&
    m.data instanceof Uint8Array
  )
}

function isAck(m: Partial<Extract<Message, { type: 'snapshot-ack' }>>): boolean {
  return isCount(m.index) && isCount(m.offset) && typeof m.reject === 'boolean'
}

function isCount(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0
}

function isIdList(ids: unknown): boolean {
  return Array.isArray(ids) && ids.every((id) => typeof id === 'string')
}
