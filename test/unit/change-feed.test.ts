import * as Y from 'yjs'
import { afterEach, describe, expect, test } from 'vitest'
import { ChangeFeed, type ChangePage } from '../../src/changes/change-feed.js'
import { ChangeRecorder, defaultChangeRecorderOptions, type ChangeRecorderOptions } from '../../src/changes/change-recorder.js'
import { DocAccessControl } from '../../src/auth/doc-access.js'
import { changeRoutes } from '../../src/http/change-routes.js'
import { openStore, silentLog } from '../helpers/store.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterEach(removeTempDirs)

function textUpdate(text: string, clientID = 1): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = clientID
  doc.getText('body').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

/** A store with a recorder and a feed on it; events are recorded when the test calls `recorder.flush()`. */
function openFeed(dir: string, options: Partial<ChangeRecorderOptions> = {}) {
  const store = openStore(dir)
  const recorder = new ChangeRecorder(store.docs, store.storage.changes, silentLog, { ...defaultChangeRecorderOptions, quietMs: 60_000, maxDelayMs: 60_000, ...options })
  const feed = new ChangeFeed(recorder, 10)
  const close = async () => {
    feed.close()
    await recorder.close()
    await store.close()
  }
  return { ...store, recorder, feed, close }
}

const everything = () => true

function changesOf(page: ChangePage) {
  if (!page.ok) throw new Error(`not a page: ${page.reason}`)
  return page.changes
}

