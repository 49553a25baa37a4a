import { compareStrings } from '../../src/meta/queries.js'
import type { MetaState } from '../../src/meta/state.js'

/**
 * A metadata snapshot in format 1, as releases before compact tombstones wrote it (and data directories still
 * hold it): one JSON object, tombstones inline as [name, index] pairs. Written independently of src/ so that
 * the decoder is checked against the old writer, not against itself.
 */
export function encodeFormat1MetaState(state: MetaState): Uint8Array {
  const byKey = <V>(map: ReadonlyMap<string, V>) => [...map].sort(([a], [b]) => compareStrings(a, b))
  return new TextEncoder().encode(
    JSON.stringify({
      format: 1,
      voterTarget: state.voterTarget,
      members: byKey(state.members).map(([, { id, url, role }]) => ({ id, url, role })),
      namespaces: byKey(state.namespaces).map(([, { name, schema, limits, readOnly, publicRead }]) => ({
        name,
        schema: { roots: Object.fromEntries(byKey(new Map(Object.entries(schema.roots)))) },
        limits: { maxUpdateBytes: limits.maxUpdateBytes, maxDocBytes: limits.maxDocBytes },
        readOnly,
        publicRead,
      })),
      tombstones: byKey(state.tombstones),
      removedMembers: [...state.removedMembers].sort(compareStrings),
      recentResults: [...state.recentResults],
    }),
  )
}
