import * as Y from 'yjs'
import { createDocsClient, type DocsClient, type RestoreResult, type RootKind, type Version, type VersionDiff } from './docs-client.js'
import { endpointApi, type TokenSource } from './node-api.js'

/** The version history of an open document, on the node it syncs with. */
export interface DocVersions {
  /** Its versions, newest first. */
  versions(): Promise<Version[]>
  /** Saves a named version, once the node holds every change this copy held when called (so it waits while offline). */
  saveVersion(label: string): Promise<Version>
  /** A version as JSON, to preview it. `types`, here and below: root kinds where inference is not wanted, as for DocsClient.readJson. */
  version(id: string, types?: Record<string, RootKind>): Promise<Record<string, unknown>>
  /** What changed from version `from` to version `to`, or to the document as the node holds it now (default). */
  diff(from: string, to?: string | 'current', types?: Record<string, RootKind>): Promise<VersionDiff>
  /**
   * Makes the document show version `id` again, over every change this copy held when called; resolves once
   * this copy shows it. Every other client receives the restore as an ordinary update; the state before it is
   * kept as an automatic version (`before`), so restoring that undoes the restore.
   */
  restore(id: string, types?: Record<string, RootKind>): Promise<RestoreResult>
}

export interface DocVersionsOptions {
  name: string
  doc: Y.Doc
  /** The node's base URL to ask: the one the document is connected to (or last tried). */
  endpoint(): string
  token: TokenSource | undefined
  /** Resolves once that node has every change the copy holds. */
  whenDurable(): Promise<void>
  /** The origin of updates the client applies itself, which its provider does not send back to the node. */
  origin: unknown
}

/** A document's history calls, made over REST to the node the document syncs with, with the client's token. */
export function docVersions(options: DocVersionsOptions): DocVersions {
  const { name, doc } = options
  const docs = (): DocsClient => createDocsClient(endpointApi(options.endpoint(), options.token))
  return {
    versions: () => docs().versions(name),
    async saveVersion(label) {
      await options.whenDurable()
      return docs().saveVersion(name, label)
    },
    version: (id, types) => docs().readVersion(name, id, types),
    diff: (from, to = 'current', types) => docs().diffVersions(name, from, to, types),
    async restore(id, types) {
      await options.whenDurable()
      const api = docs()
      const result = await api.restoreVersion(name, id, types)
      // The node sends the restore down the socket too, but maybe after this answer: reading what this copy
      // lacks from the same node (which applied the restore before answering) makes it show it now.
      Y.applyUpdate(doc, await api.readUpdate(name, Y.encodeStateVector(doc)), options.origin)
      return result
    },
  }
}
