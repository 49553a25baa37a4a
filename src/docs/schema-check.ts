import * as Y from 'yjs'
import type { RootKind } from './doc-json.js'

export interface DocLimits {
  readonly maxUpdateBytes?: number
  readonly maxDocBytes?: number
}

/** What a namespace declares about its documents. */
export interface DocPolicy {
  readonly schema: { readonly roots: Readonly<Record<string, RootKind>> }
  readonly limits: DocLimits
  readonly readOnly: boolean
}

export type PolicyRefusal = 'invalid_update' | 'update_too_large' | 'read_only' | 'undeclared_root' | 'wrong_root_kind'

export type PolicyCheck = { ok: true } | { ok: false; reason: PolicyRefusal; message: string }

/**
 * Decides from the update alone, without a document, whether `policy` allows it. Checks what is decidable
 * without the stored document; the document size limit needs the stored size, see `wouldExceedDocLimit`.
 */
export function checkUpdateAgainstPolicy(policy: DocPolicy, update: Uint8Array): PolicyCheck {
  const { maxUpdateBytes } = policy.limits
  // Before decoding: the point of the limit is to spend no work on what it refuses.
  if (maxUpdateBytes !== undefined && update.byteLength > maxUpdateBytes) {
    return refuse('update_too_large', `the update is ${update.byteLength} bytes; the namespace allows ${maxUpdateBytes}`)
  }
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdate(update)
  } catch (err) {
    return refuse('invalid_update', `not a valid Yjs update: ${(err as Error).message}`)
  }
  // An update that changes nothing (such as an empty sync step 2) writes nothing, even to a read-only document.
  if (decoded.structs.length === 0 && decoded.ds.clients.size === 0) return { ok: true }
  if (policy.readOnly) return refuse('read_only', 'documents in this namespace are read-only')
  return checkRoots(policy.schema.roots, decoded.structs)
}

/** True if storing `updateBytes` more would take a document of `currentBytes` past the namespace's limit. */
export function wouldExceedDocLimit(currentBytes: number, updateBytes: number, limits: DocLimits): boolean {
  return limits.maxDocBytes !== undefined && currentBytes + updateBytes > limits.maxDocBytes
}

/**
 * Where an item of the update lands, as far as the update tells:
 * - at a root: in its list, or under a map key;
 * - `nested`: inside a Y type that is itself an item (its parent is an ID), whose kind the schema does not
 *   describe; that type was checked when the item holding it was written, here or in an earlier update;
 * - `unknown`: beside an item that is not in this update, so in the stored document, whose content was
 *   checked when it was written. Without the document its root is unknown, so the item is allowed:
 *   it cannot open a new root (only an item naming its root can), though it can put content of the wrong
 *   kind into a root that already has content. Items beside a GC become GC too, so they are `unknown` as well.
 * Deletions (the delete set) never create content, so they need no placement.
 */
type Placement = { root: string; mapKey: string | null } | 'nested' | 'unknown'

function checkRoots(roots: Readonly<Record<string, RootKind>>, structs: readonly (Y.Item | Y.GC | Y.Skip)[]): PolicyCheck {
  const placements = new Placements(structs)
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue
    const placement = placements.of(struct)
    if (placement === 'nested' || placement === 'unknown') continue
    // Own properties only: a root named `constructor` must not find Object.prototype's.
    const declared = Object.hasOwn(roots, placement.root) ? roots[placement.root] : undefined
    if (declared === undefined) {
      return refuse('undeclared_root', `root "${placement.root}" is not declared by the namespace schema`)
    }
    if (!kindsThatCanHold(placement, struct.content).includes(declared)) {
      const what = describeContent(placement, struct.content)
      const message = `root "${placement.root}" is declared ${declared}, but the update writes ${what} to it`
      return refuse('wrong_root_kind', message)
    }
  }
  return { ok: true }
}

/**
 * The root kinds whose Yjs type can write this content, judged by the API of each type: Y.Text writes strings,
 * formatting and embeds (an embed may be a Y type); Y.Array writes values, binaries, Y types and subdocuments;
 * Y.XmlFragment writes XML nodes; Y.Map writes keyed entries. Deleted content may have been any list's.
 */
