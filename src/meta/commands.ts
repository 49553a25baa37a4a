import { z } from 'zod'
import { rootKinds } from '../docs/doc-json.js'
import { maxDocNameBytes } from '../docs/doc-name.js'
import { webhookEvents } from './state.js'

export const minVoterTarget = 1
export const maxVoterTarget = 5

/**
 * Names a client's write, so that a retried write is applied once. Room for the control plane's
 * `<command type>:<key>` (see `planProposal`) with a key of up to 128 characters.
 */
export const requestIdSchema = z.string().min(1).max(256)
export const memberIdSchema = z.string().min(1).max(128)
export const memberUrlSchema = z.url({ protocol: /^(https?|wss?)$/ }).max(2048)
/** A node's Ed25519 public key: the canonical base64url of its 32 bytes, so that one key has one spelling. */
export const publicKeySchema = z.string().regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, 'an Ed25519 public key in base64url')
export const voterTargetSchema = z.number().int().min(minVoterTarget).max(maxVoterTarget)
export const namespaceNameSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^/]*$/, 'a namespace name cannot contain "/"')
export const docNameSchema = z
  .string()
  .min(1)
  .refine((name) => Buffer.byteLength(name, 'utf8') <= maxDocNameBytes, `at most ${maxDocNameBytes} bytes`)

const byteCount = z.number().int().positive()

export const webhookIdSchema = z.string().regex(/^wh_[a-z0-9]{20}$/, 'a webhook id (wh_ and 20 letters or digits)')
export const webhookUrlSchema = z.url({ protocol: /^https?$/ }).max(2048)
/** A Standard Webhooks signing secret: `whsec_` and the base64 of 24 to 64 bytes. */
export const webhookSecretSchema = z.string().regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'whsec_ and a base64 key')
/** Epoch ms, by the clock of the node that took the registration. */
export const webhookCreatedAtSchema = z.number().int().nonnegative()
export const webhookSpecSchema = z.object({
  url: webhookUrlSchema,
  events: z
    .array(z.enum(webhookEvents))
    .min(1)
    .max(webhookEvents.length)
    .refine((events) => new Set(events).size === events.length, 'each event once'),
  prefix: z.string().max(maxDocNameBytes).default(''),
})

/** How much version history a namespace's documents keep; the node's flags give what is left out. */
export const historyRetentionSchema = z.object({
  /** Versions kept per document, newest first; 0 keeps none and makes none. */
  keepVersions: z.number().int().min(0).max(10_000).optional(),
  /** Versions older than this are dropped. */
  keepDays: z.number().positive().max(36_500).optional(),
})

/** A namespace's declaration, as an admin writes it. */
export const namespaceSpecSchema = z.object({
  schema: z.object({
    roots: z
      .record(z.string().min(1).max(256), z.enum(rootKinds))
      .refine((roots) => Object.keys(roots).length <= 100, 'at most 100 roots'),
  }),
  limits: z.object({ maxUpdateBytes: byteCount.optional(), maxDocBytes: byteCount.optional() }).default({}),
  readOnly: z.boolean().default(false),
  publicRead: z.boolean().default(false),
  history: historyRetentionSchema.optional(),
})

const commandSchema = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.object({ type: z.literal(type), requestId: requestIdSchema, ...shape })

export const metaCommandSchema = z.discriminatedUnion('type', [
  commandSchema('add-member', { id: memberIdSchema, url: memberUrlSchema, publicKey: publicKeySchema.optional() }),
  commandSchema('set-member-key', { id: memberIdSchema, publicKey: publicKeySchema }),
  commandSchema('promote', { id: memberIdSchema }),
  commandSchema('demote', { id: memberIdSchema }),
  commandSchema('remove-member', { id: memberIdSchema }),
  commandSchema('set-voter-target', { count: voterTargetSchema }),
  commandSchema('put-namespace', { name: namespaceNameSchema, ...namespaceSpecSchema.shape }),
  commandSchema('delete-namespace', { name: namespaceNameSchema }),
  commandSchema('delete-doc', { name: docNameSchema }),
  commandSchema('put-webhook', { id: webhookIdSchema, ...webhookSpecSchema.shape, secret: webhookSecretSchema, createdAtMs: webhookCreatedAtSchema.optional() }),
  commandSchema('delete-webhook', { id: webhookIdSchema }),
])

export type MetaCommand = z.infer<typeof metaCommandSchema>
export type MetaCommandType = MetaCommand['type']

export const commandErrorCodes = ['invalid', 'not_found', 'conflict'] as const
export type CommandErrorCode = (typeof commandErrorCodes)[number]

/** The outcome of a command. Expected refusals are values; they are remembered like successes. */
export type CommandResult = { ok: true } | { ok: false; code: CommandErrorCode; message: string }

export type ParsedCommand = { ok: true; command: MetaCommand } | { ok: false; code: 'invalid'; message: string }

/** Validates untrusted input (a REST body, a log entry) as a command; unknown fields are dropped. */
export function parseCommand(input: unknown): ParsedCommand {
  const parsed = metaCommandSchema.safeParse(input)
  if (parsed.success) return { ok: true, command: parsed.data }
  const issue = parsed.error.issues[0]!
  return { ok: false, code: 'invalid', message: `${issue.path.join('.') || 'command'}: ${issue.message}` }
}
