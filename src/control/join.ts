import type { Logger } from 'pino'

export interface JoinOptions {
  /** Any member's base URL; a follower forwards the request to the leader. */
  via: string
  id: string
  url: string
  adminToken: string
  log: Logger
  /** Called once the cluster has added this node, with its members as the cluster reported them. */
  onJoined(members: { id: string; url: string }[]): void
}

/**
 * Asks the cluster to add this node as a replica, retrying until a member answers. Once added, the leader
 * reaches this node over the peer link and sends it the log; the leader promotes it when the voter
 * target calls for it.
 */
export function joinCluster(options: JoinOptions): { cancel(): void } {
  let cancelled = false
  let timer: NodeJS.Timeout | undefined
  const attempt = async (delayMs: number): Promise<void> => {
    if (cancelled) return
    try {
      const res = await fetch(new URL('/v1/cluster/members', options.via), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${options.adminToken}` },
        body: JSON.stringify({ id: options.id, url: options.url }),
      })
      const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null
      if (res.status === 201 || (res.status === 409 && body?.error?.message?.includes(`"${options.id}" already exists`))) {
        const cluster = await fetch(new URL('/v1/cluster', options.via), { headers: { authorization: `Bearer ${options.adminToken}` } })
        const view = (await cluster.json()) as { members: { id: string; url: string }[] }
        options.log.info({ via: options.via, members: view.members.map((m) => m.id) }, 'joined the cluster')
        options.onJoined(view.members)
        return
      }
      options.log.warn({ status: res.status, error: body?.error }, 'join refused; retrying')
    } catch (err) {
      options.log.warn({ err, via: options.via }, 'join failed; retrying')
    }
    timer = setTimeout(() => void attempt(Math.min(delayMs * 2, 5_000)), delayMs)
  }
  void attempt(200)
  return {
    cancel: () => {
      cancelled = true
      clearTimeout(timer)
    },
  }
}
