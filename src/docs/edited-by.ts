/**
 * Who made an edit, as the origin given to DocStore.apply carries it: the subject (`sub`) of the client token
 * behind a session or a REST write; null without one. Edits from peers carry their own origin and no editor.
 */
export interface EditedBy {
  readonly editor: string | null
}

export const editedBy = (editor: string | null): EditedBy => ({ editor })

/** The editor an update's origin names, if it names one. */
export function editorOf(origin: unknown): string | null {
  if (typeof origin !== 'object' || origin === null || !('editor' in origin)) return null
  return typeof origin.editor === 'string' ? origin.editor : null
}
