import { retryKey } from './rules.js'

// The SQLite store's tail: the messages stored in the log but not yet in the index tables.

/** What the tail keeps of a message: enough to index it and to merge it into reads (the content is read from the log by id). */
export interface TailEntry {
  id: number
  from: string
  to: string
  senderSeq: number
  recipientSeq: number
  clientMsgId: string | null
}

/** Slots a column starts with; it doubles when full. */
const TAIL_START_SLOTS = 1024
/** The end of a list of slots. */
const NONE = -1

/**
 * Messages stored in the log but not yet in the index tables, indexed in memory.
 * Every message with id > indexed_up_to is here; reads merge it with the tables.
 *
 * Kept as columns (numbers in typed arrays, users as indexes into a list of ids), without the
 * content: a run indexes up to 50,000 messages, which as message objects held their content
 * too (up to 400 MB of 4,000-character messages). Here a message costs about 100 bytes
 * whatever its size; a read that needs the content takes it from the log by id.
 *
 * Each user's messages are a list linked through columns too, not a JS array:
 * arrays that grow for seconds are copied by every young-generation GC until promoted, and
 * were about half of what each one copied at 10,000 msg/s.
 */
export class Tail {
  length = 0
  private ids = new Float64Array(TAIL_START_SLOTS)
  private senders = new Int32Array(TAIL_START_SLOTS)
  private recipients = new Int32Array(TAIL_START_SLOTS)
  private senderSeqs = new Float64Array(TAIL_START_SLOTS)
  private recipientSeqs = new Float64Array(TAIL_START_SLOTS)
  /** A slot's next slot in its sender's list, in its recipient's list. */
  private nextOfSender = new Int32Array(TAIL_START_SLOTS)
  private nextOfRecipient = new Int32Array(TAIL_START_SLOTS)
  /** Each slot's clientMsgId (a column too: a map of them cost every message an entry, rebuilt every run). */
  private clientMsgIds: Array<string | null> = new Array<string | null>(TAIL_START_SLOTS).fill(null)
  private readonly users: string[] = []
  private readonly userNumbers = new Map<string, number>()
  /**
   * Each user's first and last slot, by user number: the messages the user sent, and received
   * unless hidden by a block, in id order (NONE: none).
   */
  private userEnds = new Ends()
  private readonly byRetryKey = new Map<string, number>()

  add (m: TailEntry): void {
    if (this.length === this.ids.length) this.grow()
    const slot = this.length++
    const sender = this.userNumber(m.from)
    const recipient = this.userNumber(m.to)
    this.ids[slot] = m.id
    this.senders[slot] = sender
    this.recipients[slot] = recipient
    this.senderSeqs[slot] = m.senderSeq
    this.recipientSeqs[slot] = m.recipientSeq
    this.nextOfSender[slot] = NONE
    this.nextOfRecipient[slot] = NONE
    this.clientMsgIds[slot] = m.clientMsgId
    this.linkUser(sender, slot)
    if (m.recipientSeq > 0) this.linkUser(recipient, slot)
    if (m.clientMsgId !== null) this.byRetryKey.set(retryKey(m.from, m.clientMsgId), slot)
  }

  /** The newest message. */
  last (): TailEntry | undefined {
    return this.length === 0 ? undefined : this.entry(this.length - 1)
  }

  /**
   * The users of an index run of everything here: those with a message, as user numbers in
   * their ids' order (the order of every index's keys), and each user number's place in that
   * order (every user's: a peer's own list may be empty, when a block hid its messages).
   */
  runOrder (): { users: Int32Array, rank: Int32Array } {
    const sorted = this.users.map((_, n) => n).sort((a, b) => {
      const x = this.users[a] as string
      const y = this.users[b] as string
      return x < y ? -1 : x > y ? 1 : 0
    })
    const rank = new Int32Array(sorted.length)
    sorted.forEach((n, place) => { rank[n] = place })
    return { users: Int32Array.from(sorted.filter((n) => this.userEnds.first(n) !== NONE)), rank }
  }

