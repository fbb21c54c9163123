import t from 'tap'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startServer, users } from './helpers.js'
import { chromiumPath } from './services.js'

/*
 * A real browser's WebSocket: it cannot set an Authorization header, so it authenticates
 * with its first frame, as docs/protocol.md tells browser clients to.
 */
const executablePath = chromiumPath()
if (executablePath !== undefined) {
  let browser: Browser
  t.before(async () => {
    browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
    })
  })
  t.teardown(async () => { await browser.close() })

  /** Opens a WebSocket in a fresh page; its frames are kept in `received`, its close in `closedWith`. */
  async function open (url: string): Promise<Page> {
    const page = await browser.newPage()
    await page.evaluate(async (url) => {
      const w = globalThis as any
      w.received = []
      w.closedWith = null
      w.ws = new WebSocket(url)
      w.ws.onmessage = (event: { data: string }) => { w.received.push(JSON.parse(event.data)) }
      w.ws.onclose = (event: { code: number, reason: string }) => { w.closedWith = { code: event.code, reason: event.reason } }
      await new Promise((resolve) => { w.ws.onopen = resolve; w.ws.onerror = resolve })
    }, url)
    return page
  }

  const send = async (page: Page, frame: unknown): Promise<void> => {
    await page.evaluate((text) => { (globalThis as any).ws.send(text) }, JSON.stringify(frame))
  }

  /** Waits in the page for a frame of that type and returns it. */
  async function next (page: Page, type: string): Promise<any> {
    const handle = await page.waitForFunction((type) => {
      const w = globalThis as any
      const index = w.received.findIndex((f: any) => f.type === type)
      return index < 0 ? undefined : w.received.splice(index, 1)[0]
    }, type, { timeout: 5000 })
    return await handle.jsonValue()
  }

  t.test('a browser authenticates with its first frame, sends, and receives live', async (t) => {
    const server = await startServer(t)
    const [alice, bob] = await users(server, 'alice', 'bob')
    const a = await open(server.wsUrl)
    const b = await open(server.wsUrl)
    t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
    await send(a, { type: 'auth', token: alice })
    await send(b, { type: 'auth', token: bob })
    t.match(await next(a, 'ready'), { userId: 'alice' })
    t.match(await next(b, 'ready'), { userId: 'bob' })

    await send(a, { type: 'send', to: 'bob', content: 'hello from a browser', clientMsgId: 'b1' })
    t.match(await next(a, 'sent'), { seq: 1, clientMsgId: 'b1' })
    t.match(await next(b, 'message'), { from: 'alice', content: 'hello from a browser', seq: 1 })
  })

  t.test('a browser with a bad token is closed 4500 auth_failed; one that sends nothing, 4008 auth_timeout', async (t) => {
    const server = await startServer(t, { DUOLOG_WS_AUTH_TIMEOUT_MS: '2000' })
    const bad = await open(server.wsUrl)
    await send(bad, { type: 'auth', token: 'not-a-token' })
    const silent = await open(server.wsUrl)
    t.teardown(async () => { await Promise.all([bad.close(), silent.close()]) })
    const closedBad = await (await bad.waitForFunction(() => (globalThis as any).closedWith, undefined, { timeout: 5000 })).jsonValue()
    t.same(closedBad, { code: 4500, reason: 'auth_failed' })
    const closedSilent = await (await silent.waitForFunction(() => (globalThis as any).closedWith, undefined, { timeout: 5000 })).jsonValue()
    t.same(closedSilent, { code: 4008, reason: 'auth_timeout' })
  })
}
