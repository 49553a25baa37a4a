import { join } from 'node:path'
import { z } from 'zod'
import { memberIdSchema, memberUrlSchema, publicKeySchema } from '../meta/commands.js'
import { DataDirError } from './data-dir-error.js'
import { readIfPresent, writeAtomically } from './secrets.js'

const joinAnswerFile = 'join-answer.json'

const joinedMemberSchema = z.object({ id: memberIdSchema, url: memberUrlSchema, publicKey: publicKeySchema.optional() })
export type JoinedMember = z.infer<typeof joinedMemberSchema>

/**
 * The members, and their node keys, that the cluster named when this node joined, kept in the data directory.
 * A node catching up replays metadata older than its join, which may not name today's members (the leader
 * among them); until its metadata names this node, these are the peers it links with and checks the keys of.
 * Kept in a file because a node killed while it catches up must still reach the leader when it starts again.
 */
export function saveJoinAnswer(dataDir: string, members: readonly JoinedMember[]): void {
  writeAtomically(dataDir, join(dataDir, joinAnswerFile), JSON.stringify(members) + '\n')
}

export function loadJoinAnswer(dataDir: string): JoinedMember[] {
  const path = join(dataDir, joinAnswerFile)
  const stored = readIfPresent(path)
  if (stored === undefined) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(stored)
  } catch {
    parsed = undefined
  }
  const members = z.array(joinedMemberSchema).safeParse(parsed)
  if (!members.success) throw new DataDirError(`${path} does not hold the members of a join answer; delete it and start the node with --join again`)
  return members.data
}
