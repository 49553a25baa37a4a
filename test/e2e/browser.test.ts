import { existsSync, mkdirSync } from 'node:fs'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startProxiedCluster, type ProxiedCluster } from '../helpers/proxied-cluster.js'
import * as Y from 'yjs'
import { WebhookReceiver } from '../helpers/webhook-receiver.js'
import { writeText } from '../helpers/rest-writes.js'
import { createDocsClient, type DocsClient } from '../../client/index.js'

const chromiumPath = '/usr/bin/chromium'
const haveChromium = existsSync(chromiumPath)
const artifacts = new URL('./artifacts/', import.meta.url).pathname
if (!haveChromium) console.warn(`SKIPPED: the browser end-to-end tests need Debian's chromium at ${chromiumPath} (.ci/run installs it)`)

let cluster: ProxiedCluster
let browser: Browser

async function openDemo(nodeId: string, doc: string, name: string, context?: BrowserContext): Promise<Page> {
  const page = await (context ?? (await browser.newContext())).newPage()
  await page.setViewportSize({ width: 390, height: 800 }) // a phone-sized screen
  await page.goto(`${cluster.node(nodeId).url}/?doc=${encodeURIComponent(doc)}&name=${name}`)
  await waitForState(page, 'synced')
  return page
}

/** What the demo exposes for these tests (client/web/demo.ts). */
interface DemoHook {
  syncmesh: { text(): string; status(): { state: string; endpoint: string } }
}
const textOf = (page: Page) => page.evaluate(() => (globalThis as unknown as DemoHook).syncmesh.text())
/** What the editor shows, without the other users' carets and names that y-codemirror.next draws into it. */
const editorText = (page: Page) =>
  page.locator('.cm-content').evaluate((content: any) => {
    const copy = content.cloneNode(true)
    for (const caret of copy.querySelectorAll('.cm-ySelectionCaret')) caret.remove()
    return copy.textContent as string
  })
const stateOf = (page: Page) => page.evaluate(() => (globalThis as unknown as DemoHook).syncmesh.status())

async function waitForState(page: Page, state: string, check: (endpoint: string) => boolean = () => true): Promise<void> {
  await expect.poll(async () => {
    const status = await stateOf(page)
    return status?.state === state && check(status.endpoint)
  }, { timeout: 20_000 }).toBe(true)
}

async function readText(nodeId: string, doc: string): Promise<string> {
  const res = await fetch(`${cluster.node(nodeId).url}/v1/docs/${encodeURIComponent(doc)}`)
  return res.status === 200 ? (((await res.json()) as { body?: string }).body ?? '') : ''
}

/** An edit through REST, as a client would make it: `change` runs on a copy of the document as the node holds it. */
async function editDoc(docs: DocsClient, name: string, change: (doc: Y.Doc) => void): Promise<void> {
  const doc = new Y.Doc()
  const stored = await docs.readUpdate(name).catch(() => null)
  if (stored) Y.applyUpdate(doc, stored)
  const before = Y.encodeStateVector(doc)
  change(doc)
  await docs.writeUpdate(name, Y.encodeStateAsUpdate(doc, before))
}

