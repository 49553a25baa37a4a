import { isIPv6 } from 'node:net'

/** Where an inbound handshake comes from: a member's dial that showed a valid ticket, or else its address. */
export type HandshakeSource = { member: string } | { address: string }

export interface HandshakeSlotLimits {
  /** Anonymous handshakes pending at once, from all addresses. */
  maxPendingHandshakes: number
  maxPendingHandshakesPerAddress: number
}

/** A slot taken, perhaps from an older dial of the same member that is to be dropped; or why none was. */
export type SlotGrant<Holder> = { ok: true; replaces: Holder | null } | { ok: false; reason: string }

/**
 * The slots of inbound handshakes that have not authenticated yet. Each costs a slot until its hello comes or
 * its deadline passes, so an attacker re-opening silent sockets could otherwise keep every slot taken. Two pools:
 *
 * - Anonymous sockets: at most maxPendingHandshakesPerAddress from one address (an IPv6 address counts by its
 *   /64, which one host usually holds whole) and maxPendingHandshakes in all. Past either, the newcomer is
 *   refused before the upgrade.
 * - A member's dial with a valid ticket (see createTicket): one per member, outside those bounds. A newer one
 *   from the same member replaces the older, whose dialer has given up on it.
 *
 * Limits by address alone cannot let a member in past an attacker that shares its address — one NAT, one
 * TLS-terminating proxy, one host, or 127.0.0.1 in tests — and opens more sockets than the limit: refusing
 * newcomers favours whoever holds the slots, dropping the oldest favours whoever opens sockets fastest. The
 * ticket proves the secret before the upgrade, so a member never competes with anonymous sockets at all.
 * Anonymous dials remain for nodes of an earlier version, which send no ticket, and for a member whose clock
 * is off by more than ticketLifetimeMs.
 */
export class HandshakeSlots<Holder> {
  private readonly sources = new Map<Holder, HandshakeSource>()
  private readonly anonymousByAddress = new Map<string, number>()
  private anonymousCount = 0
  private readonly byMember = new Map<string, Holder>()

  constructor(private readonly limits: HandshakeSlotLimits) {}

  take(holder: Holder, source: HandshakeSource): SlotGrant<Holder> {
    if ('member' in source) {
      const replaces = this.byMember.get(source.member) ?? null
      if (replaces !== null) this.release(replaces)
      this.byMember.set(source.member, holder)
      this.sources.set(holder, source)
      return { ok: true, replaces }
    }
    const fromAddress = this.anonymousByAddress.get(source.address) ?? 0
    if (fromAddress >= this.limits.maxPendingHandshakesPerAddress) {
      return { ok: false, reason: 'too many peer handshakes pending from this address' }
    }
    if (this.anonymousCount >= this.limits.maxPendingHandshakes) return { ok: false, reason: 'too many peer handshakes pending' }
    this.anonymousByAddress.set(source.address, fromAddress + 1)
    this.anonymousCount++
    this.sources.set(holder, source)
    return { ok: true, replaces: null }
  }

  /** Frees the holder's slot; nothing if it holds none (any more). */
  release(holder: Holder): void {
    const source = this.sources.get(holder)
    if (!source) return
    this.sources.delete(holder)
    if ('member' in source) {
      this.byMember.delete(source.member)
      return
    }
    const fromAddress = this.anonymousByAddress.get(source.address)! - 1
    if (fromAddress === 0) this.anonymousByAddress.delete(source.address)
    else this.anonymousByAddress.set(source.address, fromAddress)
    this.anonymousCount--
  }
}

/** What the per-address limit counts by: an IPv4 address (also when mapped into IPv6), or an IPv6 /64. */
export function addressKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return ''
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress)
  if (mapped) return mapped[1]!
  if (!isIPv6(remoteAddress)) return remoteAddress
  return `${ipv6Groups(remoteAddress).slice(0, 4).join(':')}::/64`
}

/** The eight groups of an IPv6 address, in lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('%', 1)[0]!.split('::')
  const split = (part: string | undefined) => (part ? part.split(':') : [])
  const left = split(head)
  const right = split(tail)
  const zeros = tail === undefined ? [] : new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0')
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16).toString(16))
}
