import type { Member, MemberRole, MetaState, Namespace } from './state.js'

/** The namespace of a document: the text before its first `/`; none for a name without one or starting with one. */
export function namespaceOf(docName: string): string | null {
  const slash = docName.indexOf('/')
  return slash > 0 ? docName.slice(0, slash) : null
}

/** The declared namespace governing a document, or null if nothing restricts it. */
export function policyFor(state: MetaState, docName: string): Namespace | null {
  const namespace = namespaceOf(docName)
  return namespace === null ? null : (state.namespaces.get(namespace) ?? null)
}

export function isDeleted(state: MetaState, docName: string): boolean {
  return state.tombstones.has(docName)
}

/** Members of one role, ordered by id so that every choice made from them is the same on every node. */
export function membersWithRole(state: MetaState, role: MemberRole): Member[] {
  return [...state.members.values()].filter((m) => m.role === role).sort((a, b) => compareStrings(a.id, b.id))
}

/** Code-unit order: unlike localeCompare, the same on every node whatever its locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
