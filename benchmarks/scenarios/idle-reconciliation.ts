import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sleep } from '../harness/clients.js'
import { startServer, type ServerProcess } from '../harness/servers.js'

interface PeerView {
  id: string
  lastReconciliation: { session: number; differingDocs: number; bytesSent: number; bytesReceived: number } | null
}

/** A run that is not done by then has a bug; the first round computes every document's digest, once. */
const timeoutMs = 15 * 60_000
const joinTimeoutMs = 60_000

/**
 * Anti-entropy between two nodes that hold the same documents: the bytes (sent and received, as the first node
 * counts them) of one whole reconciliation that finds nothing to repair. The second node starts from a copy of
 * the first one's LMDB file, made before the first started, and joins it. The first rounds compute and keep
 * every document's digest; the figure is that of a round after one that already found nothing.
 */
export async function idleReconciliationBytes(storeCopy: string, first: ServerProcess, firstDataDir: string): Promise<number> {
  const secondDir = mkdtempSync(join(tmpdir(), 'syncmesh-idle-reconcile-'))
  try {
    copyFileSync(join(storeCopy, 'data.mdb'), join(secondDir, 'data.mdb'))
    const firstUrl = first.wsUrl.replace(/^ws/, 'http')
    const secret = (name: string) => readFileSync(join(firstDataDir, name), 'utf8').trim()
    const adminToken = secret('admin-token')
    const second = await startServer(
      'syncmesh',
      { SYNCMESH_ID: 'stored-docs-copy', SYNCMESH_JOIN: firstUrl, SYNCMESH_CLUSTER_SECRET: secret('cluster-secret'), SYNCMESH_ADMIN_TOKEN: adminToken },
      { dataDir: secondDir },
    )
    try {
      return await bytesOfAnIdleRound(firstUrl, adminToken)
    } finally {
      await second.stop()
    }
  } finally {
    rmSync(secondDir, { recursive: true, force: true })
  }
}

async function bytesOfAnIdleRound(url: string, adminToken: string): Promise<number> {
  const startedAt = Date.now()
  let current: PeerView['lastReconciliation'] = null
  let idleRoundsDone = 0
  for (;;) {
    if (Date.now() > startedAt + timeoutMs) throw new Error(`no idle reconciliation within ${timeoutMs} ms`)
    const res = await fetch(`${url}/v1/cluster`, { headers: { authorization: `Bearer ${adminToken}` } })
    const peers = ((await res.json()) as { peers?: PeerView[] }).peers ?? []
    if (peers.length === 0 && Date.now() > startedAt + joinTimeoutMs) throw new Error(`the second node did not join within ${joinTimeoutMs} ms`)
    const latest = peers[0]?.lastReconciliation ?? null
    // A new session means the one seen before it is over: its figures are final.
    if (current && latest && latest.session !== current.session) {
      if (current.differingDocs === 0 && ++idleRoundsDone === 2) return current.bytesSent + current.bytesReceived
    }
    current = latest
    await sleep(100)
  }
}
