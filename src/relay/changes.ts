import type { Viewer } from '../auth/tokens.js'
import { Errors } from '../errors.js'
import type { Store, StoredMessage } from '../store/store.js'
import { checkContent } from './delivery.js'
import type { Hub } from './hub.js'

export interface ChangesSettings {
  maxContentLength: number
  /** How long after sending a user may edit or delete a message; undefined: always. Services are not limited. */
  editWindowMs: number | undefined
}

/**
 * Edits and deletions of messages, for both users: stored with an entry in both streams, then
 * sent to every device as `edited` / `deleted` frames at those seqs (the same path as messages,
 * so a device that was away converges by sync). Only the sender, or a service, may change a message.
 */
export class MessageChanges {
  constructor (
    private readonly store: Pick<Store, 'getMessage' | 'changeMessage'>,
    private readonly hub: Pick<Hub, 'publishChange'>,
    private readonly settings: ChangesSettings
  ) {}

  async edit (actor: Viewer, id: number, content: string): Promise<StoredMessage> {
    checkContent(content, this.settings.maxContentLength)
    await this.check(actor, id)
    return await this.apply({ id, kind: 'edited', content, at: Date.now() })
  }

  async delete (actor: Viewer, id: number): Promise<StoredMessage> {
    await this.check(actor, id)
    return await this.apply({ id, kind: 'deleted', at: Date.now() })
  }

  /** 404 for a message the caller is not a user of (its existence is not theirs to know); 403 for the recipient. */
  private async check (actor: Viewer, id: number): Promise<void> {
    const message = await this.store.getMessage(id)
    if (message === undefined) throw new Errors.UnknownMessage(id)
    if (actor.kind === 'service') return
    if (message.from !== actor.id) {
      // A message hidden from its recipient (a block) is not theirs to see either.
      if (message.to === actor.id && message.recipientSeq > 0) throw new Errors.Forbidden('only the sender of a message may edit or delete it')
      throw new Errors.UnknownMessage(id)
    }
    if (message.deletedAt !== null) throw new Errors.MessageDeleted(id)
    const window = this.settings.editWindowMs
    if (window !== undefined && Date.now() - message.createdAt > window) {
      throw new Errors.Forbidden(`a message may be edited or deleted for ${window / 1000} s after it was sent (DUOLOG_EDIT_WINDOW_S)`)
    }
  }

  private async apply (change: Parameters<Store['changeMessage']>[0]): Promise<StoredMessage> {
    const outcome = await this.store.changeMessage(change)
    switch (outcome.status) {
      case 'not_found': throw new Errors.UnknownMessage(change.id)
      case 'deleted': throw new Errors.MessageDeleted(change.id)
      case 'changed':
        this.hub.publishChange(change.kind, outcome.message, outcome.senderSeq, outcome.recipientSeq)
        return outcome.message
    }
  }
}
