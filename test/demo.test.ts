import t from 'tap'
import { chromium, type Browser, type Page } from 'playwright-core'
import { buildDemo } from '../scripts/build-demo.js'
import { api, startServer } from './helpers.js'
import { chromiumPath } from './services.js'

// The demo page in Debian's Chromium, alice and bob in two browser contexts: a live exchange,
// bob offline then back, read marks reaching alice. Controls are found by their labels.

const executablePath = chromiumPath()
if (executablePath !== undefined) {
  let browser: Browser
  t.before(async () => {
    await buildDemo()
    browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  })
  t.teardown(async () => { await browser.close() })

  async function signIn (url: string, user: string, button: 'Sign up' | 'Log in'): Promise<Page> {
    const page = await (await browser.newContext()).newPage()
    await page.goto(url)
    await page.getByLabel('User id').fill(user)
    await page.getByLabel('Password').fill(`${user}-password-long`)
    await page.getByRole('button', { name: button }).click()
    await page.getByRole('button', { name: 'Send' }).waitFor()
    return page
  }

  async function send (page: Page, to: string, text: string): Promise<void> {
    await page.getByLabel('To', { exact: true }).fill(to)
    await page.getByLabel('Message', { exact: true }).fill(text)
    await page.getByRole('button', { name: 'Send' }).click()
  }

  const messages = (page: Page): Promise<string[]> => page.getByRole('list', { name: 'Messages' }).locator('li').evaluateAll((items) => items.map((li) => li.firstChild?.textContent ?? ''))

  t.test('two people chat in the demo: live, offline and back, read marks', async (t) => {
    const server = await startServer(t)
    const alice = await signIn(server.url, 'alice', 'Sign up')
    const bob = await signIn(server.url, 'bob', 'Sign up')

    // Live: alice writes to bob, who has no conversation open: an unread count of 1.
    await send(alice, 'bob', 'hello bob')
    const conversations = bob.getByRole('list', { name: 'Conversations' })
    await conversations.getByText('alice').waitFor()
    await conversations.getByLabel('1 unread').waitFor()
    await conversations.getByRole('button', { name: /alice/ }).click()
    await bob.getByRole('list', { name: 'Messages' }).getByText('hello bob').waitFor()
    t.same(await messages(bob), ['hello bob'])

    // Bob read it: alice's message gets its read mark.
    await alice.locator('#messages li.mine .mark', { hasText: 'read' }).waitFor()
    t.pass('the read mark reached alice')

    // Presence dots and the typing indicator.
    await alice.getByRole('list', { name: 'Conversations' }).getByLabel('online').waitFor()
    t.pass('alice sees bob online')
    await bob.getByLabel('Message', { exact: true }).pressSequentially('hi')
    await alice.getByText('bob is typing…').waitFor()
    t.pass('alice sees bob typing')
    await bob.getByLabel('Message', { exact: true }).fill('')

    // Bob answers; alice, with the conversation open, sees it live.
    await send(bob, 'alice', 'hi alice')
    await alice.getByRole('list', { name: 'Messages' }).getByText('hi alice').waitFor()
    t.same(await messages(alice), ['hello bob', 'hi alice'])

    // Bob goes offline; alice writes twice; bob comes back: both appear, unread 2.
    await bob.context().close()
    await alice.getByRole('list', { name: 'Conversations' }).getByLabel('offline').waitFor()
    t.pass('bob gone: his dot goes grey')
    await send(alice, 'bob', 'are you there?')
    await send(alice, 'bob', 'second while away')
    await alice.locator('#messages li.mine', { hasText: 'second while away' }).waitFor()
    const stored = await api(server, 'POST', '/v1/auth/login', { body: { id: 'bob', password: 'bob-password-long' } })
    t.equal(stored.status, 200)
    const back = await signIn(server.url, 'bob', 'Log in')
    const list = back.getByRole('list', { name: 'Conversations' })
    await list.getByLabel('2 unread').waitFor()
    await list.getByRole('button', { name: /alice/ }).click()
    await back.getByRole('list', { name: 'Messages' }).getByText('second while away').waitFor()
    t.same(await messages(back), ['hello bob', 'hi alice', 'are you there?', 'second while away'])
    await alice.locator('#messages li.mine', { hasText: 'second while away' }).locator('.mark', { hasText: 'read' }).waitFor()
    t.pass('read marks reach alice after bob comes back')
    // Closed before the server: a page left open reconnects while the server closes, which held its close for minutes once.
    await Promise.all([alice.context().close(), back.context().close()])
  })

  t.test('history is paged on scroll: the oldest messages load when the list is scrolled to the top', async (t) => {
    const server = await startServer(t)
    const carol = await signIn(server.url, 'carol', 'Sign up')
    const dave = await signIn(server.url, 'dave', 'Sign up')
    const login = await api(server, 'POST', '/v1/auth/login', { body: { id: 'dave', password: 'dave-password-long' } })
    for (let i = 1; i <= 70; i++) await api(server, 'POST', '/v1/messages', { token: login.body.accessToken, body: { to: 'carol', content: `old ${i}` } })
    await dave.close()
    const list = carol.getByRole('list', { name: 'Conversations' })
    await list.getByLabel('70 unread').waitFor()
    await list.getByRole('button', { name: /dave/ }).click()
    await carol.getByRole('list', { name: 'Messages' }).getByText('old 70', { exact: true }).waitFor()
    t.equal((await messages(carol)).length, 50, 'the newest page first')
    await carol.getByRole('list', { name: 'Messages' }).evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')) })
    await carol.getByRole('list', { name: 'Messages' }).getByText('old 1', { exact: true }).waitFor()
    const all = await messages(carol)
    t.same(all, Array.from({ length: 70 }, (_, i) => `old ${i + 1}`), 'then the older page, above it, in order')
    await carol.context().close()
  })

  t.test('the demo is off with DUOLOG_DEMO=false, and in production unless asked for', async (t) => {
    const off = await startServer(t, { DUOLOG_DEMO: 'false' })
    t.equal((await api(off, 'GET', '/')).status, 404)
    const on = await startServer(t)
    const page = await api(on, 'GET', '/')
    t.equal(page.status, 200)
    t.match(page.body, /<label>User id/)
    t.equal((await api(on, 'GET', '/demo/app.js')).status, 200)
  })
}
