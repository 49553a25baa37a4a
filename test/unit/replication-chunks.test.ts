import fc from 'fast-check'
import pino from 'pino'
import { describe, expect, test, vi } from 'vitest'
import {
  MalformedReplicationMessageError,
  decodeReplicationMessage,
  encodeReplicationMessage,
  type ChunkMessage,
} from '../../src/protocol/replication-codec.js'
import {
  ChunkedTransport,
  defaultTransferTuning,
  dropLogIntervalMs,
  type TransferTuning,
} from '../../src/replication/chunked-transport.js'
import { ChunkReassembly, splitIntoChunks } from '../../src/replication/chunks.js'
import { silentLog } from '../helpers/store.js'

const limits = { maxTransferBytes: 1_000, maxReassemblyBytes: 1_500 }
const chunk = (transfer: number, index: number, totalBytes: number, length: number): ChunkMessage => ({
  type: 'chunk',
  transfer,
  index,
  totalBytes,
  bytes: new Uint8Array(length).fill(index + 1),
})

describe('chunk messages', () => {
  const chunkMessage = fc
    .record({ transfer: fc.nat(), index: fc.nat(), totalBytes: fc.integer({ min: 1, max: 2 ** 32 }) })
    .chain(({ transfer, index, totalBytes }) =>
      fc
        .uint8Array({ minLength: 1, maxLength: Math.min(totalBytes, 300) })
        .map((bytes): ChunkMessage => ({ type: 'chunk', transfer, index, totalBytes, bytes })),
    )

  test('every chunk decodes to what was encoded; truncated or extended, it is refused with the codec error', () => {
    fc.assert(
      fc.property(chunkMessage, fc.uint8Array({ minLength: 1, maxLength: 4 }), (message, extra) => {
        const encoded = encodeReplicationMessage(message)
        expect(decodeReplicationMessage(encoded)).toEqual(message)
        expect(() => decodeReplicationMessage(encoded.subarray(0, encoded.byteLength - 1))).toThrow(MalformedReplicationMessageError)
        expect(() => decodeReplicationMessage(Uint8Array.of(...encoded, ...extra))).toThrow(MalformedReplicationMessageError)
      }),
    )
  })

  test('an empty chunk, or one longer than its whole message, does not decode', () => {
    expect(() => decodeReplicationMessage(encodeReplicationMessage(chunk(1, 0, 10, 0)))).toThrow(/empty chunk/)
    expect(() => decodeReplicationMessage(encodeReplicationMessage(chunk(1, 0, 10, 11)))).toThrow(/chunk of 11 bytes in a message of 10 bytes/)
  })
})

