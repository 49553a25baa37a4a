import type { Logger } from 'pino'
import { createAdminClient } from '../../client/admin-client.js'
import { SyncmeshApiError } from '../../client/api-error.js'

export interface JoinOptions {
  /** Members' base URLs, tried in turn (one may be down, or removed, for good); a follower forwards to the leader. */
  via: readonly string[]
  id: string
  url: string
  /** This node's key, recorded in its member entry with it, so that no other node can take its id. */
  publicKey: string
  adminToken: string
  log: Logger
  /**
   * Called once the cluster has added this node, with its members as the cluster reported them and a log index
   * the entry adding it comes after (a commit index read before the first request to add it).
   */
  onJoined(members: { id: string; url: string; publicKey?: string }[], addedAfter: number): void
  /** Called after each attempt that failed, with the member asked and what went wrong. */
  onFailed(failure: JoinFailure): void
}

export interface JoinFailure {
  via: string
  /** `<status> <code>: <message>` of a refusal, or the error of a request that got no answer. */
  error: string
}

/**
 * Asks the cluster to add this node as a replica, retrying through each of `via` in turn until a member answers
 * (adding is idempotent: a retry through another member after the first added it is answered the same). Once added, the leader
 * reaches this node over the peer link and sends it the log; the leader promotes it when the voter
 * target calls for it. Until the log arrives, the members and their node keys in the answer (over the admin
 * API, which the admin token guards) are what this node checks its peers against.
 */
export function joinCluster(options: JoinOptions): { cancel(): void } {
  let cancelled = false
  let timer: NodeJS.Timeout | undefined
  const admins = options.via.map((url) => ({ url, client: createAdminClient({ url, token: options.adminToken }) }))
  let attempts = 0
  let addedAfter = Number.POSITIVE_INFINITY
  const attempt = async (delayMs: number): Promise<void> => {
    if (cancelled) return
    const { url: via, client: admin } = admins[attempts++ % admins.length]!
    try {
      // The leader's commit index, read before asking to be added, is below the entry that adds this node.
      addedAfter = Math.min(addedAfter, (await admin.cluster({ consistent: true })).commitIndex)
      await admin.addMember({ id: options.id, url: options.url, publicKey: options.publicKey }).catch((err: unknown) => {
        const alreadyAdded = err instanceof SyncmeshApiError && err.status === 409 && err.message.includes(`"${options.id}" already exists`)
        if (!alreadyAdded) throw err
      })
      const view = await admin.cluster()
      options.log.info({ via, members: view.members.map((m) => m.id) }, 'joined the cluster')
      options.onJoined(view.members, addedAfter)
      return
    } catch (err) {
      const refused = err instanceof SyncmeshApiError
      if (refused) options.log.warn({ via, status: err.status, error: { code: err.code, message: err.message } }, 'join refused; retrying')
      else options.log.warn({ err, via }, 'join failed; retrying')
      options.onFailed({ via, error: refused ? `${err.status} ${err.code}: ${err.message}` : errorText(err) })
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

/** A failed request's reason: fetch puts the socket's error (ECONNREFUSED, …) in `cause`. */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : ''
  return `${err.message}${cause}`
}
