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
  'snapshot',
  'timeout-now',
])

export function encodeRaftMessage(message: Message): Uint8Array {
  return packr.pack(message)
}

/**
 * Decodes a Raft message from an authenticated peer. The envelope is checked so that garbage is refused
 * with an error instead of reaching the core; the body is trusted as far as the cluster secret goes.
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
  return message as Message
}
