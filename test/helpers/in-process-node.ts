import { defaultNodeConfig, startNode, type NodeConfig, type SyncmeshNode } from '../../src/node.js'
import { silentLog } from './store.js'
import { tempDir } from './temp-dir.js'

const started: SyncmeshNode[] = []

/** A node in the test's own process: real LMDB in a temp dir, real sockets on 127.0.0.1, OS-picked port. */
export async function startTestNode(overrides: Partial<NodeConfig> = {}): Promise<SyncmeshNode> {
  const node = await startNode(
    { ...defaultNodeConfig, id: 'test', port: 0, dataDir: tempDir(), ...overrides },
    silentLog,
  )
  started.push(node)
  return node
}

export async function closeTestNodes(): Promise<void> {
  await Promise.all(started.splice(0).map((node) => node.close()))
}