describe('ChunkReassembly', () => {
  test('the chunks of any message, in order, give back that message at the last chunk and nothing before', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 1_000 }), fc.integer({ min: 1, max: 400 }), (payload, chunkBytes) => {
        const reassembly = new ChunkReassembly(limits)
        const chunks = splitIntoChunks(payload, 7, chunkBytes)
        expect(chunks.every((c) => c.bytes.byteLength <= chunkBytes)).toBe(true)
        const outcomes = chunks.map((c) => reassembly.receive('p', decodeReplicationMessage(encodeReplicationMessage(c)) as ChunkMessage, 0))
        expect(outcomes.slice(0, -1).every((o) => o.kind === 'partial')).toBe(true)
        expect(outcomes.at(-1)).toEqual({ kind: 'complete', payload })
        expect(reassembly.bytesInReassembly).toBe(0)
      }),
    )
  })

  test('whatever chunks peers send, memory stays within the limits, a whole message has its declared length, and nothing else throws', () => {
    const anyChunk = fc.record({
      peer: fc.constantFrom('p', 'q', 'r'),
      transfer: fc.integer({ min: 0, max: 3 }),
      index: fc.integer({ min: 0, max: 4 }),
      totalBytes: fc.integer({ min: 1, max: 1_200 }),
      length: fc.integer({ min: 1, max: 600 }),
    })
    fc.assert(
      fc.property(fc.array(anyChunk, { maxLength: 60 }), (sent) => {
        const reassembly = new ChunkReassembly(limits)
        for (const { peer, transfer, index, totalBytes, length } of sent) {
          const outcome = reassembly.receive(peer, chunk(transfer, index, totalBytes, Math.min(length, totalBytes)), 0)
          if (outcome.kind === 'complete') expect(outcome.payload.byteLength).toBe(totalBytes)
          expect(reassembly.bytesInReassembly).toBeLessThanOrEqual(limits.maxReassemblyBytes)
        }
        for (const peer of ['p', 'q', 'r']) reassembly.abandon(peer)
        expect(reassembly.bytesInReassembly).toBe(0)
      }),
    )
  })

  test('transfers of different peers reassemble side by side', () => {
    const reassembly = new ChunkReassembly(limits)
    expect(reassembly.receive('p', chunk(1, 0, 6, 3), 0).kind).toBe('partial')
    expect(reassembly.receive('q', chunk(1, 0, 4, 2), 0).kind).toBe('partial')
    expect(reassembly.bytesInReassembly).toBe(10)
    expect(reassembly.receive('q', chunk(1, 1, 4, 2), 0)).toEqual({ kind: 'complete', payload: Uint8Array.of(1, 1, 2, 2) })
    expect(reassembly.receive('p', chunk(1, 1, 6, 3), 0)).toEqual({ kind: 'complete', payload: Uint8Array.of(1, 1, 1, 2, 2, 2) })
  })

  test('a chunk out of order drops its transfer, says so once, and the rest of that transfer is ignored', () => {
    const reassembly = new ChunkReassembly(limits)
    reassembly.receive('p', chunk(1, 0, 9, 3), 0)
    expect(reassembly.receive('p', chunk(1, 2, 9, 3), 0)).toEqual({ kind: 'dropped', transfer: 1, reason: 'chunk 2 came where chunk 1 was due' })
    expect(reassembly.bytesInReassembly).toBe(0)
    expect(reassembly.receive('p', chunk(1, 3, 9, 3), 0)).toEqual({ kind: 'partial' })
    // A transfer whose first chunk never came.
    expect(reassembly.receive('p', chunk(2, 1, 9, 3), 0)).toMatchObject({ kind: 'dropped', reason: 'an earlier chunk of it was lost' })
  })

  test('a late chunk of another transfer leaves the one in reassembly alone', () => {
    const reassembly = new ChunkReassembly(limits)
    reassembly.receive('p', chunk(2, 0, 4, 2), 0)
    expect(reassembly.receive('p', chunk(1, 3, 900, 300), 0)).toMatchObject({ kind: 'dropped', transfer: 1 })
    expect(reassembly.receive('p', chunk(2, 1, 4, 2), 0).kind).toBe('complete')
  })

  test("a peer's new transfer replaces its unfinished one, which lost its tail", () => {
    const reassembly = new ChunkReassembly(limits)
    reassembly.receive('p', chunk(1, 0, 900, 300), 0)
    expect(reassembly.receive('p', chunk(2, 0, 4, 2), 0).kind).toBe('partial')
    expect(reassembly.bytesInReassembly).toBe(4)
    expect(reassembly.receive('p', chunk(1, 1, 900, 300), 0).kind).toBe('dropped')
    expect(reassembly.receive('p', chunk(2, 1, 4, 2), 0).kind).toBe('complete')
  })

  test('a transfer over maxTransferBytes, or chunks running past their declared length, refuse the peer', () => {
    const reassembly = new ChunkReassembly(limits)
    expect(reassembly.receive('p', chunk(1, 0, 1_001, 1), 0)).toEqual({
      kind: 'refused',
      reason: 'a chunked message of 1001 bytes is over the limit of 1000 bytes',
    })
    reassembly.receive('p', chunk(2, 0, 5, 3), 0)
    expect(reassembly.receive('p', chunk(2, 1, 5, 3), 0)).toEqual({ kind: 'refused', reason: 'chunks of transfer 2 run past its 5 bytes' })
    expect(reassembly.bytesInReassembly).toBe(0)
  })

  test('past maxReassemblyBytes for all peers together, a new transfer is dropped without blaming its peer', () => {
    const reassembly = new ChunkReassembly(limits)
    reassembly.receive('p', chunk(1, 0, 1_000, 1), 0)
    expect(reassembly.receive('q', chunk(1, 0, 501, 1), 0)).toMatchObject({ kind: 'dropped', transfer: 1 })
    expect(reassembly.receive('q', chunk(2, 0, 500, 1), 0).kind).toBe('partial')
    expect(reassembly.bytesInReassembly).toBe(1_500)
  })

  test('sweep drops transfers without a chunk since the given time, and abandon a peer’s', () => {
    const reassembly = new ChunkReassembly(limits)
    reassembly.receive('p', chunk(1, 0, 10, 1), 100)
    reassembly.receive('q', chunk(1, 0, 10, 1), 100)
    reassembly.receive('q', chunk(1, 1, 10, 1), 200)
    expect(reassembly.sweep(150)).toEqual(['p'])
    expect(reassembly.bytesInReassembly).toBe(10)
    reassembly.abandon('q')
    expect(reassembly.bytesInReassembly).toBe(0)
  })
})

