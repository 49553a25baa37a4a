import { z } from 'zod'
import {
  commandErrorCodes,
  docNameSchema,
  memberIdSchema,
  memberUrlSchema,
  namespaceNameSchema,
  namespaceSpecSchema,
  parseCommand,
  requestIdSchema,
  voterTargetSchema,
  type CommandResult,
  type MetaCommand,
  type ParsedCommand,
} from './commands.js'
import { compareStrings } from './queries.js'
import { maxRememberedRequests, memberRoles, type MetaState, type Namespace } from './state.js'

/*
 * Snapshots and log entries are JSON in UTF-8. A snapshot is canonical: keyed collections are sorted by key and
 * objects are built field by field, so equal states encode to equal bytes whatever order they were built in.
 */

const snapshotFormat = 1

const resultSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), code: z.enum(commandErrorCodes), message: z.string() }),
])

const snapshotSchema = z.object({
  format: z.literal(snapshotFormat),
  voterTarget: voterTargetSchema,
  members: z.array(z.object({ id: memberIdSchema, url: memberUrlSchema, role: z.enum(memberRoles) })),
  namespaces: z.array(namespaceSpecSchema.extend({ name: namespaceNameSchema })),
  tombstones: z.array(z.tuple([docNameSchema, z.number().int().nonnegative()])),
  removedMembers: z.array(memberIdSchema).default([]),
  recentResults: z.array(z.tuple([requestIdSchema, resultSchema])).max(maxRememberedRequests),
})

export function encodeMetaState(state: MetaState): Uint8Array {
  const snapshot: z.input<typeof snapshotSchema> = {
    format: snapshotFormat,
    voterTarget: state.voterTarget,
    members: sortedByKey(state.members).map(([, { id, url, role }]) => ({ id, url, role })),
    namespaces: sortedByKey(state.namespaces).map(([, namespace]) => canonicalNamespace(namespace)),
    tombstones: sortedByKey(state.tombstones),
    removedMembers: [...state.removedMembers].sort(compareStrings),
    // In apply order, not sorted: the order decides which request is forgotten next.
    recentResults: [...state.recentResults].map(([requestId, result]) => [requestId, canonicalResult(result)]),
  }
  return new TextEncoder().encode(JSON.stringify(snapshot))
}

export type DecodedMetaState = { ok: true; state: MetaState } | { ok: false; message: string }

/** Reads a snapshot, which may come from a peer: malformed bytes are a value, never a throw. */
export function decodeMetaState(bytes: Uint8Array): DecodedMetaState {
  const json = parseJson(bytes)
  if (!json.ok) return { ok: false, message: `snapshot is not JSON: ${json.message}` }
  const parsed = snapshotSchema.safeParse(json.value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    return { ok: false, message: `snapshot ${issue.path.join('.')}: ${issue.message}` }
  }
  const snapshot = parsed.data
  const members = uniqueKeys(snapshot.members.map((member) => [member.id, member]))
  const namespaces = uniqueKeys(snapshot.namespaces.map((namespace) => [namespace.name, namespace]))
  const tombstones = uniqueKeys(snapshot.tombstones)
  const recentResults = uniqueKeys(snapshot.recentResults)
  if (!members || !namespaces || !tombstones || !recentResults) return { ok: false, message: 'snapshot repeats a key' }
  const removedMembers = new Set(snapshot.removedMembers)
  if (removedMembers.size !== snapshot.removedMembers.length) return { ok: false, message: 'snapshot repeats a key' }
  return {
    ok: true,
    state: { voterTarget: snapshot.voterTarget, members, namespaces, tombstones, removedMembers, recentResults },
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

function canonicalNamespace({ name, schema, limits, readOnly, publicRead }: Namespace): Namespace {
  return {
    name,
    schema: { roots: Object.fromEntries(sortedByKey(Object.entries(schema.roots))) },
    limits: { maxUpdateBytes: limits.maxUpdateBytes, maxDocBytes: limits.maxDocBytes },
    readOnly,
    publicRead,
  }
}

function canonicalResult(result: CommandResult): CommandResult {
  return result.ok ? { ok: true } : { ok: false, code: result.code, message: result.message }
}
