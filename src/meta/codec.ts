import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { z } from 'zod'
import {
  commandErrorCodes,
  docNameSchema,
  memberIdSchema,
  memberUrlSchema,
  publicKeySchema,
  namespaceNameSchema,
  namespaceSpecSchema,
  parseCommand,
  requestIdSchema,
  voterTargetSchema,
  webhookIdSchema,
  webhookSecretSchema,
  webhookSpecSchema,
  webhookCreatedAtSchema,
  type CommandResult,
  type MetaCommand,
  type ParsedCommand,
} from './commands.js'
import { compareStrings } from './queries.js'
import { maxRememberedRequests, maxWebhooks, memberRoles, type MetaState, type Namespace, type Webhook } from './state.js'
import { readTombstones, writeTombstones } from './tombstone-codec.js'

/*
 * Log entries are JSON in UTF-8. A snapshot (format 2) is a varint format number, the small collections as JSON
 * in UTF-8 (a varint length first), then the tombstones, which are the bulk, in their compact form
 * (tombstone-codec.ts). Format 1 snapshots, still in older data directories, are one JSON object, tombstones
 * included: their first byte is `{`, which no varint format number starts with. A snapshot is canonical:
 * keyed collections are sorted by key and objects are built field by field, so equal states encode to equal
 * bytes whatever order they were built in.
 */

const jsonSnapshotFormat = 1
const snapshotFormat = 2
const openingBrace = 0x7b

const resultSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), code: z.enum(commandErrorCodes), message: z.string() }),
])

const fieldsSchema = z.object({
  voterTarget: voterTargetSchema,
  // A member without publicKey: one from before node keys, in a snapshot of that time or of a later one.
  members: z.array(
    z.object({ id: memberIdSchema, url: memberUrlSchema, role: z.enum(memberRoles), publicKey: publicKeySchema.optional() }),
  ),
  namespaces: z.array(namespaceSpecSchema.extend({ name: namespaceNameSchema })),
  removedMembers: z.array(memberIdSchema).default([]),
  recentResults: z.array(z.tuple([requestIdSchema, resultSchema])).max(maxRememberedRequests),
  // Absent from snapshots made before webhooks.
  webhooks: z
    .array(webhookSpecSchema.extend({ id: webhookIdSchema, secret: webhookSecretSchema, createdAtMs: webhookCreatedAtSchema.optional() }))
    .max(maxWebhooks)
    .default([]),
})

const jsonSnapshotSchema = fieldsSchema.extend({
  format: z.literal(jsonSnapshotFormat),
  tombstones: z.array(z.tuple([docNameSchema, z.number().int().nonnegative()])),
})

export function encodeMetaState(state: MetaState): Uint8Array {
  const fields: z.input<typeof fieldsSchema> = {
    voterTarget: state.voterTarget,
    members: sortedByKey(state.members).map(([, { id, url, role, publicKey }]) => ({
      id,
      url,
      role,
      ...(publicKey !== undefined && { publicKey }),
    })),
    namespaces: sortedByKey(state.namespaces).map(([, namespace]) => canonicalNamespace(namespace)),
    removedMembers: [...state.removedMembers].sort(compareStrings),
    // In apply order, not sorted: the order decides which request is forgotten next.
    recentResults: [...state.recentResults].map(([requestId, result]) => [requestId, canonicalResult(result)]),
    webhooks: sortedByKey(state.webhooks).map(([, webhook]) => canonicalWebhook(webhook)),
  }
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, snapshotFormat)
  encoding.writeVarUint8Array(encoder, new TextEncoder().encode(JSON.stringify(fields)))
  writeTombstones(encoder, state.tombstones)
  return encoding.toUint8Array(encoder)
}

export type DecodedMetaState = { ok: true; state: MetaState } | { ok: false; message: string }

