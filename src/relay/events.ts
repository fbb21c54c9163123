import type { Disconnect } from './disconnect.js'

/**
 * What the relay sends over the bus on a user's channel (Channels.user), as compact strings:
 * the frame travels as is, after a short header, so nothing is escaped or parsed twice.
 *
 * - entry:     `e<seq>|<frame>`            a stream entry for every connection of the user
 * - transient: `t<connectionId>|<frame>`   a frame for every connection but the one named (may be empty)
 * - kick:      `x<code>|<sessionId>|<reason>` close the user's connections (of that session, if named)
 * - hide:      `h<peer>|`                 the user and peer block each other now: stop showing peer's presence
 */
export type RelayEvent =
  | { kind: 'entry', seq: number, frame: string }
  | { kind: 'transient', except: string, frame: string }
  | { kind: 'kick', disconnect: Disconnect, sessionId: string }
  | { kind: 'hide', peer: string }

export const encodeEntry = (seq: number, frame: string): string => `e${seq}|${frame}`
export const encodeTransient = (frame: string, except = ''): string => `t${except}|${frame}`
export const encodeHide = (peer: string): string => `h${peer}|`
export const encodeKick = (disconnect: Disconnect, sessionId: string): string => `x${disconnect.code}|${sessionId}|${disconnect.reason}`

/** undefined for a payload that is not a relay event (never thrown: it comes off the network). */
export function decodeEvent (payload: string): RelayEvent | undefined {
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
