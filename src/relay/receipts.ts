import { Errors } from '../errors.js'
import type { Store } from '../store/store.js'
import type { Connection } from './connection.js'
import { receiptFrame } from './frames.js'
import type { Hub } from './hub.js'

/** Delivered receipts (a device acknowledged its stream) and read markers with their receipts. */
export class Receipts {
  constructor (
    private readonly store: Pick<Store, 'streamState' | 'ack' | 'markDelivered' | 'markRead' | 'getUser'>,
    private readonly hub: Pick<Hub, 'sendTo'>,
    /** Tell a peer when their messages are read (DUOLOG_READ_RECEIPTS); markers are kept either way. */
    private readonly readReceipts: boolean
  ) {}

  /**
   * Records that a device of userId has every entry up to upTo, and tells each peer whose
   * messages that delivered (one `delivered` receipt per peer per advance).
   */
  async ack (userId: string, upTo: number): Promise<number> {
    const { lastSeq, ackedSeq } = await this.store.streamState(userId)
    if (upTo > lastSeq) throw new Errors.InvalidCursor(`upTo (${upTo}) is beyond the end of the stream (${lastSeq})`)
    const acked = await this.store.ack(userId, upTo)
    if (acked > ackedSeq) {
      for (const { peer, upTo: messageId } of await this.store.markDelivered(userId, ackedSeq, acked)) {
        this.hub.sendTo(peer, receiptFrame('delivered', userId, userId, messageId))
      }
    }
    return acked
  }

  /**
   * Moves userId's read marker with peer forward. The peer's devices are told (unless read
   * receipts are off), and so are the reader's other devices, so that their badges clear.
   */
  async read (userId: string, peer: string, upTo: number, origin?: Connection): Promise<number> {
    if (peer === userId) throw new Errors.InvalidRecipient('a read marker is kept per conversation with another user')
    if (await this.store.getUser(peer) === undefined) throw new Errors.UnknownUser(peer)
    const outcome = await this.store.markRead(userId, peer, upTo)
    if (outcome.status === 'invalid') throw new Errors.InvalidCursor(`upTo (${upTo}) is beyond the newest message with ${peer}`)
    if (outcome.status === 'advanced') {
      if (this.readReceipts) this.hub.sendTo(peer, receiptFrame('read', userId, userId, upTo))
      this.hub.sendTo(userId, receiptFrame('read', peer, userId, upTo), origin)
    }
    return outcome.readUpTo
  }
}
