import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { afterEach, describe, expect, test } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import { createChallenge } from '../../src/peer/handshake.js'
import { PeerNetwork, type ChannelHandler } from '../../src/peer/peer-network.js'
import type { PeerTuning } from '../../src/peer/peer-tuning.js'
import { isPeerRequestTarget, peerSocketUrl } from '../../src/peer/peer-path.js'
import { PeerChannel, encodeChannelFrame, encodeHandshakeMessage, proofBytes, type PeerChannelName } from '../../src/protocol/peer-frames.js'
import { TestKeyring } from '../helpers/node-keys.js'
import { rawPeer, terminateRawPeers, type Closed } from '../helpers/raw-peer.js'
import { silentLog } from '../helpers/store.js'
import { waitFor } from '../helpers/wait.js'

const clusterSecret = 'the cluster secret of the tests'
const keys = new TestKeyring()
const fastTuning: Partial<PeerTuning> = {
  redialMinMs: 20,
  redialMaxMs: 200,
  handshakeTimeoutMs: 2_000,
  keepaliveIntervalMs: 2_000,
  closeGraceMs: 200,
}

interface Received {
  from: string
  channel: PeerChannelName
  text: string
}

interface TestNode {
  id: string
  url: string
  network: PeerNetwork
  received: Received[]
  /** Peer sockets this node accepted and that are still open. */
  inboundSockets: Set<Duplex>
}

/** Where each test node listens, as the membership would say. */
let directory = new Map<string, string>()
const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  terminateRawPeers()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  directory = new Map()
})