describe('change feed on LMDB', () => {
  test('a write whose event was not recorded before the process stopped gets it on the next start', async () => {
    const dir = tempDir()
    const first = openStore(dir)
    expect(await first.docs.apply('left/behind', textUpdate('durable'), 'test')).toEqual({ ok: true })
    await first.close()

    const { recorder, feed, close } = openFeed(dir)
    await recorder.flush()
    const changes = changesOf(feed.page(undefined, everything, 100))
    expect(changes.map((c) => [c.type, c.name])).toEqual([['updated', 'left/behind']])
    expect(changes[0]!.stateVector).not.toBeNull()
    await close()
  })

  test('a burst of updates to one document is one event, and a later update is another; cursors resume exactly', async () => {
    const { docs, recorder, feed, close } = openFeed(tempDir())
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    for (let i = 0; i < 20; i++) doc.getText('body').insert(i, 'x')
    await Promise.all(updates.map((u) => docs.apply('burst', u, 'test')))
    await recorder.flush()
    const first = changesOf(feed.page(undefined, everything, 100))
    expect(first).toHaveLength(1)
    expect(first[0]!.stateVector).toBe(Buffer.from(Y.encodeStateVector(doc)).toString('base64'))

    doc.getText('body').insert(0, 'y')
    await docs.apply('burst', updates.at(-1)!, 'test')
    await recorder.flush()
    const after = changesOf(feed.page(first[0]!.cursor, everything, 100))
    expect(after).toHaveLength(1)
    expect(after[0]!.stateVector).toBe(Buffer.from(Y.encodeStateVector(doc)).toString('base64'))
    expect(changesOf(feed.page(after[0]!.cursor, everything, 100))).toEqual([])
    await close()
  })

  test('an event recorded while a commit is in storage but not yet in the open document waits for that commit', async () => {
    const { docs, recorder, feed, close } = openFeed(tempDir())
    const handle = docs.open('open/doc')
    const writer = new Y.Doc()
    const updates: Uint8Array[] = []
    writer.on('update', (u: Uint8Array) => updates.push(u))
    for (const text of ['one ', 'two ']) writer.getText('body').insert(writer.getText('body').length, text)
    // The first update's commit makes the document due for an event.
    await docs.apply('open/doc', updates[0]!, 'test')
    const before = docs.meta('open/doc')!.nextSeq
    const next = docs.apply('open/doc', updates[1]!, 'test')
    // The next commit is in storage (its meta is), not yet flushed and so not yet applied to the open document.
    while (docs.meta('open/doc')!.nextSeq === before) await new Promise((resolve) => setImmediate(resolve))
    const recording = recorder.flush()
    await next
    await recording
    await recorder.flush()
    const changes = changesOf(feed.page(undefined, everything, 100))
    expect(Y.encodeStateVector(handle.doc)).toEqual(Y.encodeStateVector(writer))
    expect(changes.at(-1)!.stateVector).toBe(Buffer.from(Y.encodeStateVector(writer)).toString('base64'))
    handle.release()
    await close()
  })

  test('a deletion is an event; a filter hides documents but the cursor moves past them', async () => {
    const { docs, recorder, feed, close } = openFeed(tempDir())
    await docs.apply('team/a', textUpdate('a'), 'test')
    await docs.apply('other/b', textUpdate('b'), 'test')
    await recorder.flush()
    await docs.delete('team/a')
    await recorder.flush()
    const page = feed.page(undefined, (name) => name.startsWith('team/'), 100)
    expect(changesOf(page).map((c) => [c.type, c.name, c.stateVector === null])).toEqual([
      ['updated', 'team/a', false],
      ['deleted', 'team/a', true],
    ])
    expect(changesOf(feed.page(page.ok ? page.nextCursor : '', everything, 100))).toEqual([])
    await close()
  })

  test('events past the retention are removed; an older cursor is expired, and oldestCursor reads what is kept', async () => {
    const { docs, recorder, feed, close } = openFeed(tempDir(), { maxEvents: 3 })
    await docs.apply('doc/0', textUpdate('0'), 'test')
    await recorder.flush()
    const firstCursor = changesOf(feed.page(undefined, everything, 100))[0]!.cursor
    for (let i = 1; i < 6; i++) {
      await docs.apply(`doc/${i}`, textUpdate(String(i)), 'test')
      await recorder.flush()
    }
    const expired = feed.page(firstCursor, everything, 100)
    expect(expired).toMatchObject({ ok: false, reason: 'expired' })
    const resumed = changesOf(feed.page(expired.ok || expired.reason === 'invalid' ? '' : expired.oldestCursor, everything, 100))
    expect(resumed.map((c) => c.name)).toEqual(['doc/3', 'doc/4', 'doc/5'])
    await close()
  })

  test('waiting consumers are bounded; a released place is free again, and closing the feed wakes every sleeper', async () => {
    const { feed, close } = openFeed(tempDir())
    const places = Array.from({ length: 10 }, () => feed.admit())
    expect(places.every((release) => release !== null)).toBe(true)
    expect(feed.admit()).toBeNull()
    places[0]!()
    places[0]!()
    expect(feed.consumerCount).toBe(9)
    expect(feed.admit()).not.toBeNull()
    const sleeping = feed.sleep(60_000)
    feed.close()
    await sleeping
    expect(feed.admit()).toBeNull()
    await close()
  })

  test('a long poll whose caller went away ends, instead of reading the feed again and again until its deadline', async () => {
    const { feed, close } = openFeed(tempDir())
    const app = changeRoutes(feed, { access: new DocAccessControl(null, () => false, () => false), keepaliveMs: 15_000 })
    let pages = 0
    const page = feed.page.bind(feed)
    feed.page = (...args) => {
      pages++
      return page(...args)
    }
    const caller = new AbortController()
    const answer = app.request('/?wait=60s', { signal: caller.signal })
    setTimeout(() => caller.abort(), 20)
    expect((await answer).status).toBe(200)
    expect(pages).toBeLessThanOrEqual(2)
    expect(feed.consumerCount).toBe(0)
    await close()
  })

  test("another log's cursor is unknown, a malformed one invalid", async () => {
    const { feed, close } = openFeed(tempDir())
    expect(feed.page('00000000-1', everything, 10)).toMatchObject({ ok: false, reason: 'unknown' })
    expect(feed.page('not a cursor', everything, 10)).toEqual({ ok: false, reason: 'invalid' })
    await close()
  })
})