function kindsThatCanHold(placement: { mapKey: string | null }, content: Y.Item['content']): readonly RootKind[] {
  if (placement.mapKey !== null) return ['map']
  if (content instanceof Y.ContentString || content instanceof Y.ContentFormat || content instanceof Y.ContentEmbed) {
    return ['text']
  }
  if (content instanceof Y.ContentType) return isXmlNode(content.type) ? ['xml', 'array', 'text'] : ['array', 'text']
  if (content instanceof Y.ContentDeleted) return ['text', 'array', 'xml']
  return ['array']
}

function describeContent(placement: { mapKey: string | null }, content: Y.Item['content']): string {
  if (placement.mapKey !== null) return `map key "${placement.mapKey}"`
  if (content instanceof Y.ContentString) return 'text'
  if (content instanceof Y.ContentFormat) return 'text formatting'
  if (content instanceof Y.ContentEmbed) return 'a text embed'
  if (content instanceof Y.ContentType) return isXmlNode(content.type) ? 'an XML node' : 'a nested Y type'
  if (content instanceof Y.ContentDeleted) return 'deleted list content'
  return 'array items'
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Yjs types every shared type as AbstractType<YEvent<any>>
function isXmlNode(type: Y.AbstractType<Y.YEvent<any>>): boolean {
  return type instanceof Y.XmlElement || type instanceof Y.XmlText || type instanceof Y.XmlHook
}

/** Resolves and remembers each item's placement, following neighbours inside the update the way Yjs does. */
class Placements {
  private readonly byClient = new Map<number, (Y.Item | Y.GC | Y.Skip)[]>()
  private readonly resolved = new Map<Y.Item, Placement>()

  constructor(structs: readonly (Y.Item | Y.GC | Y.Skip)[]) {
    for (const struct of structs) {
      const list = this.byClient.get(struct.id.client)
      if (list) list.push(struct)
      else this.byClient.set(struct.id.client, [struct])
    }
    // A well-formed update lists each client once, in clock order; a crafted one need not.
    for (const list of this.byClient.values()) list.sort((a, b) => a.id.clock - b.id.clock)
  }

  /**
   * Yjs takes the parent of an item encoded without one from its left neighbour (`origin`), else from its
   * right one. Chains of neighbours can be as long as the update, so this walks them without recursion;
   * an item met twice on one walk is a cycle that Yjs can never integrate, and ends as `unknown`.
   */
  of(item: Y.Item): Placement {
    const walked: Y.Item[] = []
    let current = item
    let placement = this.resolved.get(current) ?? ownPlacement(current)
    while (placement === undefined) {
      walked.push(current)
      this.resolved.set(current, 'unknown')
      const neighbourId: Y.ID | null = current.origin ?? current.rightOrigin
      const neighbour = neighbourId === null ? undefined : this.find(neighbourId)
      if (neighbour instanceof Y.Item) {
        current = neighbour
        placement = this.resolved.get(current) ?? ownPlacement(current)
      } else {
        placement = 'unknown'
      }
    }
    for (const step of walked) this.resolved.set(step, placement)
    return placement
  }

  private find(id: Y.ID): Y.Item | Y.GC | Y.Skip | undefined {
    const list = this.byClient.get(id.client)
    if (!list) return undefined
    let low = 0
    let high = list.length - 1
    while (low <= high) {
      const middle = (low + high) >>> 1
      const struct = list[middle]!
      if (id.clock < struct.id.clock) high = middle - 1
      else if (id.clock >= struct.id.clock + struct.length) low = middle + 1
      else return struct
    }
    return undefined
  }
}

/** The placement an item states itself, or undefined if it borrows its parent from a neighbour. */
function ownPlacement(item: Y.Item): Placement | undefined {
  // A decoded, unintegrated item holds its root's name where the typings promise a type: see Y.decodeUpdate.
  const parent = item.parent as unknown as string | Y.ID | null
  if (typeof parent === 'string') return { root: parent, mapKey: item.parentSub }
  return parent === null ? undefined : 'nested'
}

function refuse(reason: PolicyRefusal, message: string): PolicyCheck {
  return { ok: false, reason, message }
}
