import { Hono, type Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { z } from 'zod'
import type { ControlPlane, SubmitFailure } from '../control/control-plane.js'
import type { CommandInput } from '../control/proposal.js'
import {
  memberIdSchema,
  memberUrlSchema,
  namespaceNameSchema,
  namespaceSpecSchema,
  publicKeySchema,
  webhookIdSchema,
  webhookSpecSchema,
} from '../meta/commands.js'
import type { Webhook } from '../meta/state.js'
import { webhookIdentity } from '../control/webhook-identity.js'
import type { CommandResult } from '../meta/commands.js'
import type { PeerReplicationStatus, ReplicationSummary } from '../replication/replication.js'
import { checkDocName } from '../docs/doc-name.js'
import { ApiError, parseInput } from './api-error.js'
import { requireAdmin } from './admin-auth.js'
import { requestKey, type RequestKeyEnv } from './idempotency-key.js'
import { jsonBody, queryParams } from './validate.js'
import { deliveriesQuery, type DeliveriesAnswer, type DeliveriesQuery } from '../webhooks/delivery-listing.js'

/** This node's own view of the data plane, as `GET /v1/cluster` shows it beside the Raft view. */
export interface DataPlaneView {
  replication: ReplicationSummary
  peers: PeerReplicationStatus[]
}

export interface AdminRoutesOptions {
  adminToken: string
  /** Webhook ids and secrets are derived from it (see webhookIdentity). */
  clusterSecret: string
  /** How long a write may wait for a leader and a quorum. */
  timeoutMs: number
  dataPlaneView(): DataPlaneView
  /** A webhook's deliveries, this node's or the cluster's (see webhooks/delivery-listing.ts). */
  deliveries(webhookId: string, query: DeliveriesQuery, authorization: string | undefined): Promise<DeliveriesAnswer>
}

const forwardedHeader = 'x-syncmesh-forwarded'

export const clusterQuery = z.object({ consistent: z.string().optional() })
/**
 * `publicKey`: the node key of the node to be added (one started with --join sends its own). Without it, the
 * leader records the key the node proves once the leader has dialed it.
 */
export const addMemberBody = z.object({
  id: memberIdSchema,
  url: memberUrlSchema,
  role: z.enum(['voter', 'replica']).optional(),
  publicKey: publicKeySchema.optional(),
})
export const transferBody = z.object({ to: memberIdSchema.optional() }).default({})

const statusOfRefusal: Record<Exclude<CommandResult, { ok: true }>['code'], ContentfulStatusCode> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
}

/**
 * The leader's answer to a forwarded request, thrown from deep inside a handler and sent on unchanged. It is
 * what this route would have answered had this node led, so the routes' declared answer types still hold.
 */
class LeaderAnswered extends HTTPException {
  constructor(res: Response) {
    super(res.status as ContentfulStatusCode, { res })
  }
}

function refused(result: CommandResult): void {
  if (!result.ok) throw new ApiError(statusOfRefusal[result.code], result.code, result.message)
}

/**
 * Cluster, namespace, webhook and deletion routes. Writes are committed through Raft: a node that does not lead
 * forwards the request to the leader (with the same idempotency key, so a retry is applied once), and
 * without a quorum the answer is 503 `no_quorum` within `timeoutMs`.
 */