  /**
   * Fills `writes` with the rows an index run writes for one user (a number from runOrder),
   * from the user's messages up to id upTo: per peer (in rank order) the counters and the
   * conversation's index rows (written by the pair's first user, or by the sender of a message
   * a block hides: the only user whose list holds it), then the stream entries (in seq order),
   * then the retry keys of what the user sent. Rows are slots and numbers, not objects: this
   * runs for every message, and its objects were the largest share of what a message allocated.
   */
  writesOf (user: number, upTo: number, rank: Int32Array, writes: UserWrites): void {
    writes.clear(user)
    // In id order: the run's messages come first.
    let n = 0
    for (let slot = this.userEnds.first(user); slot !== NONE && (this.ids[slot] as number) <= upTo; slot = this.nextOfUser(user, slot)) {
      writes.holdMine(n++, slot)
    }
    // Grouped by peer, each group in id order: sorting rank * n + place keeps both orders.
    const keys = writes.sortKeys
    for (let i = 0; i < n; i++) keys[i] = (rank[this.peerOf(user, writes.mine[i] as number)] as number) * n + i
    if (n > 1) keys.subarray(0, n).sort()
    const byPeer = writes.byPeer
    for (let i = 0; i < n; i++) byPeer[i] = writes.mine[(keys[i] as number) % n] as number
    for (let start = 0; start < n;) {
      const peer = this.peerOf(user, byPeer[start] as number)
      let end = start + 1
      while (end < n && this.peerOf(user, byPeer[end] as number) === peer) end++
      writes.add(COUNTERS, start, end)
      const first = (rank[user] as number) < (rank[peer] as number)
      for (let i = start; i < end; i++) {
        const slot = byPeer[i] as number
        if (first || this.recipientSeqs[slot] === 0) writes.add(CONVERSATION_INDEX, slot, 0)
      }
      start = end
    }
    for (let i = 0; i < n; i++) {
      const slot = writes.mine[i] as number
      if (this.senders[slot] === user) writes.add(SENDER_STREAM, slot, 0)
      if (this.recipients[slot] === user && (this.recipientSeqs[slot] as number) > 0) writes.add(RECIPIENT_STREAM, slot, 0)
    }
    for (let i = 0; i < n; i++) {
      const slot = writes.mine[i] as number
      if (this.senders[slot] === user && this.clientMsgIds[slot] !== null) writes.add(RETRY_KEY, slot, 0)
    }
  }

  /** A slot's message, column by column (for index writes, which make no entry objects). */
  id (slot: number): number { return this.ids[slot] as number }
  sender (slot: number): number { return this.senders[slot] as number }
  recipient (slot: number): number { return this.recipients[slot] as number }
  senderSeq (slot: number): number { return this.senderSeqs[slot] as number }
  recipientSeq (slot: number): number { return this.recipientSeqs[slot] as number }
  clientMsgId (slot: number): string { return this.clientMsgIds[slot] as string }
  /** The other user of a slot's message. */
  peerOf (user: number, slot: number): number {
    return (this.senders[slot] === user ? this.recipients[slot] : this.senders[slot]) as number
  }

  /** A user number's id. */
  userId (user: number): string {
    return this.users[user] as string
  }

  /** A user's messages, in id order. */
  ofUser (userId: string): TailEntry[] {
    const entries: TailEntry[] = []
    const user = this.userNumbers.get(userId)
    if (user === undefined) return entries
    for (let slot = this.userEnds.first(user); slot !== NONE; slot = this.nextOfUser(user, slot)) entries.push(this.entry(slot))
    return entries
  }

  /** A user's newest message. */
  newestOf (userId: string): TailEntry | undefined {
    const user = this.userNumbers.get(userId)
    const slot = user === undefined ? NONE : this.userEnds.last(user)
    return slot === NONE ? undefined : this.entry(slot)
  }

  /**
   * The messages between a user and a peer that the user sees (all but those a block hid from
   * them), in id order: the user's list, filtered. Reads need no more, and a list per pair
   * cost every message a string key and a map entry.
   */
  visibleBetween (userId: string, peerId: string): TailEntry[] {
    const entries: TailEntry[] = []
    const user = this.userNumbers.get(userId)
    const peer = this.userNumbers.get(peerId)
    if (user === undefined || peer === undefined) return entries
    for (let slot = this.userEnds.first(user); slot !== NONE; slot = this.nextOfUser(user, slot)) {
      if (this.peerOf(user, slot) === peer) entries.push(this.entry(slot))
    }
    return entries
  }

  /** The message a sender sent with a clientMsgId (`key`: their retryKey). */
  sentWith (key: string): TailEntry | undefined {
    const slot = this.byRetryKey.get(key)
    return slot === undefined ? undefined : this.entry(slot)
  }

  /** Forgets the messages up to id `upTo` (indexed now). */
  dropUpTo (upTo: number): void {
    const rest: TailEntry[] = []
    for (let slot = 0; slot < this.length; slot++) if ((this.ids[slot] as number) > upTo) rest.push(this.entry(slot))
    this.clear()
    for (const m of rest) this.add(m)
  }

  clear (): void {
    // The clientMsgIds stay until overwritten: at most a run's worth, and clearing them costs a pass.
    this.length = 0
    this.users.length = 0
    this.userNumbers.clear()
    this.userEnds = new Ends()
    this.byRetryKey.clear()
  }

  private entry (slot: number): TailEntry {
    return {
      id: this.ids[slot] as number,
      from: this.users[this.senders[slot] as number] as string,
      to: this.users[this.recipients[slot] as number] as string,
      senderSeq: this.senderSeqs[slot] as number,
      recipientSeq: this.recipientSeqs[slot] as number,
      clientMsgId: this.clientMsgIds[slot] ?? null
    }
  }

