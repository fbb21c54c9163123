// The demo chat page served at / (DUOLOG_DEMO): everything goes through duolog-client.
import { DuologClient, LocalStorage } from '../client/src/index.js'
import type { Conversation, Message, MessageFrame, SessionToken } from '../client/src/protocol.js'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const loginForm = $<HTMLFormElement>('login')
const chat = $<HTMLDivElement>('chat')
const toInput = $<HTMLInputElement>('to')
const messageInput = $<HTMLInputElement>('message')
const list = $<HTMLUListElement>('conversations')
const messagesList = $<HTMLOListElement>('messages')
const typingLine = $<HTMLParagraphElement>('typing')

let client: DuologClient
let me = ''
let peer = ''
let session: SessionToken | undefined
let sessionExpiresAt = 0
let oldest: number | null = null
let conversations: Conversation[] = []
const online = new Map<string, boolean>()
/** How far the open conversation's peer has received and read my messages (message ids). */
const marks = { delivered: 0, read: 0 }

async function post<T> (path: string, body: unknown): Promise<T> {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const parsed = await res.json() as T & { error?: { message: string } }
  if (!res.ok) throw new Error(parsed.error?.message ?? `HTTP ${res.status}`)
  return parsed
}

/** A current access token: refreshed (single-use refresh token) a minute before it expires. */
async function token (): Promise<string> {
  if (session === undefined) throw new Error('not logged in')
  if (Date.now() > sessionExpiresAt - 60_000) await keep(await post<SessionToken>('/v1/auth/refresh', { refreshToken: session.refreshToken }))
  return session.accessToken
}

async function keep (fresh: SessionToken): Promise<void> {
  session = fresh
  sessionExpiresAt = Date.now() + fresh.expiresIn * 1000
}

loginForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const signingUp = (event as SubmitEvent).submitter?.id === 'signup'
  const id = $<HTMLInputElement>('user').value.trim()
  const password = $<HTMLInputElement>('password').value
  void (async () => {
    try {
      if (signingUp) await post('/v1/users', { id, password })
      await keep(await post<SessionToken>('/v1/auth/login', { id, password }))
      await start(id)
    } catch (err) {
      $('loginError').textContent = (err as Error).message
    }
  })()
})

async function start (id: string): Promise<void> {
  me = id
  client = new DuologClient({ url: location.origin, token, storage: new LocalStorage(`duolog-demo:${id}:`) })
  client.on('state', ({ state }) => { $('state').textContent = state })
  client.on('message', (m) => { received(m) })
  client.on('receipt', (r) => {
    if (r.by !== peer) return
    if (r.kind === 'read') marks.read = Math.max(marks.read, r.upTo)
    marks.delivered = Math.max(marks.delivered, r.upTo)
    renderMarks()
  })
  client.on('typing', (t) => { if (t.from === peer) typingLine.textContent = t.state === 'start' ? `${t.from} is typing…` : '' })
  client.on('presence', (p) => { online.set(p.userId, p.online); renderList() })
  await client.connect()
  loginForm.hidden = true
  chat.hidden = false
  $('whoami').textContent = `signed in as ${me}`
  await refreshList()
}

async function refreshList (): Promise<void> {
  conversations = (await client.conversations()).conversations
  const peers = conversations.map((c) => c.peer).filter((p) => !online.has(p))
  if (peers.length > 0) client.watch(peers)
  renderList()
}

function renderList (): void {
  list.replaceChildren(...conversations.map((c) => {
    const item = document.createElement('li')
    const button = document.createElement('button')
    button.setAttribute('aria-current', String(c.peer === peer))
    const dot = document.createElement('span')
    dot.className = online.get(c.peer) === true ? 'dot online' : 'dot'
    dot.setAttribute('aria-label', online.get(c.peer) === true ? 'online' : 'offline')
    const name = document.createElement('span')
    name.textContent = c.peer
    button.append(dot, name)
    if (c.unread > 0) {
      const badge = document.createElement('span')
      badge.className = 'unread'
      badge.textContent = String(c.unread)
      badge.setAttribute('aria-label', `${c.unread} unread`)
      button.append(badge)
    }
    button.addEventListener('click', () => { void open(c.peer) })
    item.append(button)
    return item
  }))
}

async function open (who: string): Promise<void> {
  peer = who
  toInput.value = who
  typingLine.textContent = ''
  const conversation = conversations.find((c) => c.peer === who)
  marks.delivered = conversation?.peerDeliveredUpTo ?? 0
  marks.read = conversation?.peerReadUpTo ?? 0
  messagesList.replaceChildren()
  const page = await client.history(who)
  oldest = page.nextBefore
  for (const m of [...page.messages].reverse()) messagesList.append(bubble(m))
  messagesList.scrollTop = messagesList.scrollHeight
  readAll()
  renderList()
}

// Paged on scroll: at the top, the page before the oldest shown.
messagesList.addEventListener('scroll', () => {
  if (messagesList.scrollTop > 0 || oldest === null || peer === '') return
  const before = oldest
  oldest = null
  void client.history(peer, { before }).then((page) => {
    const height = messagesList.scrollHeight
    messagesList.prepend(...[...page.messages].reverse().map(bubble))
    messagesList.scrollTop = messagesList.scrollHeight - height
    oldest = page.nextBefore
  })
})

function bubble (m: Pick<Message, 'id' | 'from' | 'content'>): HTMLLIElement {
  const item = document.createElement('li')
  item.dataset.id = String(m.id)
  item.className = m.from === me ? 'mine' : ''
  item.textContent = m.content
  if (m.from === me) {
    const mark = document.createElement('span')
    mark.className = 'mark'
    item.append(mark)
    setMark(item)
  }
  return item
}

function setMark (item: HTMLLIElement): void {
  const id = Number(item.dataset.id)
  const mark = item.querySelector('.mark')
  if (mark !== null) mark.textContent = id <= marks.read ? 'read' : id <= marks.delivered ? 'delivered' : 'sent'
}

function renderMarks (): void {
  for (const item of messagesList.querySelectorAll<HTMLLIElement>('li.mine')) setMark(item)
}

function received (m: MessageFrame): void {
  const other = m.from === me ? m.to : m.from
  if (other === peer) {
    messagesList.append(bubble(m))
    messagesList.scrollTop = messagesList.scrollHeight
    if (m.from !== me) typingLine.textContent = ''
    readAll()
  }
  void refreshList()
}

/** The open conversation is on screen: everything in it is read. */
function readAll (): void {
  const last = [...messagesList.querySelectorAll<HTMLLIElement>('li:not(.mine)')].pop()
  if (last !== undefined && document.visibilityState === 'visible') client.markRead(peer, Number(last.dataset.id))
  setTimeout(() => { void refreshList() }, 300)
}

let typingSent = 0
messageInput.addEventListener('input', () => {
  if (peer === '' || Date.now() - typingSent < 3000) return
  typingSent = Date.now()
  client.typing(peer, 'start')
})

$<HTMLFormElement>('composer').addEventListener('submit', (event) => {
  event.preventDefault()
  const to = toInput.value.trim()
  const content = messageInput.value
  if (to === '' || content === '') return
  messageInput.value = ''
  typingSent = 0
  void (async () => {
    if (to !== peer) await open(to)
    client.typing(to, 'stop')
    const sent = await client.send(to, content)
    if (peer === to) {
      messagesList.append(bubble({ id: sent.id, from: me, content }))
      messagesList.scrollTop = messagesList.scrollHeight
    }
    await refreshList()
  })().catch((err: unknown) => { typingLine.textContent = (err as Error).message })
})
