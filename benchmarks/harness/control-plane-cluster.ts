import type { ClusterProcess } from './cluster-processes.js'

export type ControlPlaneSystem = 'syncmesh' | 'etcd'

/**
 * `default`: each system's default Raft timing (heartbeat 100 ms, election after 1–2 s for both);
 * `lan`: tuned for a LAN, heartbeat 15 ms and election after 150–300 ms for both.
 */
export type TimeoutProfile = 'default' | 'lan'

export interface ClusterMember {
  readonly id: string
  /** http://127.0.0.1:<port>, where this member takes requests. */
  readonly url: string
  readonly process: ClusterProcess
}

/** One durable write as an HTTP/JSON request, so that both systems are driven by the same client code. */
export interface WriteRequest {
  method: 'PUT' | 'POST'
  path: string
  headers: Record<string, string>
  body: string
}

/** Three members on 127.0.0.1 that have elected a leader. */
export interface ControlPlaneCluster {
  readonly system: ControlPlaneSystem
  readonly members: readonly ClusterMember[]
  /** The member that every live member names as leader, once they agree. */
  leader(): Promise<ClusterMember>
  /** Stores `value` under `key` once a quorum has it on disk. */
  writeRequest(key: string, value: string): WriteRequest
  /** Kills every member and removes their data. */
  stop(): Promise<void>
}

/** Calls `probe` every 20 ms until it returns a value; fails with `what` after `timeoutMs`. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = await probe().catch(() => undefined)
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
