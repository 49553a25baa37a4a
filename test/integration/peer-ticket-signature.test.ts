import { afterEach, expect, test } from 'vitest'
import { WebSocket } from 'ws'
import { createTicket, signTicket, ticketHeader, ticketSignatureHeader } from '../../src/peer/handshake.js'
import { generateNodeIdentity, type NodeIdentity } from '../../src/peer/node-identity.js'
import { PeerNetwork } from '../../src/peer/peer-network.js'
import { defaultPeerTuning } from '../../src/peer/peer-tuning.js'
import { peerSocketUrl } from '../../src/peer/peer-path.js'
import { TestKeyring } from '../helpers/node-keys.js'
import { servePeerNetwork } from '../helpers/raw-peer.js'
import { silentLog } from '../helpers/store.js'

const clusterSecret = 'the cluster secret of the tests'
const sockets = new Set<WebSocket>()
const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const ws of sockets) ws.terminate()
  sockets.clear()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A silent dial to the peer path with the given headers: 'open' once upgraded, or the status it was refused with. */
function dialSilently(url: string, headers: Record<string, string> = {}): Promise<'open' | number> {
  const ws = new WebSocket(peerSocketUrl(url), { perMessageDeflate: false, headers })
  sockets.add(ws)
  ws.on('error', () => {})
  return new Promise((resolve) => {
    ws.once('open', () => resolve('open'))
    ws.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode!)
      ws.terminate()
    })
  })
}

test("a ticket counts for a member whose key is on record only with that member's signature of it", async () => {
  const keys = new TestKeyring()
  const b = keys.identityOf('b')
  const network = new PeerNetwork({ selfId: 'a', clusterSecret, identity: keys.identityOf('a'), keyOf: keys.keyOf, urlOf: () => undefined }, silentLog)
  network.setPeers(['b', 'c'])
  const { url, close } = await servePeerNetwork(network)
  cleanups.push(close)

  // Every anonymous slot of this address taken: only the member pool is left.
  const held = await Promise.all(Array.from({ length: defaultPeerTuning.maxPendingHandshakesPerAddress }, () => dialSilently(url)))
  expect(held.every((outcome) => outcome === 'open')).toBe(true)
  expect(await dialSilently(url)).toBe(503)

  const ticketOf = (dialerId: string, signer?: NodeIdentity) => {
    const ticket = createTicket({ secret: Buffer.from(clusterSecret), dialerId, acceptorId: 'a', issuedAtMs: Date.now() })
    return { [ticketHeader]: ticket, ...(signer && { [ticketSignatureHeader]: signTicket(signer, ticket) }) }
  }
  expect(await dialSilently(url, ticketOf('b'))).toBe(503)
  expect(await dialSilently(url, ticketOf('b', generateNodeIdentity()))).toBe(503)
  expect(await dialSilently(url, ticketOf('b', b))).toBe('open')
  // c has no key on record (a member from before node keys): its ticket alone still counts, as it did.
  expect(await dialSilently(url, ticketOf('c'))).toBe('open')
})
