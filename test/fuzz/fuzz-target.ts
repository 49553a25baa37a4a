import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeProcess } from '../helpers/node-process.js'
import type { Target } from './fuzz-input.js'
import { NodeWatch } from './node-watch.js'

export interface FuzzTarget {
  target: Target
  watch: NodeWatch
  stop(): Promise<void>
}

/** Small enough that oversized frames and bodies are cheap to send. */
const maxMessageBytes = 256 * 1024

/**
 * A real `syncmesh start` child process on 127.0.0.1 with its own data directory, and the fuzzer registered as
 * a replica member, so that its peer connections can pass the handshake and reach the replication channel.
 */
export async function startFuzzTarget(onFailure: (failure: string) => void): Promise<FuzzTarget> {
  const dataDir = mkdtempSync(join(tmpdir(), 'syncmesh-fuzz-'))
  const credentials = {
    nodeId: 'fuzz-target',
    peerId: 'fuzz-peer',
    adminToken: 'fuzz-admin-token-0123456789abcdef',
    clusterSecret: 'fuzz-cluster-secret-0123456789abcdef',
  }
  const node = await NodeProcess.start([
    ...['--data', dataDir, '--id', credentials.nodeId, '--admin-token', credentials.adminToken],
    ...['--cluster-secret', credentials.clusterSecret, '--max-message-bytes', String(maxMessageBytes)],
    // A fast Raft clock: the single voter elects itself in a few hundred ms, so adding the member hardly waits.
    ...['--raft-tick-ms', '20'],
  ])
  const watch = new NodeWatch(node, onFailure)
  const target: Target = { port: Number(new URL(node.url).port), url: node.url, ...credentials }
  const stop = async () => {
    watch.scan()
    watch.expectExit()
    if (watch.alive) await node.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    await addFuzzPeer(target)
  } catch (err) {
    await stop()
    throw err
  }
  return { target, watch, stop }
}

async function addFuzzPeer(target: Target): Promise<void> {
  const res = await fetch(`${target.url}/v1/cluster/members`, {
    method: 'POST',
    headers: { authorization: `Bearer ${target.adminToken}`, 'content-type': 'application/json' },
    // Nothing listens there: the node's dials fail, and only the fuzzer's own connections link it.
    body: JSON.stringify({ id: target.peerId, url: 'http://127.0.0.1:9' }),
  })
  if (res.status !== 201) throw new Error(`adding the fuzzer as a member answered ${res.status}: ${await res.text()}`)
}
