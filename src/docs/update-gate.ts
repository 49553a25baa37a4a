/** Why an update may be refused before it touches storage, besides being undecodable. */
export type GateRefusal =
  | 'deleted'
  | 'read_only'
  | 'undeclared_root'
  | 'wrong_root_kind'
  | 'update_too_large'
  | 'doc_too_large'
  | 'invalid_update'
  | 'not_a_member'

export type ApplyResult =
  | { ok: true }
  | { ok: false; reason: GateRefusal | 'storage_failed' | 'shutting_down'; message: string }

/**
 * The metadata's say on a write (tombstones, namespace schemas and limits), asked before anything is
 * stored. `storedBytes` reads the document's current stored size; it costs a storage read, so a gate
 * calls it only when a size limit applies.
 */
export type UpdateGate = (
  name: string,
  update: Uint8Array,
  storedBytes: () => number,
  /** Who sends it, as given to `apply`. */
  origin: unknown,
) => { ok: true } | { ok: false; reason: GateRefusal; message: string }

/** What DocStore asks of the metadata. Both are given when it is made: a tombstone check cannot be forgotten. */
export interface DocStoreMetadata {
  /** Asked of every write before it is queued. */
  gate: UpdateGate
  /**
   * Which documents are deleted (tombstoned), asked again inside every group commit: an update that passed
   * the gate before its document's tombstone committed must not be written after it.
   */
  isDeleted: (name: string) => boolean
}
