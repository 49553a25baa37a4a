import type { Entry } from '../raft/types.js'
import { applyCommand } from './apply.js'
import { decodeMetaState, encodeMetaState } from './codec.js'
import { parseCommand, type CommandResult, type MetaCommand } from './commands.js'
import { emptyMetaState, type MetaState } from './state.js'

export type AppliedListener = (command: MetaCommand, result: CommandResult, entry: Entry) => void

/** The metadata as the Raft driver sees it: committed entries in, snapshots out and back. */
export class MetaStateMachine {
  state: MetaState = emptyMetaState()
  private readonly listeners: AppliedListener[] = []
  private readonly restoreListeners: (() => void)[] = []

  /** Called after each applied command, e.g. to drop a deleted document's data. */
  onApplied(listener: AppliedListener): void {
    this.listeners.push(listener)
  }

  /** Called after the state was replaced by a snapshot. */
  onRestored(listener: () => void): void {
    this.restoreListeners.push(listener)
  }

  apply(entry: Entry): CommandResult | null {
    if (entry.data === null) return null
    const parsed = parseCommand(entry.data)
    // Commands are validated before they are proposed; an invalid one in the log is refused alike everywhere.
    if (!parsed.ok) return { ok: false, code: 'invalid', message: parsed.message }
    const result = applyCommand(this.state, parsed.command, entry)
    for (const listener of this.listeners) listener(parsed.command, result, entry)
    return result
  }

  snapshot(): Uint8Array {
    return encodeMetaState(this.state)
  }

  restore(data: unknown): void {
    const decoded = decodeMetaState(data as Uint8Array)
    if (!decoded.ok) throw new Error(`metadata snapshot is unreadable: ${decoded.message}`)
    this.state = decoded.state
    for (const listener of this.restoreListeners) listener()
  }
}
