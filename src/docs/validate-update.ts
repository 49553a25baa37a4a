import * as Y from 'yjs'

export type UpdateCheck =
  | { ok: true; empty: boolean }
  | { ok: false; reason: 'invalid_update'; message: string }

/**
 * Decodes the update's structs and delete set without applying them anywhere, so that an update Yjs
 * cannot read is refused before it reaches storage. `empty` marks an update that changes nothing.
 */
export function checkUpdate(update: Uint8Array): UpdateCheck {
  try {
    const { structs, ds } = Y.decodeUpdate(update)
    return { ok: true, empty: structs.length === 0 && ds.clients.size === 0 }
  } catch (err) {
    return { ok: false, reason: 'invalid_update', message: `not a valid Yjs update: ${(err as Error).message}` }
  }
}