/** Reads a snapshot, which may come from a peer: malformed bytes are a value, never a throw. */
export function decodeMetaState(bytes: Uint8Array): DecodedMetaState {
  if (bytes[0] === openingBrace) {
    const parsed = parseSnapshotJson(bytes, jsonSnapshotSchema)
    if (!parsed.ok) return parsed
    const tombstones = uniqueKeys(parsed.value.tombstones)
    return tombstones ? stateOf(parsed.value, tombstones) : repeatsKey
  }
  try {
    const decoder = decoding.createDecoder(bytes)
    const format = decoding.readVarUint(decoder)
    if (format !== snapshotFormat) return { ok: false, message: `snapshot format ${format} is unknown` }
    const parsed = parseSnapshotJson(decoding.readVarUint8Array(decoder), fieldsSchema)
    if (!parsed.ok) return parsed
    const tombstones = readTombstones(decoder)
    if (decoding.hasContent(decoder)) return { ok: false, message: 'snapshot has bytes after its end' }
    return stateOf(parsed.value, tombstones)
  } catch (err) {
    return { ok: false, message: `snapshot is malformed: ${(err as Error).message}` }
  }
}

const repeatsKey: DecodedMetaState = { ok: false, message: 'snapshot repeats a key' }

function parseSnapshotJson<S extends z.ZodType>(
  bytes: Uint8Array,
  schema: S,
): { ok: true; value: z.output<S> } | { ok: false; message: string } {
  const json = parseJson(bytes)
  if (!json.ok) return { ok: false, message: `snapshot is not JSON: ${json.message}` }
  const parsed = schema.safeParse(json.value)
  if (parsed.success) return { ok: true, value: parsed.data }
  const issue = parsed.error.issues[0]!
  return { ok: false, message: `snapshot ${issue.path.join('.')}: ${issue.message}` }
}

function stateOf(fields: z.output<typeof fieldsSchema>, tombstones: Map<string, number>): DecodedMetaState {
  const members = uniqueKeys(fields.members.map((member) => [member.id, member]))
  const namespaces = uniqueKeys(fields.namespaces.map((namespace) => [namespace.name, namespace]))
  const recentResults = uniqueKeys(fields.recentResults)
  const webhooks = uniqueKeys(fields.webhooks.map((webhook) => [webhook.id, webhook]))
  const removedMembers = new Set(fields.removedMembers)
  if (!members || !namespaces || !recentResults || !webhooks || removedMembers.size !== fields.removedMembers.length) return repeatsKey
  return {
    ok: true,
    state: { voterTarget: fields.voterTarget, members, namespaces, tombstones, removedMembers, recentResults, webhooks },
  }
}

export function encodeCommand(command: MetaCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(command))
}

export function decodeCommand(bytes: Uint8Array): ParsedCommand {
  const json = parseJson(bytes)
  if (!json.ok) return { ok: false, code: 'invalid', message: `command is not JSON: ${json.message}` }
  return parseCommand(json.value)
}

function parseJson(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) }
  } catch (err) {
    return { ok: false, message: (err as Error).message }
  }
}

function sortedByKey<V>(entries: Iterable<[string, V]>): [string, V][] {
  return [...entries].sort(([a], [b]) => compareStrings(a, b))
}

function uniqueKeys<V>(entries: readonly (readonly [string, V])[]): Map<string, V> | undefined {
  const map = new Map(entries)
  return map.size === entries.length ? map : undefined
}

function canonicalNamespace({ name, schema, limits, readOnly, publicRead, history }: Namespace): Namespace {
  return {
    name,
    schema: { roots: Object.fromEntries(sortedByKey(Object.entries(schema.roots))) },
    limits: { maxUpdateBytes: limits.maxUpdateBytes, maxDocBytes: limits.maxDocBytes },
    readOnly,
    publicRead,
    ...(history && { history: { keepVersions: history.keepVersions, keepDays: history.keepDays } }),
  }
}

function canonicalWebhook({ id, url, events, prefix, secret, createdAtMs }: Webhook) {
  return { id, url, events: [...events], prefix, secret, ...(createdAtMs !== undefined && { createdAtMs }) }
}

function canonicalResult(result: CommandResult): CommandResult {
  return result.ok ? { ok: true } : { ok: false, code: result.code, message: result.message }
}
