import { rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import * as Y from 'yjs'
import { afterEach, describe, expect, test } from 'vitest'
import { loadOrCreateNodeKey } from '../../src/control/node-key.js'
import { encodeMetaState } from '../../src/meta/codec.js'
import { emptyMetaState } from '../../src/meta/state.js'
import { defaultNodeConfig, startNode, type NodeConfig, type SyncmeshNode } from '../../src/node.js'
import { generateNodeIdentity, keyFingerprint } from '../../src/peer/node-identity.js'
import { PeerNetwork } from '../../src/peer/peer-network.js'
import { NodeStorage } from '../../src/storage/lmdb-env.js'
import { rawPeer, terminateRawPeers } from '../helpers/raw-peer.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const common = { adminToken: 'identity-test-admin-token', clusterSecret: 'identity-test-cluster-secret', raftTickMs: 20 }
const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  terminateRawPeers()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  removeTempDirs()
})

type LogLine = Record<string, unknown> & { msg: string; level: number }

/** A logger whose lines, info and above, the test reads. */
function capturedLog(name: string): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const log = pino({ base: { node: name }, level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) })
  return { log, lines }
}

/** A node in this process, with its log lines and the public half of the key it made in its data directory. */
async function start(overrides: Partial<NodeConfig> & { id: string }) {
  const log = capturedLog(overrides.id)
  const dataDir = overrides.dataDir ?? tempDir()
  const node = await startNode({ ...defaultNodeConfig, ...common, port: 0, dataDir, ...overrides }, log.log)
  cleanups.push(() => node.close())
  return { node, dataDir, lines: log.lines, publicKey: loadOrCreateNodeKey(dataDir).identity.publicKey }
}

/** A PeerNetwork that holds the cluster secret, under a member's id, with a key of its own. */
function impostor(id: string, urlOf: (peer: string) => string | undefined, peers: string[]) {
  const { log, lines } = capturedLog(`impostor ${id}`)
  const identity = generateNodeIdentity()
  const network = new PeerNetwork({ selfId: id, clusterSecret: common.clusterSecret, identity, keyOf: () => undefined, urlOf }, log)
  network.setPeers(peers)
  cleanups.push(() => network.close())
  return { network, lines, identity }
}

/** Whether a line at warn or above says `msg`, with a reason that contains `reason`. */
const hasLine = (lines: LogLine[], msg: string, reason: string) =>
  lines.some((line) => line.level >= 40 && line.msg === msg && String(line['reason']).includes(reason))

async function writeDoc(node: SyncmeshNode, name: string, text: string): Promise<void> {
  const doc = new Y.Doc()
  doc.getText('body').insert(0, text)
  const res = await fetch(`${node.url}/v1/docs/${name}/update`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Y.encodeStateAsUpdate(doc),
  })
  expect(res.status).toBe(204)
}