export function adminRoutes(control: ControlPlane, options: AdminRoutesOptions) {
  const admin = requireAdmin(options.adminToken)

  /**
   * Runs `attempt` on this node; while another node leads, forwards the request there instead (throwing
   * `LeaderAnswered`), until the deadline.
   */
  async function atLeader<T extends { ok: true }>(
    c: Context,
    attempt: () => Promise<T | SubmitFailure>,
    key: string | null,
  ): Promise<T> {
    const deadline = Date.now() + options.timeoutMs
    for (;;) {
      const outcome = await attempt()
      if (outcome.ok) return outcome
      if (outcome.reason !== 'not_leader') throw new ApiError(503, outcome.reason, outcome.message)
      if (outcome.leaderUrl && !c.req.header(forwardedHeader)) {
        const answer = await forward(c, outcome.leaderUrl, key).catch(() => null)
        if (answer) throw new LeaderAnswered(answer)
      }
      if (Date.now() >= deadline) {
        throw new ApiError(503, 'no_quorum', `no leader could be reached within ${options.timeoutMs} ms`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  /**
   * Commits `input` here or at the leader; a refused command is an ApiError. The commands of one request
   * share its key (the control plane tells them apart by their type); a forward carries the key itself.
   */
  async function commit(c: Context<RequestKeyEnv>, input: CommandInput): Promise<void> {
    const key = c.get('requestKey')
    refused((await atLeader(c, () => control.submit(input, key), key)).result)
  }

  const namespaceName = (c: Context) => parseInput(namespaceNameSchema, c.req.param('ns'), 'invalid_namespace', 'namespace')
  const webhookId = (c: Context) => parseInput(webhookIdSchema, c.req.param('id'), 'invalid_webhook_id', 'webhook id')
  /** A webhook as listed: its secret is shown once, in the answer to the registration. */
  const listed = ({ id, url, events, prefix }: Webhook) => ({ id, url, events: [...events], prefix })

  return new Hono<RequestKeyEnv>()
    .use('/v1/cluster', admin)
    .use('/v1/cluster/*', admin, requestKey)
    .use('/v1/namespaces', admin)
    .use('/v1/namespaces/*', admin, requestKey)
    .use('/v1/webhooks', admin, requestKey)
    .use('/v1/webhooks/*', admin, requestKey)

    .get('/v1/cluster', queryParams(clusterQuery), async (c) => {
      const view = c.req.valid('query').consistent === 'true' ? (await atLeader(c, () => control.consistentView(), null)).view : control.view()
      return c.json({ ...view, ...options.dataPlaneView() })
    })

    .post('/v1/cluster/members', jsonBody(addMemberBody), async (c) => {
      const body = c.req.valid('json')
      await commit(c, { type: 'add-member', id: body.id, url: body.url, ...(body.publicKey !== undefined && { publicKey: body.publicKey }) })
      if (body.role === 'voter') {
        // Asking for a voter raises the target by one; the leader promotes the member once it has caught up.
        const voters = control.view().members.filter((m) => m.role === 'voter').length
        const count = Math.min(5, Math.max(control.targetVoters(), voters + 1))
        await commit(c, { type: 'set-voter-target', count })
      }
      const member = control.view().members.find((m) => m.id === body.id)
      return c.json(member ?? { id: body.id, url: body.url, role: 'replica' as const }, 201)
    })

    .delete('/v1/cluster/members/:id', async (c) => {
      const id = c.req.param('id')
      await commit(c, { type: 'remove-member', id })
      return c.json({ id, removed: true as const })
    })

    .post('/v1/cluster/leader', jsonBody(transferBody), async (c) => {
      const { to } = c.req.valid('json')
      refused((await atLeader(c, () => control.transferLeadership(to), null)).result)
      return c.json({ leader: control.view().leader })
    })

    .get('/v1/namespaces', (c) => c.json({ namespaces: control.namespaces() }))

    .put('/v1/namespaces/:ns', jsonBody(namespaceSpecSchema), async (c) => {
      const name = namespaceName(c)
      const spec = c.req.valid('json')
      await commit(c, { type: 'put-namespace', name, ...spec })
      return c.json({ name, ...spec })
    })

    .delete('/v1/namespaces/:ns', async (c) => {
      const name = namespaceName(c)
      await commit(c, { type: 'delete-namespace', name })
      return c.json({ name, deleted: true as const })
    })

    .get('/v1/webhooks', (c) => c.json({ webhooks: control.webhooks().map(listed) }))

    .post('/v1/webhooks', jsonBody(webhookSpecSchema), async (c) => {
      const { id, secret } = webhookIdentity(options.clusterSecret, c.get('requestKey'))
      await commit(c, { type: 'put-webhook', id, secret, createdAtMs: Date.now(), ...c.req.valid('json') })
      // A retry of the same request finds the webhook the first one made, under the same id.
      const webhook = control.webhook(id)
      if (!webhook) throw new ApiError(404, 'not_found', `webhook "${id}" was deleted since this request first made it`)
      return c.json({ ...listed(webhook), secret: webhook.secret }, 201)
    })

    .get('/v1/webhooks/:id', (c) => {
      const webhook = control.webhook(webhookId(c))
      if (!webhook) throw new ApiError(404, 'not_found', `no webhook "${c.req.param('id')}"`)
      return c.json(listed(webhook))
    })

    .get('/v1/webhooks/:id/deliveries', queryParams(deliveriesQuery), async (c) => {
      const id = webhookId(c)
      if (!control.webhook(id)) throw new ApiError(404, 'not_found', `no webhook "${id}"`)
      return c.json(await options.deliveries(id, c.req.valid('query'), c.req.header('authorization')))
    })

    .delete('/v1/webhooks/:id', async (c) => {
      const id = webhookId(c)
      await commit(c, { type: 'delete-webhook', id })
      return c.json({ id, deleted: true as const })
    })

    .delete('/v1/docs/:name', admin, requestKey, async (c) => {
      const checked = checkDocName(c.req.param('name'))
      if (!checked.ok) throw new ApiError(400, 'invalid_doc_name', checked.message)
      await commit(c, { type: 'delete-doc', name: checked.name })
      return c.json({ name: checked.name, deleted: true as const })
    })

  async function forward(c: Context, leaderUrl: string, key: string | null): Promise<Response> {
    const url = new URL(c.req.url)
    const target = new URL(url.pathname + url.search, leaderUrl)
    const headers = new Headers()
    for (const name of ['authorization', 'content-type']) {
      const value = c.req.header(name)
      if (value !== undefined) headers.set(name, value)
    }
    if (key !== null) headers.set('idempotency-key', key)
    headers.set(forwardedHeader, '1')
    const body = c.req.method === 'GET' || c.req.method === 'HEAD' ? undefined : await c.req.arrayBuffer()
    const res = await fetch(target, { method: c.req.method, headers, ...(body ? { body } : {}) })
    // A leader that turned follower meanwhile says so; let the caller retry rather than pass that on.
    if (res.status === 503) throw new Error('the leader could not commit')
    return new Response(res.body, { status: res.status, headers: res.headers })
  }
}

/** The admin routes' types, for `hc` clients. */
export type AdminApi = ReturnType<typeof adminRoutes>