  /** Appends a slot to a user's list. */
  private linkUser (user: number, slot: number): void {
    const last = this.userEnds.append(user, slot)
    if (last === NONE) return
    // A message links into its sender's and its recipient's lists: whichever the user is.
    if (this.senders[last] === user) this.nextOfSender[last] = slot
    else this.nextOfRecipient[last] = slot
  }

  private nextOfUser (user: number, slot: number): number {
    return (this.senders[slot] === user ? this.nextOfSender[slot] : this.nextOfRecipient[slot]) as number
  }

  private userNumber (userId: string): number {
    let n = this.userNumbers.get(userId)
    if (n === undefined) {
      n = this.users.push(userId) - 1
      this.userNumbers.set(userId, n)
    }
    return n
  }

  private grow (): void {
    const slots = this.ids.length * 2
    this.ids = widen(this.ids, new Float64Array(slots))
    this.senders = widen(this.senders, new Int32Array(slots))
    this.recipients = widen(this.recipients, new Int32Array(slots))
    this.senderSeqs = widen(this.senderSeqs, new Float64Array(slots))
    this.recipientSeqs = widen(this.recipientSeqs, new Float64Array(slots))
    this.nextOfSender = widen(this.nextOfSender, new Int32Array(slots))
    this.nextOfRecipient = widen(this.nextOfRecipient, new Int32Array(slots))
    this.clientMsgIds = this.clientMsgIds.concat(new Array<string | null>(slots - this.clientMsgIds.length).fill(null))
  }
}

/** What a row of an index run is (UserWrites.kind). */
export const COUNTERS = 0
export const CONVERSATION_INDEX = 1
export const SENDER_STREAM = 2
export const RECIPIENT_STREAM = 3
export const RETRY_KEY = 4

/**
 * One user's rows of an index run (Tail.writesOf), reused from user to user. Row i is kind(i)
 * with slot(i), the message's slot; a COUNTERS row instead covers the peer's messages
 * byPeer[slot(i)] up to byPeer[end(i)].
 */
export class UserWrites {
  /** The user the rows are for. */
  user = NONE
  length = 0
  /** The user's slots of the run, in id order; the same grouped by peer. */
  mine = new Int32Array(64)
  byPeer = new Int32Array(64)
  private kinds = new Uint8Array(64)
  private slots = new Int32Array(64)
  private ends = new Int32Array(64)
  /** Scratch for sorting `mine` by peer. */
  sortKeys = new Float64Array(64)

  kind (i: number): number { return this.kinds[i] as number }
  slot (i: number): number { return this.slots[i] as number }
  end (i: number): number { return this.ends[i] as number }

  clear (user: number): void {
    this.user = user
    this.length = 0
  }

  holdMine (i: number, slot: number): void {
    if (i === this.mine.length) {
      this.mine = widen(this.mine, new Int32Array(i * 2))
      this.byPeer = new Int32Array(i * 2)
      this.sortKeys = new Float64Array(i * 2)
    }
    this.mine[i] = slot
  }

  add (kind: number, slot: number, end: number): void {
    const i = this.length++
    if (i === this.kinds.length) {
      this.kinds = widen(this.kinds, new Uint8Array(i * 2))
      this.slots = widen(this.slots, new Int32Array(i * 2))
      this.ends = widen(this.ends, new Int32Array(i * 2))
    }
    this.kinds[i] = kind
    this.slots[i] = slot
    this.ends[i] = end
  }
}

function widen<T extends Float64Array | Int32Array | Uint8Array> (from: T, to: T): T {
  to.set(from)
  return to
}

/** The first and last slot of numbered lists, NONE for an empty one. */
class Ends {
  private firsts = new Int32Array(256).fill(NONE)
  private lasts = new Int32Array(256).fill(NONE)

  first (n: number): number {
    return n < this.firsts.length ? this.firsts[n] as number : NONE
  }

  last (n: number): number {
    return n < this.lasts.length ? this.lasts[n] as number : NONE
  }

  /** Makes `slot` list n's last; returns the slot that was last (NONE: the list was empty). */
  append (n: number, slot: number): number {
    if (n >= this.firsts.length) {
      const size = Math.max(n + 1, this.firsts.length * 2)
      const firsts = new Int32Array(size).fill(NONE)
      const lasts = new Int32Array(size).fill(NONE)
      firsts.set(this.firsts)
      lasts.set(this.lasts)
      this.firsts = firsts
      this.lasts = lasts
    }
    const last = this.lasts[n] as number
    if (last === NONE) this.firsts[n] = slot
    this.lasts[n] = slot
    return last
  }
}
