import { pairKey, retryKey } from './rules.js'

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
 * Each user's and each pair's messages are lists linked through columns too, not JS arrays:
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
  /** A slot's next slot in its sender's list, in its recipient's list, in its pair's list. */
  private nextOfSender = new Int32Array(TAIL_START_SLOTS)
  private nextOfRecipient = new Int32Array(TAIL_START_SLOTS)
  private nextOfPair = new Int32Array(TAIL_START_SLOTS)
  /** The clientMsgIds of the slots that have one. */
  private readonly clientMsgIds = new Map<number, string>()
  private readonly users: string[] = []
  private readonly userNumbers = new Map<string, number>()
  /**
   * Each user's first and last slot, by user number: the messages the user sent, and received
   * unless hidden by a block, in id order (NONE: none).
   */
  private userEnds = new Ends()
  private readonly pairNumbers = new Map<string, number>()
  private pairEnds = new Ends()
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
    this.nextOfPair[slot] = NONE
    this.linkUser(sender, slot)
    if (m.recipientSeq > 0) this.linkUser(recipient, slot)
    const key = pairKey(m.from, m.to)
    let pair = this.pairNumbers.get(key)
    if (pair === undefined) this.pairNumbers.set(key, pair = this.pairNumbers.size)
    const last = this.pairEnds.append(pair, slot)
    if (last !== NONE) this.nextOfPair[last] = slot
    if (m.clientMsgId !== null) {
      this.clientMsgIds.set(slot, m.clientMsgId)
      this.byRetryKey.set(retryKey(m.from, m.clientMsgId), slot)
    }
  }

  /** The newest message. */
  last (): TailEntry | undefined {
    return this.length === 0 ? undefined : this.entry(this.length - 1)
  }

  /** Every user with a message here. */
  userIds (): string[] {
    return this.users.filter((_, n) => this.userEnds.first(n) !== NONE)
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

  /** The messages between two users, in id order. */
  ofPair (a: string, b: string): TailEntry[] {
    const entries: TailEntry[] = []
    const pair = this.pairNumbers.get(pairKey(a, b))
    if (pair === undefined) return entries
    for (let slot = this.pairEnds.first(pair); slot !== NONE; slot = this.nextOfPair[slot] as number) entries.push(this.entry(slot))
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
    this.length = 0
    this.clientMsgIds.clear()
    this.users.length = 0
    this.userNumbers.clear()
    this.userEnds = new Ends()
    this.pairNumbers.clear()
    this.pairEnds = new Ends()
    this.byRetryKey.clear()
  }

  private entry (slot: number): TailEntry {
    return {
      id: this.ids[slot] as number,
      from: this.users[this.senders[slot] as number] as string,
      to: this.users[this.recipients[slot] as number] as string,
      senderSeq: this.senderSeqs[slot] as number,
      recipientSeq: this.recipientSeqs[slot] as number,
      clientMsgId: this.clientMsgIds.get(slot) ?? null
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
    const widen = <T extends Float64Array | Int32Array>(from: T, to: T): T => { to.set(from); return to }
    this.ids = widen(this.ids, new Float64Array(slots))
    this.senders = widen(this.senders, new Int32Array(slots))
    this.recipients = widen(this.recipients, new Int32Array(slots))
    this.senderSeqs = widen(this.senderSeqs, new Float64Array(slots))
    this.recipientSeqs = widen(this.recipientSeqs, new Float64Array(slots))
    this.nextOfSender = widen(this.nextOfSender, new Int32Array(slots))
    this.nextOfRecipient = widen(this.nextOfRecipient, new Int32Array(slots))
    this.nextOfPair = widen(this.nextOfPair, new Int32Array(slots))
  }
}

/** The first and last slot of numbered lists (users or pairs), NONE for an empty one. */
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
