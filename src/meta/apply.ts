import { maxVoterTarget, type CommandErrorCode, type CommandResult, type MetaCommand, type MetaCommandType } from './commands.js'
import { membersWithRole } from './queries.js'
import { maxRememberedRequests, maxWebhooks, webhookEvents, type MetaState } from './state.js'

/** Where a command sits in the Raft log. */
export interface LogPosition {
  readonly index: number
  readonly term: number
}

type CommandOf<T extends MetaCommandType> = Extract<MetaCommand, { type: T }>

/**
 * Applies one committed command to `state`, in place (see `MetaState`), and returns its result. Deterministic:
 * it reads nothing but its arguments, so every node that applies the same log holds the same state.
 * A request id among the last `maxRememberedRequests` gets the result it had the first time and changes nothing.
 *
 * Membership commands change one member's role at most, matching Raft's one-server-at-a-time changes;
 * `nextMembershipChange` plans the sequence.
 */
export function applyCommand(state: MetaState, command: MetaCommand, at: LogPosition): CommandResult {
  const remembered = state.recentResults.get(command.requestId)
  if (remembered !== undefined) return remembered
  const result = execute(state, command, at)
  state.recentResults.set(command.requestId, result)
  if (state.recentResults.size > maxRememberedRequests) {
    state.recentResults.delete(state.recentResults.keys().next().value!)
  }
  return result
}

function execute(state: MetaState, command: MetaCommand, at: LogPosition): CommandResult {
  switch (command.type) {
    case 'add-member':
      return addMember(state, command)
    case 'set-member-key':
      return setMemberKey(state, command)
    case 'promote':
      return promote(state, command)
    case 'demote':
      return demote(state, command)
    case 'remove-member':
      return removeMember(state, command)
    case 'set-voter-target':
      state.voterTarget = command.count
      return ok
    case 'put-namespace':
      return putNamespace(state, command)
    case 'delete-namespace':
      return deleteNamespace(state, command)
    case 'delete-doc':
      return deleteDoc(state, command, at)
    case 'put-webhook':
      return putWebhook(state, command)
    case 'delete-webhook':
      return state.webhooks.delete(command.id) ? ok : refuse('not_found', `no webhook "${command.id}"`)
  }
}

/** New members join as replicas: a voter that has not caught up would slow every commit or block the quorum. */
function addMember(state: MetaState, { id, url, publicKey }: CommandOf<'add-member'>): CommandResult {
  const existing = state.members.get(id)
  if (existing?.publicKey !== undefined && publicKey !== undefined && existing.publicKey !== publicKey) {
    // Not "already exists": a joining node takes that as its own earlier request, and this is another node's.
    return refuse('conflict', `member "${id}" exists with another node key; a node rejoins with a new id and an empty data directory`)
  }
  if (existing) return refuse('conflict', `member "${id}" already exists`)
  if (state.removedMembers.has(id)) {
    return refuse('conflict', `member "${id}" was removed; a node rejoins with a new id and an empty data directory`)
  }
  for (const member of state.members.values()) {
    if (member.url === url) return refuse('conflict', `member "${member.id}" already has the URL ${url}`)
  }
  state.members.set(id, { id, url, role: 'replica', ...(publicKey !== undefined && { publicKey }) })
  return ok
}

/** Records the key of a member that has none; a recorded key is never replaced (a node that lost its key rejoins). */
function setMemberKey(state: MetaState, { id, publicKey }: CommandOf<'set-member-key'>): CommandResult {
  const member = state.members.get(id)
  if (!member) return refuse('not_found', `no member "${id}"`)
  if (member.publicKey === publicKey) return ok
  if (member.publicKey !== undefined) return refuse('conflict', `member "${id}" already has another node key`)
  state.members.set(id, { ...member, publicKey })
  return ok
}

function promote(state: MetaState, { id }: CommandOf<'promote'>): CommandResult {
  const member = state.members.get(id)
  if (!member) return refuse('not_found', `no member "${id}"`)
  if (member.role === 'voter') return refuse('conflict', `member "${id}" is already a voter`)
  // The target guides the planner (`nextMembershipChange`), not this check: a promotion proposed under one
  // target must still apply after a target change committed before it, or Raft's configuration (which
  // applied it) and these roles would disagree.
  const voters = membersWithRole(state, 'voter').length
  if (voters >= maxVoterTarget) return refuse('conflict', `the cluster already has the most voters, ${maxVoterTarget}`)
  state.members.set(id, { ...member, role: 'voter' })
  return ok
}

function demote(state: MetaState, { id }: CommandOf<'demote'>): CommandResult {
  const member = state.members.get(id)
  if (!member) return refuse('not_found', `no member "${id}"`)
  if (member.role === 'replica') return refuse('conflict', `member "${id}" is not a voter`)
  if (membersWithRole(state, 'voter').length === 1) return refuse('conflict', `member "${id}" is the last voter`)
  state.members.set(id, { ...member, role: 'replica' })
  return ok
}

function removeMember(state: MetaState, { id }: CommandOf<'remove-member'>): CommandResult {
  const member = state.members.get(id)
  if (!member) return refuse('not_found', `no member "${id}"`)
  if (member.role === 'voter' && membersWithRole(state, 'voter').length === 1) {
    return refuse('conflict', `member "${id}" is the last voter; promote another member first`)
  }
  state.members.delete(id)
  state.removedMembers.add(id)
  return ok
}

/** Creates or replaces the declaration; documents already stored are not re-checked against it. */
function putNamespace(state: MetaState, command: CommandOf<'put-namespace'>): CommandResult {
  const { name, schema, limits, readOnly, publicRead, history } = command
  state.namespaces.set(name, {
    name,
    schema: { roots: { ...schema.roots } },
    limits: { ...limits },
    readOnly,
    publicRead,
    ...(history && { history: { ...history } }),
  })
  return ok
}

function deleteNamespace(state: MetaState, { name }: CommandOf<'delete-namespace'>): CommandResult {
  if (!state.namespaces.delete(name)) return refuse('not_found', `no namespace "${name}"`)
  return ok
}

/** Any name can be deleted, written or not: this node's log does not know every document of the cluster. */
function deleteDoc(state: MetaState, { name }: CommandOf<'delete-doc'>, at: LogPosition): CommandResult {
  const deletedAt = state.tombstones.get(name)
  if (deletedAt !== undefined) return refuse('conflict', `document "${name}" was deleted at log index ${deletedAt}`)
  state.tombstones.set(name, at.index)
  return ok
}

/** Registers a webhook under a new id; its id and secret never change (a new URL is a new webhook). */
function putWebhook(state: MetaState, { id, url, events, prefix, secret, createdAtMs }: CommandOf<'put-webhook'>): CommandResult {
  if (state.webhooks.has(id)) return refuse('conflict', `webhook "${id}" already exists`)
  if (state.webhooks.size >= maxWebhooks) return refuse('conflict', `the cluster already has the most webhooks, ${maxWebhooks}`)
  const webhook = { id, url, events: webhookEvents.filter((event) => events.includes(event)), prefix, secret }
  state.webhooks.set(id, createdAtMs === undefined ? webhook : { ...webhook, createdAtMs })
  return ok
}

const ok: CommandResult = Object.freeze({ ok: true })

function refuse(code: CommandErrorCode, message: string): CommandResult {
  return { ok: false, code, message }
}