describe('each node proves its own key, on top of the cluster secret', () => {
  test('a holder of the cluster secret that claims n2 without its key is refused on both sides, and the real n2 works on', async () => {
    const n1 = await start({ id: 'n1' })
    await waitFor('n1 to lead', () => n1.node.cluster().leader === 'n1')
    const n2 = await start({ id: 'n2', join: n1.node.url })
    await waitFor('n2 to hold the metadata', () => n2.node.cluster().members.length === 2)
    expect(n1.node.cluster().members).toEqual([
      { id: 'n1', url: n1.node.url, role: 'voter', publicKey: n1.publicKey },
      { id: 'n2', url: n2.node.url, role: 'replica', publicKey: n2.publicKey },
    ])

    const fake = impostor('n2', (peer) => (peer === 'n1' ? n1.node.url : undefined), ['n1'])
    const refusal = `n2 has node key ${keyFingerprint(fake.identity.publicKey)}, not ${keyFingerprint(n2.publicKey)} on record`
    await waitFor('n1 to log the refusal', () => hasLine(n1.lines, 'inbound peer connection refused or dropped in handshake', refusal))
    await waitFor('the impostor to log the refusal', () => hasLine(fake.lines, 'peer refused this node', `4401 ${refusal}`))
    expect(fake.network.linkStates()['n1']?.state).not.toBe('connected')
    // Nor does proving no key at all, as a node of an earlier version would, get it in.
    const unsigned = rawPeer(n1.node.url, { dialerId: 'n2', acceptorId: 'n1' }, common.clusterSecret)
    expect(await unsigned.closed).toEqual({ code: 4401, reason: `n2 proved no node key; key ${keyFingerprint(n2.publicKey)} is on record for it` })

    await writeDoc(n1.node, 'after-the-impostor', 'still replicated')
    await waitFor('the real n2 to receive the document', () => n2.node.docs.meta('after-the-impostor') !== undefined)
    expect(n1.node.cluster().members.find((m) => m.id === 'n2')?.publicKey).toBe(n2.publicKey)
  })

  test('a node that joins checks the members it links with against the keys in its join answer', async () => {
    const n1 = await start({ id: 'n1' })
    await waitFor('n1 to lead', () => n1.node.cluster().leader === 'n1')
    // Where n2 will dial n1, a holder of the cluster secret answers as n1.
    const fake = impostor('n1', () => undefined, ['n2'])
    const fakeServer = createServer((_request, response) => response.writeHead(404).end())
    fakeServer.on('upgrade', (request, socket, head) => fake.network.handleUpgrade(request, socket, head))
    await new Promise<void>((resolve) => fakeServer.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => fakeServer.close(() => resolve())))
    const fakeUrl = `http://127.0.0.1:${(fakeServer.address() as AddressInfo).port}`

    const n2 = await start({ id: 'n2', join: n1.node.url, peerRoutes: { n1: fakeUrl } })
    const refusal = `n1 has node key ${keyFingerprint(fake.identity.publicKey)}, not ${keyFingerprint(n1.publicKey)} on record`
    await waitFor('n2 to log the refusal', () => hasLine(n2.lines, 'this node refused the peer it dialed', `4401 ${refusal}`))
    await waitFor('the impostor to log the refusal', () => hasLine(fake.lines, 'peer link down', refusal))
    // The real n1 dials n2 itself, and n2 learns the metadata over that link.
    await waitFor('n2 to hold the metadata', () => n2.node.cluster().members.length === 2 && n2.node.cluster().leader === 'n1')
  })
})

describe('a node whose key changed', () => {
  test('started again on a fresh data directory under its old id, is refused the join and says why', async () => {
    const n1 = await start({ id: 'n1' })
    await waitFor('n1 to lead', () => n1.node.cluster().leader === 'n1')
    const first = await start({ id: 'n2', join: n1.node.url })
    await waitFor('n2 to be a member', () => n1.node.cluster().members.some((m) => m.id === 'n2' && m.publicKey === first.publicKey))
    await first.node.close()

    const again = await start({ id: 'n2', join: n1.node.url })
    expect(again.publicKey).not.toBe(first.publicKey)
    await waitFor('the join to be refused', () =>
      again.lines.some((line) => line.msg === 'join refused; retrying' && JSON.stringify(line['error']).includes('exists with another node key')),
    )
    expect(n1.node.cluster().members.find((m) => m.id === 'n2')?.publicKey).toBe(first.publicKey)
  })

  test('when its key file was replaced, logs at start that every peer will refuse it', async () => {
    const n1 = await start({ id: 'n1' })
    await waitFor('n1 to lead', () => n1.node.cluster().leader === 'n1')
    await n1.node.close()
    rmSync(join(n1.dataDir, 'node-key'))
    const restarted = await start({ id: 'n1', dataDir: n1.dataDir })
    expect(restarted.publicKey).not.toBe(n1.publicKey)
    expect(restarted.lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        key: keyFingerprint(restarted.publicKey),
        onRecord: keyFingerprint(n1.publicKey),
        msg: "this node's key (node-key in its data directory) is not the one the cluster holds for it: every peer will refuse it",
      }),
    )
  })
})

