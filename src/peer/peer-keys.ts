import { ticketSignedBy, type KeyOf } from './handshake.js'
import { keyFingerprint } from './node-identity.js'

/**
 * What a PeerNetwork knows of its peers' node keys, and the rules it applies with them.
 *
 * - The key a peer must prove is the one on record in the metadata, or, once a peer's entry is gone while it
 *   is still in the peer set (a removed member linked a while longer to hand off its documents), the last one
 *   seen on record. Without that memory a removed member's id would need only the cluster secret.
 * - A member without a key on record (one from before node keys) gets one recorded from the key it proves on a
 *   link this node dialed to its URL (dialedKeyOf), not on one it dialed in: to pass, another holder of the
 *   secret must answer at the member's address, not merely claim its id.
 */
export class PeerKeys {
  private readonly lastOnRecord = new Map<string, string>()
  private readonly provedOnDial = new Map<string, string | null>()

  constructor(private readonly onRecord: KeyOf) {}

  readonly keyOf: KeyOf = (id) => {
    const key = this.onRecord(id)
    if (key !== undefined) this.lastOnRecord.set(id, key)
    return key ?? this.lastOnRecord.get(id)
  }

  /** Whether a ticket naming `member` admits it as that member: with its signature, where a key is on record. */
  ticketAdmits(member: string, ticket: string, signature: string | string[] | undefined): boolean {
    const key = this.keyOf(member)
    return key === undefined || (typeof signature === 'string' && ticketSignedBy(key, ticket, signature))
  }

  /** Why a link on which `peer` proved `provedKey` may not stay, now that a key is on record; null if it may. */
  mismatch(peer: string, provedKey: string | null): string | null {
    const onRecord = this.keyOf(peer)
    if (onRecord === undefined || provedKey === onRecord) return null
    const proved = provedKey === null ? 'none' : keyFingerprint(provedKey)
    return `${peer} proved node key ${proved}, not ${keyFingerprint(onRecord)} now on record`
  }

  dialed(peer: string, provedKey: string | null): void {
    this.provedOnDial.set(peer, provedKey)
  }

  dialedKeyOf(peer: string): string | null {
    return this.provedOnDial.get(peer) ?? null
  }

  /** Whether to dial a linked peer anyway: it has no key on record, and this node has not dialed it yet. */
  wantsDial(peer: string): boolean {
    return this.keyOf(peer) === undefined && !this.provedOnDial.has(peer)
  }

  forget(peer: string): void {
    this.lastOnRecord.delete(peer)
    this.provedOnDial.delete(peer)
  }
}
