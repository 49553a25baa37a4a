/**
 * A file in the data directory that the node cannot use (an empty secret, a corrupt node key): the operator's to
 * fix, so the CLI says it in one line, without a stack trace.
 */
export class DataDirError extends Error {
  override name = 'DataDirError'
}