describe('ChunkedTransport', () => {
  const chunkBytes = 10
  const tuning: TransferTuning = {
    ...defaultTransferTuning,
    chunkBytes,
    maxTransferBytes: 100,
    maxOutboundBytesPerPeer: 100,
    maxOutboundBytes: 250,
  }

  /** A link whose send buffer stays full, so that whatever is queued in chunks stays queued. */
  const stalledLink = {
    send: () => true,
    connectedPeers: () => ['p', 'q', 'r', 's'],
    refuse: () => {},
    queuedBytes: () => chunkBytes,
  }

  function stalledTransport() {
    const warnings: Record<string, unknown>[] = []
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) })
    return { transport: new ChunkedTransport(stalledLink, tuning, log), warnings }
  }

  test('chunked messages to all peers together stay within maxOutboundBytes: one past it is dropped, with a warning', () => {
    const { transport, warnings } = stalledTransport()
    const message = new Uint8Array(100)
    try {
      expect(['p', 'q'].map((peer) => transport.send(peer, message))).toEqual([true, true])
      // Room for a smaller one, not for another of the largest size.
      expect(transport.send('r', new Uint8Array(50))).toBe(true)
      expect(warnings).toEqual([])
      expect(transport.send('s', message)).toBe(false)
      expect(warnings).toMatchObject([
        { level: 40, peer: 's', bytes: 100, queuedBytesInAll: 250, maxOutboundBytes: 250, msg: expect.stringContaining('anti-entropy') },
      ])
      // What goes unchunked takes none of it.
      expect(transport.send('s', new Uint8Array(chunkBytes))).toBe(true)
    } finally {
      transport.close()
    }
  })

  test("the budget frees as a peer's link goes down", () => {
    const { transport } = stalledTransport()
    const message = new Uint8Array(100)
    try {
      for (const peer of ['p', 'q']) transport.send(peer, message)
      expect(transport.send('r', message)).toBe(false)
      transport.linkDown('p')
      expect(transport.send('r', message)).toBe(true)
    } finally {
      transport.close()
    }
  })

  test('a peer whose every chunk is dropped gets one warning per interval, the next one counting those not logged', () => {
    vi.useFakeTimers()
    const { transport, warnings } = stalledTransport()
    // Never a first chunk: each one starts a drop of its own.
    const strayChunks = (from: number) => Array.from({ length: 50 }, (_, i) => chunk(from + i, 1, 30, 10))
    try {
      for (const c of strayChunks(0)) transport.receiveChunk('p', c)
      transport.receiveChunk('q', chunk(0, 1, 30, 10))
      expect(warnings).toMatchObject([{ peer: 'p', transfer: 0 }, { peer: 'q', transfer: 0 }])
      vi.advanceTimersByTime(dropLogIntervalMs)
      for (const c of strayChunks(50)) transport.receiveChunk('p', c)
      expect(warnings.slice(2)).toMatchObject([{ peer: 'p', transfer: 50, droppedSinceLastLine: 49 }])
    } finally {
      transport.close()
      vi.useRealTimers()
    }
  })

  test('limits that would drop every message of the largest size are refused', () => {
    expect(() => new ChunkedTransport(stalledLink, { ...tuning, maxOutboundBytesPerPeer: 99 }, silentLog)).toThrow(/maxTransferBytes/)
    expect(() => new ChunkedTransport(stalledLink, { ...tuning, maxOutboundBytes: 99 }, silentLog)).toThrow(/maxTransferBytes/)
  })
})