describe('members from before node keys', () => {
  /** A data directory as the previous version left it: a cluster of one whose member entry holds no key. */
  function legacyDataDir(id: string, url: string): string {
    const dir = tempDir()
    const storage = new NodeStorage({ path: dir })
    const state = emptyMetaState()
    state.members.set(id, { id, url, role: 'voter' })
    storage.raft.bootstrap({ index: 1, term: 1, config: { voters: [id], replicas: [] }, data: encodeMetaState(state) })
    cleanups.push(() => storage.close())
    return dir
  }

  async function freePort(): Promise<number> {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return port
  }

  test('get the key they prove recorded by the leader, and are held to it from then on', async () => {
    const [port1, port2] = [await freePort(), await freePort()]
    const dataDir = legacyDataDir('n1', `http://127.0.0.1:${port1}`)
    await cleanups.pop()!()
    const n1 = await start({ id: 'n1', port: port1, dataDir })
    await waitFor("n1's own key to be recorded", () => n1.node.cluster().members[0]?.publicKey === n1.publicKey)

    // An operator adds n2 by hand, as before node keys, and n2 then starts with --join.
    const add = await fetch(`${n1.node.url}/v1/cluster/members`, {
      method: 'POST',
      headers: { authorization: `Bearer ${common.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'n2', url: `http://127.0.0.1:${port2}` }),
    })
    expect(await add.json()).toEqual({ id: 'n2', url: `http://127.0.0.1:${port2}`, role: 'replica' })
    const n2 = await start({ id: 'n2', port: port2, join: n1.node.url })
    await waitFor("n2's key to be recorded", () => n1.node.cluster().members.find((m) => m.id === 'n2')?.publicKey === n2.publicKey)
    expect(n1.lines.some((line) => line.msg === 'recorded the node key of a member that had none' && line['member'] === 'n2')).toBe(true)

    const unsigned = rawPeer(n1.node.url, { dialerId: 'n2', acceptorId: 'n1' }, common.clusterSecret)
    expect(await unsigned.closed).toMatchObject({ code: 4401, reason: `n2 proved no node key; key ${keyFingerprint(n2.publicKey)} is on record for it` })
    await writeDoc(n1.node, 'after-recording', 'replicated')
    await waitFor('n2 to receive the document', () => n2.node.docs.meta('after-recording') !== undefined)
  })

  test('a link another holder of the secret made under a key-less id is cut once the real key is recorded', async () => {
    const [port1, port0] = [await freePort(), await freePort()]
    const dataDir = legacyDataDir('n1', `http://127.0.0.1:${port1}`)
    await cleanups.pop()!()
    const n1 = await start({ id: 'n1', port: port1, dataDir })
    const add = await fetch(`${n1.node.url}/v1/cluster/members`, {
      method: 'POST',
      headers: { authorization: `Bearer ${common.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'n0', url: `http://127.0.0.1:${port0}` }),
    })
    expect(add.status).toBe(201)
    // Before n0 has a key on record, the cluster secret is all it takes, as before node keys.
    const fake = rawPeer(n1.node.url, { dialerId: 'n0', acceptorId: 'n1' }, common.clusterSecret)
    expect(await fake.authenticated).toBe(true)

    // The real n0 is reached only by n1's dial; n1 keeps the link n0 dialed (n0 < n1), which is the impostor's.
    const n0 = await start({ id: 'n0', port: port0, join: n1.node.url, peerRoutes: { n1: 'http://127.0.0.1:9' } })
    await waitFor("n0's key to be recorded", () => n1.node.cluster().members.find((m) => m.id === 'n0')?.publicKey === n0.publicKey)
    expect(await fake.closed).toEqual({ code: 4401, reason: `n0 proved node key none, not ${keyFingerprint(n0.publicKey)} now on record` })
    expect(hasLine(n1.lines, 'peer link cut: node key not the one on record', 'n0 proved node key none')).toBe(true)
    await writeDoc(n1.node, 'after-the-cut', 'replicated')
    await waitFor('n0 to receive the document', () => n0.node.docs.meta('after-the-cut') !== undefined)
  })
})