describe.skipIf(!haveChromium)('the browser demo, in Debian chromium driven by playwright-core', () => {
  beforeAll(async () => {
    // Webhook deliveries give up within about two seconds, so that the admin page shows a failed one.
    cluster = await startProxiedCluster({ antiEntropyMs: 500, extraArgs: ['--webhook-retry-hours', '0.0005', '--webhook-retry-base-ms', '100'] })
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true })
    mkdirSync(artifacts, { recursive: true })
  })

  afterAll(async () => {
    await browser?.close()
    await cluster?.close()
  })

  test('two pages on two nodes type into one document and converge, each showing the other cursor', async () => {
    const alice = await openDemo('n1', 'e2e/shared', 'alice')
    const bob = await openDemo('n2', 'e2e/shared', 'bob')
    // Each page syncs with the node it came from: the cursors cross between nodes.
    expect((await stateOf(alice)).endpoint).toBe(cluster.node('n1').url)
    expect((await stateOf(bob)).endpoint).toBe(cluster.node('n2').url)
    // y-codemirror.next shares a cursor while its editor has the focus, and draws the other users' carets.
    await alice.bringToFront()
    await alice.locator('.cm-content').click()
    await alice.keyboard.type('hello from alice. ')
    await bob.locator('.cm-ySelectionCaret').first().waitFor({ state: 'attached', timeout: 20_000 })
    // Alice's caret (awareness) can reach Bob before her text (made durable, then replicated): Bob types after it.
    await expect.poll(() => textOf(bob), { timeout: 20_000 }).toBe('hello from alice. ')
    await bob.bringToFront()
    await bob.locator('.cm-content').click()
    await bob.keyboard.press('End')
    await bob.keyboard.type('and from bob. ')
    await alice.locator('.cm-ySelectionCaret').first().waitFor({ state: 'attached', timeout: 20_000 })
    await expect.poll(async () => [await textOf(alice), await textOf(bob)], { timeout: 20_000 }).toEqual([
      'hello from alice. and from bob. ',
      'hello from alice. and from bob. ',
    ])
    await alice.screenshot({ path: `${artifacts}demo.png` })
  })

  test('a page that goes offline keeps its edits across a reload and merges them when back online', async () => {
    const context = await browser.newContext()
    const page = await openDemo('n1', 'e2e/offline', 'carol', context)
    await page.locator('.cm-content').click()
    await page.keyboard.type('online first. ')
    await expect.poll(() => readText('n1', 'e2e/offline'), { timeout: 20_000 }).toBe('online first. ')
    await context.setOffline(true)
    await waitForState(page, 'offline')
    await page.keyboard.type('typed offline. ')
    // y-indexeddb stores each update in a transaction of its own: let the last one commit before the page goes.
    await page.waitForTimeout(500)
    await page.close()
    await context.setOffline(false)
    const reloaded = await context.newPage()
    await reloaded.goto(`${cluster.node('n1').url}/?doc=e2e%2Foffline&name=carol`)
    await waitForState(reloaded, 'synced')
    // The kept copy loads from IndexedDB on its own schedule: it may come after the sync with the node.
    await expect.poll(() => textOf(reloaded), { timeout: 20_000 }).toBe('online first. typed offline. ')
    for (const id of ['n1', 'n2', 'n3']) {
      await expect.poll(() => readText(id, 'e2e/offline'), { timeout: 20_000 }).toBe('online first. typed offline. ')
    }
  })

  test('when the node a page is connected to is killed, it fails over and no keystroke is lost', async () => {
    const page = await openDemo('n3', 'e2e/failover', 'dave')
    const first = (await stateOf(page)).endpoint
    const victim = cluster.nodes.find((n) => n.url === first)!.id
    await page.locator('.cm-content').click()
    await page.keyboard.type('before ')
    await cluster.stop(victim)
    await page.keyboard.type('during ')
    await waitForState(page, 'synced', (endpoint) => endpoint !== first)
    await page.keyboard.type('after')
    const expected = 'before during after'
    expect(await textOf(page)).toBe(expected)
    const survivor = ['n1', 'n2', 'n3'].find((id) => id !== victim)!
    await expect.poll(() => readText(survivor, 'e2e/failover'), { timeout: 20_000 }).toBe(expected)
    await cluster.restart(victim)
  })

  test('the history sidebar saves a version, previews it with what changed since, and restores it into both editors', async () => {
    const erin = await openDemo('n1', 'e2e/history', 'erin')
    const frank = await openDemo('n2', 'e2e/history', 'frank')
    await erin.bringToFront()
    await erin.locator('.cm-content').click()
    await erin.keyboard.type('the first draft')
    // Saved straight after the keystrokes: the version waits until the node holds them all.
    await erin.fill('#version-label', 'first draft')
    await erin.click('#save-version button')
    await expect.poll(() => erin.locator('#history-status').textContent(), { timeout: 20_000 }).toBe('Saved “first draft”.')
    const saved = erin.locator('#versions button', { hasText: 'first draft' })
    await expect.poll(() => saved.count(), { timeout: 20_000 }).toBe(1)

    await erin.locator('.cm-content').click()
    await erin.keyboard.press('ControlOrMeta+a')
    await erin.keyboard.type('rewritten entirely')
    await expect.poll(() => textOf(frank), { timeout: 20_000 }).toBe('rewritten entirely')
    await expect.poll(() => readText('n1', 'e2e/history'), { timeout: 20_000 }).toBe('rewritten entirely')

    await saved.click()
    await expect.poll(() => erin.locator('#version-content').textContent(), { timeout: 20_000 }).toBe('the first draft')
    expect(await erin.locator('#version-changes li').allTextContents()).toEqual(['body: added "rewritten entirely"', 'body: removed "the first draft"'])
    await erin.screenshot({ path: `${artifacts}demo-history-preview.png`, fullPage: true })

    await erin.click('#restore-version')
    await expect.poll(() => erin.locator('#history-status').textContent(), { timeout: 20_000 }).toBe(
      'Restored “first draft”; the state before is kept as “Before restoring "first draft"”.',
    )
    // The editors show it, the restoring page's and the live page's on the other node.
    expect(await editorText(erin)).toBe('the first draft')
    await expect.poll(() => editorText(frank), { timeout: 20_000 }).toBe('the first draft')
    expect(await textOf(frank)).toBe('the first draft')
    await expect.poll(() => erin.locator('#versions button').allTextContents(), { timeout: 20_000 }).toContain('Before restoring "first draft"')
    await erin.screenshot({ path: `${artifacts}demo-history.png`, fullPage: true })
  })

  test('the admin page shows members, leader, term, peers and documents', async () => {
    const page = await (await browser.newContext()).newPage()
    await page.setViewportSize({ width: 390, height: 900 })
    await page.goto(`${cluster.node('n1').url}/admin`)
    await page.fill('#admin-token', cluster.adminToken)
    await page.click('button')
    await expect.poll(() => page.locator('#summary').textContent(), { timeout: 20_000 }).toMatch(/leader n\d · term \d+/)
    await expect.poll(() => page.locator('#members tr').count(), { timeout: 20_000 }).toBe(3)
    await expect.poll(() => page.locator('#peers tr').count(), { timeout: 20_000 }).toBe(2)
    await expect.poll(() => page.locator('#docs').textContent(), { timeout: 20_000 }).toContain('e2e/shared')
    // Four live charts of the node's metrics, drawn from /metrics scrapes.
    await expect.poll(() => page.locator('#charts [data-chart] canvas').count(), { timeout: 20_000 }).toBe(4)
    await expect.poll(() => page.locator('#charts .u-title').allTextContents(), { timeout: 20_000 }).toContain('updates applied / s')
    await page.screenshot({ path: `${artifacts}admin.png`, fullPage: true })
  })

  test('/docs renders the OpenAPI reference, every route of it, from the node alone', async () => {
    const document = (await (await fetch(`${cluster.node('n1').url}/v1/openapi.json`)).json()) as { paths: Record<string, object> }
    const operations = Object.values(document.paths).reduce((count, methods) => count + Object.keys(methods).length, 0)
    const page = await (await browser.newContext()).newPage()
    const outside: string[] = []
    page.on('request', (request) => void (new URL(request.url()).host !== new URL(cluster.node('n1').url).host && outside.push(request.url())))
    await page.goto(`${cluster.node('n1').url}/docs`)
    await expect.poll(() => page.locator('.opblock').count(), { timeout: 20_000 }).toBe(operations)
    await expect.poll(() => page.locator('.opblock-summary-path').allTextContents(), { timeout: 20_000 }).toContain('/v1/webhooks/{id}/deliveries')
    expect(outside).toEqual([])
  })

  test('the admin page acts: namespaces, documents, webhooks and leadership change in the cluster, and a refusal is shown', async () => {
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${cluster.node('n2').url}${path}`, { ...init, headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'application/json', ...init.headers } })
    expect(await writeText(cluster.node('n1').url, 'e2e/doomed', 'to be deleted from the admin page')).toBe(204)

    const page = await (await browser.newContext()).newPage()
    await page.setViewportSize({ width: 390, height: 900 })
    await page.goto(`${cluster.node('n1').url}/admin`)
    await page.fill('#admin-token', cluster.adminToken)
    await page.click('#login button')
    await expect.poll(() => page.locator('#members tr').count(), { timeout: 20_000 }).toBe(3)

    await page.fill('#ns-name', 'e2e-ns')
    await page.fill('#ns-roots', 'body:text')
    await page.fill('#ns-max-doc', '100000')
    await page.click('#put-namespace button')
    await expect.poll(async () => ((await (await api('/v1/namespaces')).json()) as { namespaces: { name: string }[] }).namespaces.map((n) => n.name), { timeout: 20_000 }).toContain('e2e-ns')
    await expect.poll(() => page.locator('#namespaces').textContent(), { timeout: 20_000 }).toContain('doc ≤ 100000 B')

    const docRow = page.locator('#docs tr', { hasText: 'e2e/doomed' })
    await expect.poll(() => docRow.count(), { timeout: 20_000 }).toBe(1)
    await docRow.locator('button[data-action="view"]').click()
    await expect.poll(() => page.locator('#doc-json').textContent(), { timeout: 20_000 }).toContain('to be deleted from the admin page')
    // A destructive action asks first; dismissed, nothing happens.
    page.once('dialog', (dialog) => void dialog.dismiss())
    await docRow.locator('button[data-action="delete"]').click()
    expect((await fetch(`${cluster.node('n3').url}/v1/docs/e2e%2Fdoomed`)).status).toBe(200)
    page.once('dialog', (dialog) => void dialog.accept())
    await docRow.locator('button[data-action="delete"]').click()
    await expect.poll(async () => (await fetch(`${cluster.node('n3').url}/v1/docs/e2e%2Fdoomed`)).status, { timeout: 20_000 }).toBe(410)

    const receiver = await WebhookReceiver.start()
    receiver.answer = () => 500
    try {
      await page.fill('#hook-url', receiver.url)
      await page.click('#add-webhook button')
      await expect.poll(() => page.locator('#hook-secret').textContent(), { timeout: 20_000 }).toMatch(/wh_[a-z0-9]{20}: signing secret whsec_/)
      await expect.poll(() => page.locator('#webhooks').textContent(), { timeout: 20_000 }).toContain(receiver.url)
      expect(await writeText(cluster.node('n2').url, 'e2e/hooked', 'sent to a failing receiver')).toBe(204)
      // The receiver keeps answering 500: the delivery is given up on, and the page lists it (beside those of the
      // changes other tests made within the minute before the registration, which the webhook is sent too).
      await expect.poll(() => page.locator('#failed-deliveries').textContent(), { timeout: 20_000 }).toMatch(/e2e\/hookedupdated\d+answered 500/)
      await page.locator('#webhooks tr').first().locator('button[data-action="deliveries"]').click()
      await expect.poll(() => page.locator('#deliveries-json').textContent(), { timeout: 20_000 }).toContain('"status": "failed"')
    } finally {
      await receiver.close()
    }

    // The server's refusal is what the page shows.
    await page.fill('#member-id', 'n1')
    await page.fill('#member-url', 'http://127.0.0.1:9')
    await page.click('#add-member button')
    await expect.poll(() => page.locator('#error').textContent(), { timeout: 20_000 }).toContain('refused: 409 conflict')

    const leader = await cluster.waitForLeader(['n1', 'n2', 'n3'])
    const next = ['n1', 'n2', 'n3'].find((id) => id !== leader)!
    await page.locator('#members tr', { hasText: next }).locator('button[data-action="lead"]').click()
    // The click returns at once; the transfer is done when the page's request is answered.
    await expect.poll(() => cluster.waitForLeader(['n1', 'n2', 'n3']), { timeout: 20_000 }).toBe(next)
    await expect.poll(() => page.locator('#summary').textContent(), { timeout: 20_000 }).toContain(`leader ${next}`)
    await page.screenshot({ path: `${artifacts}admin-actions.png`, fullPage: true })
  })

  test("the admin page lists a document's versions, previews one and restores it on every node and in a live editor", async () => {
    const name = 'e2e/admin-history'
    // Written and versioned on n2; the admin page is n1's: histories replicate like documents.
    const docs = createDocsClient({ url: cluster.node('n2').url, token: cluster.adminToken })
    await editDoc(docs, name, (doc) => {
      doc.getText('body').insert(0, 'as it was on Monday')
      doc.getMap('meta').set('title', 'Monday')
    })
    await docs.saveVersion(name, 'monday')
    await editDoc(docs, name, (doc) => {
      doc.getText('body').delete(0, 'as it was on Monday'.length)
      doc.getText('body').insert(0, 'as it is now')
      doc.getMap('meta').set('title', 'Now')
    })
    for (const id of ['n1', 'n3']) await expect.poll(() => readText(id, name), { timeout: 20_000 }).toBe('as it is now')
    const live = await openDemo('n3', name, 'grace')
    expect(await textOf(live)).toBe('as it is now')

    const page = await (await browser.newContext()).newPage()
    await page.setViewportSize({ width: 390, height: 900 })
    await page.goto(`${cluster.node('n1').url}/admin`)
    await page.fill('#admin-token', cluster.adminToken)
    await page.click('#login button')
    const docRow = page.locator('#docs tr', { hasText: name })
    await expect.poll(() => docRow.count(), { timeout: 20_000 }).toBe(1)
    await docRow.locator('button[data-action="history"]').click()
    await expect.poll(() => page.locator('#history-title').textContent(), { timeout: 20_000 }).toBe(`History of ${name}`)
    const monday = page.locator('#versions button', { hasText: 'monday' })
    await expect.poll(() => monday.count(), { timeout: 20_000 }).toBe(1)

    await monday.click()
    await expect.poll(async () => JSON.parse((await page.locator('#version-content').textContent()) || 'null'), { timeout: 20_000 }).toEqual({
      body: 'as it was on Monday',
      meta: { title: 'Monday' },
    })
    expect(await page.locator('#version-changes li').allTextContents()).toEqual(
      expect.arrayContaining(['body: added "is now"', 'body: removed "was on Monday"', 'meta.title: "Monday" → "Now"']),
    )

    await page.click('#restore-version')
    await expect.poll(() => page.locator('#history-status').textContent(), { timeout: 20_000 }).toMatch(/^Restored “monday”/)
    for (const id of ['n1', 'n2', 'n3']) await expect.poll(() => readText(id, name), { timeout: 20_000 }).toBe('as it was on Monday')
    await expect.poll(() => textOf(live), { timeout: 20_000 }).toBe('as it was on Monday')
    await expect.poll(() => page.locator('#versions button').allTextContents(), { timeout: 20_000 }).toContain('Before restoring "monday"')
    await page.locator('#doc-history').screenshot({ path: `${artifacts}admin-history.png` })
  })
})
