import type { Disconnect } from './disconnect.js'

/**
 * What the relay sends over the bus on a user's channel (Channels.user), as compact strings:
 * the frame travels as is, so nothing is escaped or parsed twice.
 *
 * - entry:     `<frame>`                   a stream entry for every connection of the user: the
 *                                          frame itself (a JSON object), its seq read from it
 * - transient: `t<connectionId>|<frame>`   a frame for every connection but the one named (may be empty)
 * - kick:      `x<code>|<sessionId>|<reason>` close the user's connections (of that session, if named)
 * - hide:      `h<peer>|`                 the user and peer block each other now: stop showing peer's presence
 *
 * An entry used to travel as `e<seq>|<frame>`; that is still read, so that instances of the
 * previous version can share a bus with these during a rolling deploy.
 */
export type RelayEvent =
  | { kind: 'entry', seq: number, frame: string }
  | { kind: 'transient', except: string, frame: string }
  | { kind: 'kick', disconnect: Disconnect, sessionId: string }
  | { kind: 'hide', peer: string }

/** An entry's frame as published: itself (not copied behind a header, then sliced off it again). */
export const encodeEntry = (frame: string): string => frame
export const encodeTransient = (frame: string, except = ''): string => `t${except}|${frame}`
export const encodeHide = (peer: string): string => `h${peer}|`
export const encodeKick = (disconnect: Disconnect, sessionId: string): string => `x${disconnect.code}|${sessionId}|${disconnect.reason}`

/** undefined for a payload that is not a relay event (never thrown: it comes off the network). */
export function decodeEvent (payload: string): RelayEvent | undefined {
  if (payload[0] === '{') return decodeEntry(payload)
  const bar = payload.indexOf('|')
  if (bar < 1) return undefined
  const head = payload.slice(1, bar)
  const rest = payload.slice(bar + 1)
  switch (payload[0]) {
    case 'e': {
      const seq = Number(head)
      return Number.isSafeInteger(seq) && seq > 0 ? { kind: 'entry', seq, frame: rest } : undefined
    }
    case 't':
      return { kind: 'transient', except: head, frame: rest }
    case 'h':
      return { kind: 'hide', peer: head }
    case 'x': {
      const second = rest.indexOf('|')
      const code = Number(head)
      if (second < 0 || !Number.isInteger(code)) return undefined
      return { kind: 'kick', disconnect: { code, reason: rest.slice(second + 1) }, sessionId: rest.slice(0, second) }
    }
  }
  return undefined
}

const SEQ_FIELD = ',"seq":'

/**
 * A stream entry's frame (`{"type":…,"id":…,"seq":…,…}`, frames.ts): its seq is the first
 * "seq" field, ahead of any content (whose quotes are escaped, so it cannot fake one).
 */
function decodeEntry (frame: string): RelayEvent | undefined {
  const at = frame.indexOf(SEQ_FIELD)
  if (at < 0) return undefined
  let seq = 0
  let i = at + SEQ_FIELD.length
  for (let code = frame.charCodeAt(i); code >= 48 && code <= 57; code = frame.charCodeAt(++i)) seq = seq * 10 + code - 48
  return i > at + SEQ_FIELD.length && Number.isSafeInteger(seq) && seq > 0 ? { kind: 'entry', seq, frame } : undefined
}
