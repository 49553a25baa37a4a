import { z } from 'zod'
import { namespaceSpecSchema, webhookSpecSchema } from '../../meta/commands.js'

/*
 * The JSON answers of the REST API, as zod schemas: the OpenAPI document is generated from them, and the test
 * that walks every route checks each answer against them.
 */

/** The one error shape; some errors add fields of their own beside code and message (a 410 of the change feed: `oldestCursor`). */
export const errorAnswer = z
  .object({
    error: z.object({ code: z.string(), message: z.string() }).catchall(z.string()),
  })
  .meta({ id: 'Error', description: 'Every error answer: a machine-readable code and a human-readable message.' })

const time = z.string().describe('ISO 8601')

export const healthAnswer = z.object({ ok: z.literal(true) })
export const readyAnswer = z.object({ ready: z.literal(true) })
export const endpointsAnswer = z.object({ endpoints: z.array(z.string()).describe("every member's URL, for clients that fail over") })

export const docListAnswer = z.object({
  docs: z.array(z.object({ name: z.string(), sizeBytes: z.number().int(), updatedAt: time })),
  nextCursor: z.string().nullable().describe('pass as `cursor` for the next page; null on the last page'),
})
export const docJsonAnswer = z.record(z.string(), z.unknown()).describe("each root's content: text as a string, maps as objects, arrays as arrays, XML as a string")
export const nameDeletedAnswer = z.object({ name: z.string(), deleted: z.literal(true) })

export const versionAnswer = z
  .object({
    id: z.string(),
    label: z.string(),
    time,
    by: z
      .string()
      .nullable()
      .describe('a named version: the subject of the token that made it; an automatic one: its only editor; null without one'),
    kind: z.enum(['named', 'auto']),
    editors: z
      .array(z.string())
      .describe("an automatic version: the token subjects whose edits the node that made it took since its previous one; [] for a named one"),
  })
  .meta({ id: 'Version' })
export const versionListAnswer = z.object({ versions: z.array(versionAnswer).describe('newest first') })
export const versionDiffAnswer = z.object({
  from: z.string(),
  to: z.string().describe('a version id, or `current`'),
  roots: z
    .record(
      z.string(),
      z.union([
        z.object({ kind: z.literal('text'), inserted: z.array(z.string()), deleted: z.array(z.string()) }),
        z.object({ kind: z.literal('map'), changed: z.array(z.object({ key: z.string(), before: z.unknown(), after: z.unknown() })) }),
        z.object({ kind: z.enum(['array', 'xml']), before: z.unknown(), after: z.unknown() }),
      ]),
    )
    .describe('only the roots that changed'),
})
export const versionRestoredAnswer = z.object({
  restored: versionAnswer,
  before: versionAnswer.nullable().describe('the automatic version made of the state before the restore; null if the newest version already held it'),
})

export const changeEvent = z
  .object({
    cursor: z.string().describe('resume after this event: `since`, or SSE `Last-Event-ID`'),
    type: z.enum(['updated', 'deleted']),
    name: z.string(),
    time,
    bytes: z.number().int(),
    stateVector: z.string().nullable().describe('base64 Yjs state vector after the change; null for a deletion'),
  })
  .meta({ id: 'ChangeEvent' })
export const changePageAnswer = z.object({ changes: z.array(changeEvent), nextCursor: z.string() })

const member = z.object({ id: z.string(), url: z.string(), role: z.enum(['voter', 'replica']), publicKey: z.string().optional() }).meta({ id: 'Member' })
const linkState = z.looseObject({
  state: z.enum(['connected', 'connecting', 'down']),
  since: z.number(),
  sentBytes: z.number(),
  receivedBytes: z.number(),
  droppedMessages: z.number(),
})
export const clusterAnswer = z.object({
  id: z.string(),
  leader: z.string().nullable(),
  term: z.number().int(),
  commitIndex: z.number().int(),
  members: z.array(member),
  replication: z.object({ documents: z.number().int(), fingerprint: z.string(), staleDigests: z.number().int() }),
  peers: z.array(
    z.looseObject({
      id: z.string(),
      link: linkState,
      liveUpdatesSent: z.number(),
      liveUpdatesDropped: z.number(),
      updatesAlreadyHeld: z.number(),
      lastReconciliation: z.looseObject({ session: z.number(), startedAt: z.number(), differingDocs: z.number() }).nullable(),
    }),
  ),
})
export const memberAnswer = member
export const memberRemovedAnswer = z.object({ id: z.string(), removed: z.literal(true) })
export const leaderAnswer = z.object({ leader: z.string().nullable() })

const namespace = namespaceSpecSchema.extend({ name: z.string() }).meta({ id: 'Namespace' })
export const namespaceListAnswer = z.object({ namespaces: z.array(namespace) })
export const namespaceAnswer = namespace

const webhook = webhookSpecSchema.extend({ id: z.string() }).meta({ id: 'Webhook' })
export const webhookListAnswer = z.object({ webhooks: z.array(webhook) })
export const webhookAnswer = webhook
export const webhookCreatedAnswer = webhook.extend({ secret: z.string().describe('the Standard Webhooks signing secret, `whsec_…`: shown only here') })
export const webhookDeletedAnswer = z.object({ id: z.string(), deleted: z.literal(true) })