async function startNode(
  id: string,
  options: {
    secret?: string
    tuning?: Partial<PeerTuning>
    urlOf?: (id: string) => string | undefined
    raftHandler?: ChannelHandler
  } = {},
): Promise<TestNode> {
  const urlOf = options.urlOf ?? ((peer: string) => directory.get(peer))
  const network = new PeerNetwork(
    { selfId: id, clusterSecret: options.secret ?? clusterSecret, identity: keys.identityOf(id), keyOf: keys.keyOf, urlOf },
    silentLog,
    { ...fastTuning, ...options.tuning },
  )
  const received: Received[] = []
  const record = (channel: PeerChannelName): ChannelHandler => (from, payload) =>
    received.push({ from, channel, text: Buffer.from(payload).toString() })
  network.on('raft', options.raftHandler ?? record('raft'))
  network.on('replication', record('replication'))
  const inboundSockets = new Set<Duplex>()
  const server: Server = createServer((_request, response) => response.writeHead(404).end())
  server.on('upgrade', (request, socket, head) => {
    if (!isPeerRequestTarget(request.url)) {
      socket.destroy()
      return
    }
    inboundSockets.add(socket)
    socket.once('close', () => inboundSockets.delete(socket))
    network.handleUpgrade(request, socket, head)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  directory.set(id, url)
  cleanups.push(async () => {
    await network.close()
    for (const socket of inboundSockets) socket.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { id, url, network, received, inboundSockets }
}

const text = (value: string) => Buffer.from(value)
const stateOf = (node: TestNode, peer: string) => node.network.linkStates()[peer]

async function waitConnected(nodes: TestNode[]): Promise<void> {
  await waitFor('every pair to be connected', () =>
    nodes.every((node) =>
      nodes.every((peer) => peer === node || stateOf(node, peer.id)?.state === 'connected'),
    ),
  )
}

/**
 * Waits until every pair has exactly one link, the one dialed by the smaller id: then each node has
 * accepted one socket from every node with a smaller id, and none from the others.
 */
async function waitOneLinkPerPair(nodes: TestNode[]): Promise<void> {
  await waitConnected(nodes)
  const acceptedFromSmallerIds = (node: TestNode) => nodes.filter((peer) => peer.id < node.id).length
  await waitFor('one link per pair', () =>
    nodes.every((node) => node.inboundSockets.size === acceptedFromSmallerIds(node)),
  )
}

/** Sends `node → peer` on a channel and waits until it arrives. */
async function expectDelivery(node: TestNode, peer: TestNode, channel: PeerChannelName = 'raft'): Promise<void> {
  const message = `${node.id}→${peer.id} ${randomBytes(4).toString('hex')}`
  await waitFor(`${message} to be sent`, () => node.network.send(peer.id, channel, text(message)))
  await waitFor(`${message} to arrive`, () =>
    peer.received.some((r) => r.from === node.id && r.channel === channel && r.text === message),
  )
}


describe('peer links carry channels between members', () => {
  test('three nodes exchange messages on two channels in both directions', async () => {
    const nodes = await Promise.all(['a', 'b', 'c'].map((id) => startNode(id)))
    for (const node of nodes) node.network.setPeers(['a', 'b', 'c'])
    await waitOneLinkPerPair(nodes)

    for (const node of nodes) {
      for (const peer of nodes) {
        if (peer === node) continue
        for (const channel of ['raft', 'replication'] as const) {
          expect(node.network.send(peer.id, channel, text(`${node.id}→${peer.id} on ${channel}`))).toBe(true)
        }
      }
    }
    for (const node of nodes) {
      await waitFor(`${node.id} to receive four messages`, () => node.received.length === 4)
      const expected = nodes
        .filter((peer) => peer !== node)
        .flatMap((peer) =>
          (['raft', 'replication'] as const).map((channel) => ({
            from: peer.id,
            channel,
            text: `${peer.id}→${node.id} on ${channel}`,
          })),
        )
      expect(node.received).toEqual(expect.arrayContaining(expected))
    }
    const ab = stateOf(nodes[0]!, 'b')!
    expect(ab.sentBytes).toBe(text('a→b on raft').byteLength + text('a→b on replication').byteLength)
    expect(ab.receivedBytes).toBe(ab.sentBytes)
  })

  test('a message for a peer without a link is dropped and counted', async () => {
    const a = await startNode('a')
    a.network.setPeers(['a', 'b'])
    expect(a.network.send('b', 'raft', text('nobody there'))).toBe(false)
    expect(a.network.send('z', 'raft', text('not a peer'))).toBe(false)
    expect(stateOf(a, 'b')).toMatchObject({ droppedMessages: 1, sentBytes: 0 })
    expect(a.network.linkStates()).not.toHaveProperty('z')
  })

  test('nodes that dial each other at once keep one link per pair: the one dialed by the smaller id', async () => {
    const nodes = await Promise.all(['a', 'b', 'c'].map((id) => startNode(id)))
    for (let round = 0; round < 3; round++) {
      for (const node of nodes) node.network.setPeers(['a', 'b', 'c'])
      await waitOneLinkPerPair(nodes)
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(nodes.map((node) => node.inboundSockets.size)).toEqual([0, 1, 2])
      await expectDelivery(nodes[2]!, nodes[0]!)
      await expectDelivery(nodes[0]!, nodes[2]!)

      for (const node of nodes) node.network.setPeers([])
      await waitFor('every link to close', () => nodes.every((node) => node.inboundSockets.size === 0))
    }
  })

  test('while duplicate links are retired, every message that send() accepted arrives', async () => {
    const nodes = await Promise.all(['a', 'b', 'c'].map((id) => startNode(id)))
    const accepted: Received[] = []
    const sendEverywhere = (sequence: number) => {
      for (const node of nodes) {
        for (const peer of nodes) {
          const message = `${node.id}→${peer.id} #${sequence}`
          if (peer !== node && node.network.send(peer.id, 'raft', text(message))) {
            accepted.push({ from: node.id, channel: 'raft', text: message })
          }
        }
      }
    }
    let sequence = 0
    const sender = setInterval(() => sendEverywhere(sequence++), 1)
    cleanups.push(() => clearInterval(sender))
    for (const node of nodes) node.network.setPeers(['a', 'b', 'c'])
    await waitOneLinkPerPair(nodes)
    clearInterval(sender)

    const allReceived = () => nodes.flatMap((node) => node.received)
    await waitFor('every accepted message to arrive', () => allReceived().length >= accepted.length)
    expect(allReceived()).toEqual(expect.arrayContaining(accepted))
    expect(allReceived()).toHaveLength(accepted.length)
  })
})

describe('only members that hold the cluster secret get a link', () => {
  test('a node with a wrong secret is refused both ways, and the correct nodes keep working', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')])
    const x = await startNode('x', { secret: 'a guessed secret' })
    for (const node of [a, b, x]) node.network.setPeers(['a', 'b', 'x'])
    await waitConnected([a, b])

    await waitFor('x to be refused by a and b', () =>
      ['a', 'b'].every((peer) => stateOf(x, peer)?.lastDialError === '4401 authentication failed'),
    )
    await waitFor('a to be refused by x', () => stateOf(a, 'x')?.lastDialError === '4401 authentication failed')
    expect(stateOf(a, 'x')?.state).not.toBe('connected')
    expect(stateOf(x, 'a')?.state).not.toBe('connected')
    await expectDelivery(a, b, 'replication')
    await expectDelivery(b, a, 'raft')
  })

  test('a dialer without the secret is refused the same way whichever id it claims', async () => {
    const a = await startNode('a')
    a.network.setPeers(['a', 'b'])
    const asMember = rawPeer(a.url, { dialerId: 'b', acceptorId: 'a' }, 'wrong')
    const asStranger = rawPeer(a.url, { dialerId: 'stranger', acceptorId: 'a' }, 'wrong')
    const misdirected = rawPeer(a.url, { dialerId: 'b', acceptorId: 'c' }, 'wrong')
    const refusal = { code: 4401, reason: 'authentication failed' }
    expect(await asMember.closed).toEqual(refusal)
    expect(await asStranger.closed).toEqual(refusal)
    expect(await misdirected.closed).toEqual(refusal)
  })

  test('a node that is not a member is refused', async () => {
    const a = await startNode('a')
    const m = await startNode('m')
    a.network.setPeers(['a', 'b'])
    m.network.setPeers(['a', 'm'])
    await waitFor('m to be refused', () => stateOf(m, 'a')?.lastDialError === '4403 m is not a member here')
    expect(stateOf(m, 'a')?.state).not.toBe('connected')
    expect(a.network.linkStates()).not.toHaveProperty('m')
  })

  test('a dialer refuses an acceptor that cannot prove the secret', async () => {
    const impostor = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    cleanups.push(() => new Promise<void>((resolve) => impostor.close(() => resolve())))
    await new Promise((resolve) => impostor.once('listening', resolve))
    const closedByDialer = new Promise<Closed>((resolve) =>
      impostor.on('connection', (ws) => {
        ws.send(encodeHandshakeMessage(createChallenge()))
        ws.once('message', () => ws.send(encodeHandshakeMessage({ type: 'welcome', proof: randomBytes(proofBytes) })))
        ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
      }),
    )
    const impostorUrl = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`
    const a = await startNode('a', { urlOf: () => impostorUrl })
    a.network.setPeers(['a', 'b'])

    expect(await closedByDialer).toEqual({ code: 4401, reason: 'acceptor failed to prove the cluster secret for b' })
    expect(stateOf(a, 'b')?.state).not.toBe('connected')
    expect(a.network.send('b', 'raft', text('never to the impostor'))).toBe(false)
  })

  test('a dial that reaches another node than the one meant is refused as misdirected', async () => {
    const c = await startNode('c')
    // As a wrong `--peer-route b=<c's URL>` would do.
    const a = await startNode('a', { urlOf: (peer) => (peer === 'b' ? c.url : directory.get(peer)) })
    a.network.setPeers(['a', 'b', 'c'])
    c.network.setPeers(['a', 'b', 'c'])
    await waitFor('a to be told it reached c', () =>
      stateOf(a, 'b')?.lastDialError === '4421 misdirected: this is node c, not b',
    )
    await waitConnected([a, c])
  })
})

describe('links fail, recover and leave', () => {
  test('a killed link reconnects and delivers again', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')])
    a.network.setPeers(['a', 'b'])
    b.network.setPeers(['a', 'b'])
    await waitOneLinkPerPair([a, b])
    const established = (node: TestNode, peer: TestNode) => stateOf(node, peer.id)!.linksEstablished
    const before = [established(a, b), established(b, a)]

    for (const socket of b.inboundSockets) socket.destroy()
    await waitFor('both ends to establish a new link', () =>
      established(a, b) > before[0]! && established(b, a) > before[1]!,
    )
    await waitConnected([a, b])
    await expectDelivery(a, b)
    await expectDelivery(b, a, 'replication')
  })

  test('a peer that stops answering is dropped by keepalive', async () => {
    const a = await startNode('a', { tuning: { keepaliveIntervalMs: 100 } })
    a.network.setPeers(['a', 'e'])
    const e = rawPeer(a.url, { dialerId: 'e', acceptorId: 'a' }, clusterSecret)
    expect(await e.authenticated).toBe(true)
    await waitFor('a to adopt the link', () => stateOf(a, 'e')?.state === 'connected')
    e.ws.pause()
    await waitFor('a to drop the silent link', () => stateOf(a, 'e')?.state !== 'connected')
    expect(stateOf(a, 'e')?.lastCloseReason).toBe('1006 no answer to a ping within 100 ms')
  })

  test('removing a peer from the peer set closes its link', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')])
    a.network.setPeers(['a', 'b'])
    b.network.setPeers(['a', 'b'])
    await waitOneLinkPerPair([a, b])

    a.network.setPeers(['a'])
    expect(a.network.linkStates()).toEqual({})
    expect(a.network.send('b', 'raft', text('gone'))).toBe(false)
    await waitFor('b to see the link close', () => stateOf(b, 'a')?.state !== 'connected')
    expect(stateOf(b, 'a')?.lastCloseReason).toBe('1000 no longer a peer')
    await waitFor('b to be refused on redial', () => stateOf(b, 'a')?.lastDialError === '4403 b is not a member here')
  })
})

describe('bad input from a peer closes only that link, with a reason', () => {
  test('a malformed frame from an authenticated peer closes its link; the node keeps serving others', async () => {
    const [a, b] = await Promise.all([startNode('a'), startNode('b')])
    a.network.setPeers(['a', 'b', 'e'])
    b.network.setPeers(['a', 'b'])
    const e = rawPeer(a.url, { dialerId: 'e', acceptorId: 'a' }, clusterSecret)
    expect(await e.authenticated).toBe(true)

    e.ws.send(Uint8Array.of(PeerChannel.raft, 0x80))
    expect(await e.closed).toEqual({ code: 4400, reason: 'malformed peer frame: Unexpected end of array' })
    expect(stateOf(a, 'e')?.lastCloseReason).toBe('4400 malformed peer frame: Unexpected end of array')
    await waitConnected([a, b])
    await expectDelivery(a, b)
    await expectDelivery(b, a)
  })

  test('a message its channel cannot use closes the link', async () => {
    const a = await startNode('a', {
      raftHandler: () => {
        throw new Error('not a Raft message')
      },
    })
    a.network.setPeers(['a', 'e'])
    const e = rawPeer(a.url, { dialerId: 'e', acceptorId: 'a' }, clusterSecret)
    expect(await e.authenticated).toBe(true)
    e.ws.send(encodeChannelFrame(PeerChannel.raft, text('garbage')))
    expect(await e.closed).toEqual({ code: 4400, reason: 'bad raft message: not a Raft message' })
  })

  test('anything but the expected handshake message closes the connection before authentication', async () => {
    const a = await startNode('a')
    a.network.setPeers(['a', 'e'])
    const sendOnOpen = async (frame: Uint8Array): Promise<Closed> => {
      const ws = new WebSocket(peerSocketUrl(a.url))
      // Terminating a socket whose upgrade was refused reports an error; it is expected here.
      ws.on('error', () => {})
      cleanups.push(() => ws.terminate())
      ws.on('open', () => ws.send(frame))
      return new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    }
    expect((await sendOnOpen(encodeChannelFrame(PeerChannel.raft, text('too early')))).code).toBe(4400)
    expect(await sendOnOpen(encodeHandshakeMessage(createChallenge()))).toEqual({
      code: 4400,
      reason: 'unexpected challenge message in handshake phase awaiting-hello',
    })
    expect(stateOf(a, 'e')?.state).not.toBe('connected')
  })

  test('a handshake that does not finish in time is closed', async () => {
    const a = await startNode('a', { tuning: { handshakeTimeoutMs: 200 } })
    const silent = new WebSocket(peerSocketUrl(a.url))
    cleanups.push(() => silent.terminate())
    const closed = await new Promise<Closed>((resolve) =>
      silent.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    )
    expect(closed).toEqual({ code: 4408, reason: 'handshake did not finish within 200 ms' })
  })
})

describe('memory stays bounded when a peer does not read', () => {
  test('connections past the bound on pending handshakes are refused before the upgrade', async () => {
    const a = await startNode('a', { tuning: { maxPendingHandshakes: 1 } })
    const connect = () => {
      const ws = new WebSocket(peerSocketUrl(a.url))
      // Terminating a socket whose upgrade was refused reports an error; it is expected here.
      ws.on('error', () => {})
      cleanups.push(() => ws.terminate())
      return new Promise<string>((resolve) => {
        ws.once('open', () => resolve('open'))
        ws.once('unexpected-response', (_request, response) => resolve(`refused ${response.statusCode}`))
      })
    }
    expect(await connect()).toBe('open')
    expect(await connect()).toBe('refused 503')
  })


  test('past the queue bound, sends are dropped and counted instead of buffered', async () => {
    const maxQueuedBytes = 256 * 1024
    const a = await startNode('a', { tuning: { maxQueuedBytes, keepaliveIntervalMs: 60_000 } })
    a.network.setPeers(['a', 'e'])
    const e = rawPeer(a.url, { dialerId: 'e', acceptorId: 'a' }, clusterSecret)
    expect(await e.authenticated).toBe(true)
    await waitFor('a to adopt the link', () => stateOf(a, 'e')?.state === 'connected')
    e.ws.pause()

    const payload = Buffer.alloc(64 * 1024)
    const accepted: number[] = []
    let refused = 0
    let peakQueuedBytes = 0
    for (let sequence = 0; sequence < 4_000 && refused < 50; sequence++) {
      payload.writeUInt32BE(sequence)
      if (a.network.send('e', 'replication', payload)) accepted.push(sequence)
      else refused++
      peakQueuedBytes = Math.max(peakQueuedBytes, stateOf(a, 'e')!.queuedBytes)
      if (sequence % 8 === 0) await new Promise((resolve) => setImmediate(resolve))
    }

    expect(refused).toBe(50)
    expect(stateOf(a, 'e')?.droppedMessages).toBe(refused)
    expect(peakQueuedBytes).toBeLessThanOrEqual(maxQueuedBytes)
    e.ws.resume()
    await waitFor('every accepted message to arrive', () => e.frames.length === accepted.length)
    expect(e.frames.map((frame) => Buffer.from(frame.payload).readUInt32BE())).toEqual(accepted)
    expect(stateOf(a, 'e')?.state).toBe('connected')
  })
})
