import { randomUUID } from 'node:crypto'
import { Hono, type Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { z } from 'zod'
import type { CommandInput, ControlPlane, SubmitFailure } from '../control/control-plane.js'
import { memberIdSchema, memberUrlSchema, namespaceNameSchema, namespaceSpecSchema } from '../meta/commands.js'
import type { CommandResult } from '../meta/commands.js'
import { checkDocName } from '../docs/doc-name.js'
import { ApiError, parseInput } from './api-error.js'
import { requireAdmin } from './admin-auth.js'

export interface AdminRoutesOptions {
  adminToken: string
  /** How long a write may wait for a leader and a quorum. */
  timeoutMs: number
  /** This node's own view of the data plane, added to `GET /v1/cluster` (per-peer replication state). */
  dataPlaneView(): object
}

const forwardedHeader = 'x-syncmesh-forwarded'

const addMemberBody = z.object({ id: memberIdSchema, url: memberUrlSchema, role: z.enum(['voter', 'replica']).optional() })
const transferBody = z.object({ to: memberIdSchema.optional() })

async function parseBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  let json: unknown
  try {
    json = await c.req.json()
  } catch {
    throw new ApiError(400, 'invalid_json', 'the body is not JSON')
  }
  return parseInput(schema, json, 'invalid_body', 'body')
}

const statusOfRefusal: Record<Exclude<CommandResult, { ok: true }>['code'], ContentfulStatusCode> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
}

/**
 * Cluster, namespace and deletion routes. Writes are committed through Raft: a node that does not lead
 * forwards the request to the leader (with the same idempotency key, so a retry is applied once), and
 * without a quorum the answer is 503 `no_quorum` within `timeoutMs`.
 */
export function adminRoutes(control: ControlPlane, options: AdminRoutesOptions): Hono {
  const app = new Hono()
  app.use('/v1/cluster', requireAdmin(options.adminToken))
  app.use('/v1/cluster/*', requireAdmin(options.adminToken))
  app.use('/v1/namespaces', requireAdmin(options.adminToken))
  app.use('/v1/namespaces/*', requireAdmin(options.adminToken))

  /**
   * Runs `attempt` on this node; while another node leads, forwards the request there instead, until
   * the deadline. Returns the attempt's success or the leader's whole answer.
   */
  async function atLeader<T extends { ok: true }>(
    c: Context,
    attempt: () => Promise<T | SubmitFailure>,
    requestId: string | null,
  ): Promise<T | Response> {
    const deadline = Date.now() + options.timeoutMs
    for (;;) {
      const outcome = await attempt()
      if (outcome.ok) return outcome
      if (outcome.reason !== 'not_leader') throw new ApiError(503, outcome.reason, outcome.message)
      if (outcome.leaderUrl && !c.req.header(forwardedHeader)) {
        const answer = await forward(c, outcome.leaderUrl, requestId).catch(() => null)
        if (answer) return answer
      }
      if (Date.now() >= deadline) {
        throw new ApiError(503, 'no_quorum', `no leader could be reached within ${options.timeoutMs} ms`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  /**
   * Commits `input` here or at the leader; returns the command's result, or the leader's whole answer.
   * `step` tells apart the commands of one request, which share its idempotency key.
   */
  async function write(c: Context, input: CommandInput, step = ''): Promise<CommandResult | Response> {
    const key = c.req.header('idempotency-key')
    const requestId = key === undefined ? randomUUID() : `${key}${step}`
    const outcome = await atLeader(c, () => control.submit(input, requestId), requestId)
    return outcome instanceof Response ? outcome : outcome.result
  }

  async function answer(c: Context, input: CommandInput, ok: () => Response | Promise<Response>): Promise<Response> {
    const result = await write(c, input)
    if (result instanceof Response) return result
    if (!result.ok) throw new ApiError(statusOfRefusal[result.code], result.code, result.message)
    return ok()
  }

  app.get('/v1/cluster', async (c) => {
    if (c.req.query('consistent') !== 'true') return c.json({ ...control.view(), ...options.dataPlaneView() })
    const read = await atLeader(c, () => control.consistentView(), null)
    return read instanceof Response ? read : c.json({ ...read.view, ...options.dataPlaneView() })
  })

  app.post('/v1/cluster/members', async (c) => {
    const body = await parseBody(c, addMemberBody)
    return answer(c, { type: 'add-member', id: body.id, url: body.url }, async () => {
      if (body.role === 'voter') {
        // Asking for a voter raises the target by one; the leader promotes the member once it has caught up.
        const voters = control.view().members.filter((m) => m.role === 'voter').length
        const count = Math.min(5, Math.max(control.targetVoters(), voters + 1))
        await write(c, { type: 'set-voter-target', count }, ':voter-target')
      }
      const member = control.view().members.find((m) => m.id === body.id)
      return c.json(member ?? { id: body.id, url: body.url, role: 'replica' }, 201)
    })
  })
  app.delete('/v1/cluster/members/:id', (c) => {
    const id = c.req.param('id')
    return answer(c, { type: 'remove-member', id }, () => c.json({ id, removed: true }))
  })

  app.post('/v1/cluster/leader', async (c) => {
    const body = (await c.req.text()).trim() === '' ? {} : await parseBody(c, transferBody)
    const outcome = await atLeader(c, () => control.transferLeadership(body.to), null)
    if (outcome instanceof Response) return outcome
    const { result } = outcome
    if (!result.ok) throw new ApiError(statusOfRefusal[result.code], result.code, result.message)
    return c.json({ leader: control.view().leader })
  })

  app.get('/v1/namespaces', (c) => c.json({ namespaces: control.namespaces() }))

  app.put('/v1/namespaces/:ns', async (c) => {
    const name = parseInput(namespaceNameSchema, c.req.param('ns'), 'invalid_namespace', 'namespace')
    const spec = await parseBody(c, namespaceSpecSchema)
    return answer(c, { type: 'put-namespace', name, ...spec }, () => c.json({ name, ...spec }))
  })

  app.delete('/v1/namespaces/:ns', (c) => {
    const name = parseInput(namespaceNameSchema, c.req.param('ns'), 'invalid_namespace', 'namespace')
    return answer(c, { type: 'delete-namespace', name }, () => c.json({ name, deleted: true }))
  })

  app.delete('/v1/docs/:name', requireAdmin(options.adminToken), (c) => {
    const checked = checkDocName(c.req.param('name'))
    if (!checked.ok) throw new ApiError(400, 'invalid_doc_name', checked.message)
    return answer(c, { type: 'delete-doc', name: checked.name }, () => c.json({ name: checked.name, deleted: true }))
  })

  return app

  async function forward(c: Context, leaderUrl: string, requestId: string | null): Promise<Response> {
    const url = new URL(c.req.url)
    const target = new URL(url.pathname + url.search, leaderUrl)
    const headers = new Headers()
    for (const name of ['authorization', 'content-type']) {
      const value = c.req.header(name)
      if (value !== undefined) headers.set(name, value)
    }
    if (requestId) headers.set('idempotency-key', requestId)
    headers.set(forwardedHeader, '1')
    const body = c.req.method === 'GET' || c.req.method === 'HEAD' ? undefined : await c.req.arrayBuffer()
    const res = await fetch(target, { method: c.req.method, headers, ...(body ? { body } : {}) })
    // A leader that turned follower meanwhile says so; let the caller retry rather than pass that on.
    if (res.status === 503) throw new Error('the leader could not commit')
    return new Response(res.body, { status: res.status, headers: res.headers })
  }
}

