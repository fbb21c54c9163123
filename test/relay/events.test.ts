import t from 'tap'
import { decodeEvent, encodeEntry, encodeHide, encodeKick, encodeTransient } from '../../src/relay/events.js'
import { changeFrame, entryBody, messageFrame } from '../../src/relay/frames.js'
import type { StoredMessage } from '../../src/store/store.js'

// The payloads the relay puts on a user's bus channel, read back as every instance reads them.

const message = (overrides: Partial<StoredMessage> = {}): StoredMessage => ({
  id: 41,
  from: 'alice',
  to: 'bob',
  content: 'hi',
  createdAt: Date.UTC(2026, 10, 27),
  clientMsgId: null,
  senderSeq: 7,
  recipientSeq: 12,
  editedAt: null,
  deletedAt: null,
  ...overrides
})

t.test('a stream entry travels as its frame, and its seq is read from it', async (t) => {
  const m = message()
  const body = entryBody(m)
  for (const seq of [m.senderSeq, m.recipientSeq]) {
    const frame = messageFrame(m, seq, body)
    t.equal(frame, messageFrame(m, seq), 'the shared body gives the frame built alone')
    t.same(JSON.parse(frame), { type: 'message', id: 41, seq, from: 'alice', to: 'bob', content: 'hi', createdAt: '2026-11-27T00:00:00.000Z' })
    t.same(decodeEvent(encodeEntry(frame)), { kind: 'entry', seq, frame })
  }
  const edited = changeFrame('edited', message({ editedAt: Date.UTC(2026, 10, 28) }), 3)
  t.same(decodeEvent(encodeEntry(edited)), { kind: 'entry', seq: 3, frame: edited }, 'edits and deletions too')
})

t.test('content cannot pose as the seq', async (t) => {
  // Quotes in content are escaped, and the seq comes before the content anyway.
  for (const content of [',"seq":99,', '"seq":5', '\\",\\"seq\\":8', '}{"type":"message","id":1,"seq":2,']) {
    const frame = messageFrame(message({ content }), 3)
    t.same(decodeEvent(encodeEntry(frame)), { kind: 'entry', seq: 3, frame }, JSON.stringify(content))
  }
  const id = messageFrame(message({ id: 12345678901 }), 9)
  t.match(decodeEvent(id), { seq: 9 }, 'a long id before it')
})

t.test('the other events, and what a previous version publishes', async (t) => {
  t.same(decodeEvent(encodeTransient('{"type":"typing"}', 'c1')), { kind: 'transient', except: 'c1', frame: '{"type":"typing"}' })
  t.same(decodeEvent(encodeTransient('{"type":"typing"}')), { kind: 'transient', except: '', frame: '{"type":"typing"}' })
  t.same(decodeEvent(encodeHide('carol')), { kind: 'hide', peer: 'carol' })
  t.same(decodeEvent(encodeKick({ code: 4001, reason: 'session_ended' }, 's1')), { kind: 'kick', disconnect: { code: 4001, reason: 'session_ended' }, sessionId: 's1' })
  // A rolling deploy: instances of the version before put a header in front of the frame.
  const frame = messageFrame(message(), 12)
  t.same(decodeEvent(`e12|${frame}`), { kind: 'entry', seq: 12, frame }, 'the older entry format is still read')
})

t.test('a payload that is not an event is ignored, never thrown on', async (t) => {
  for (const payload of ['', '{', '{"type":"message"}', '{"type":"message","id":1,"seq":0,', '{"type":"message","id":1,"seq":-1,', '{"type":"message","id":1,"seq":99999999999999999999,', 'e0|{}', 'ex|{}', 'q1|x', 'x1|no-second-bar']) {
    t.equal(decodeEvent(payload), undefined, JSON.stringify(payload))
  }
})
