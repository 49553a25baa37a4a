import type { Logger } from 'pino'
import { keyFingerprint } from '../peer/node-identity.js'
import type { MetaStateMachine } from '../meta/state-machine.js'
import type { ControlPlane } from './control-plane.js'

export interface KeyRecorderOptions {
  selfId: string
  selfKey: string
  /** The key a peer proved on a link this node dialed to the peer's URL (PeerNetwork.dialedKeyOf). */
  dialedKeyOf(id: string): string | null
  intervalMs: number
}

/**
 * Gives node keys to members that joined before there were any, so that a cluster upgraded in place ends with
 * every member's key on record without anyone rejoining. While this node leads, it proposes `set-member-key`
 * for its own entry and for each key-less member that proved a key on a link this node dialed. Until then such
 * a member is admitted by the cluster secret alone, as before node keys; once its key is recorded it is held to
 * it, and links that proved another key are cut (PeerNetwork.recheckKeys).
 */
export function recordMemberKeys(control: ControlPlane, meta: MetaStateMachine, options: KeyRecorderOptions, log: Logger): { close(): void } {
  let recording = false
  const recordOne = async (): Promise<void> => {
    if (recording || !control.isLeader()) return
    recording = true
    try {
      for (const member of meta.state.members.values()) {
        if (member.publicKey !== undefined) continue
        const publicKey = member.id === options.selfId ? options.selfKey : options.dialedKeyOf(member.id)
        if (publicKey === null) continue
        const outcome = await control.submit({ type: 'set-member-key', id: member.id, publicKey })
        log.info({ member: member.id, key: keyFingerprint(publicKey), outcome }, 'recorded the node key of a member that had none')
        return
      }
    } catch (err) {
      // A timer's promise: nobody else would hear of it. The next interval tries again.
      log.error({ err }, 'recording a member key failed')
    } finally {
      recording = false
    }
  }
  const timer = setInterval(() => void recordOne(), options.intervalMs)
  timer.unref()
  return { close: () => clearInterval(timer) }
}
