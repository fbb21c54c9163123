import type { Principal, Tokens } from '../auth/tokens.js'
import type { Bus } from '../bus/bus.js'
import type { Config } from '../config.js'
import type { Log } from '../log.js'
import type { Metrics } from '../metrics.js'
import { Presence } from '../presence/presence.js'
import type { PresenceStore } from '../presence/store.js'
import type { Store } from '../store/store.js'
import { Cooldowns, KeyedLimits } from '../limits.js'
import { Delivery } from './delivery.js'
import { MessageChanges } from './changes.js'
import { Disconnect } from './disconnect.js'
import { presenceFrame } from './frames.js'
import { Heartbeats } from './heartbeats.js'
import { Receipts } from './receipts.js'
import { Hub } from './hub.js'
import { SocketHandler } from './socket-handler.js'
import type { Transport, TransportEvents } from './transport.js'
import { Typing } from './typing.js'

export interface RelayDeps {
  config: Config
  store: Store
  bus: Bus
  presenceStore: PresenceStore
  tokens: Pick<Tokens, 'verify'>
  metrics: Metrics
  log: Log
}

/** The relay of one instance and its features, wired together; routes and sockets use these. */
export interface RelayServices {
  hub: Hub
  delivery: Delivery
  changes: MessageChanges
  receipts: Receipts
  typing: Typing
  presence: Presence
  heartbeats: Heartbeats
  /**
   * Each user's turns at reading their stream or history (messages per second, sustained and
   * at once; a page costs its limit), shared by HTTP and WebSocket, so that one user's heavy
   * reading cannot slow others.
   */
  readLimits: KeyedLimits
  /** Users who may not open connections for a while (closed with 4029 for ignoring their rate). */
  cooldowns: Cooldowns
  /** Takes over a socket just upgraded; `principal` when the upgrade carried a valid token, `after` to resume. */
  accept (transport: Transport, principal: Principal | null, after?: number): TransportEvents
  /** Stops the timers and asks every client to reconnect (elsewhere) and sync. */
  close (): void
}

export function createRelayServices ({ config, store, bus, presenceStore, tokens, metrics, log }: RelayDeps): RelayServices {
  const hub = new Hub(bus, log)
  metrics.observeConnections(() => hub.registry.size, () => hub.registry.userCount)
  const sendLimits = new KeyedLimits(config.limits.sendRate, config.limits.sendBurst)
  const readLimits = new KeyedLimits(config.limits.readRate, config.limits.readBurst)
  const delivery = new Delivery(store, (message, origin) => { hub.publish(message, origin) }, config.limits.maxContentLength, sendLimits, metrics, log)
  const changes = new MessageChanges(store, hub, { maxContentLength: config.limits.maxContentLength, editWindowMs: config.editWindowMs })
  const receipts = new Receipts(store, hub, config.readReceipts)
  const typing = new Typing(store, hub, { timeoutMs: config.ws.typingTimeoutMs, per10s: config.ws.typingPer10s })
  const presence = new Presence({
    users: store,
    presenceStore,
    bus,
    visibility: config.presenceVisibility,
    leaseMs: config.presenceLeaseMs,
    graceMs: config.presenceGraceMs,
    localCount: (userId) => hub.count(userId),
    localUsers: () => hub.registry.users(),
    frame: presenceFrame,
    log
  })
  // A new block: existing presence watches between the two end, on every instance.
  hub.onHide = (connection, peer) => { presence.unwatch(connection, [peer]) }
  const heartbeats = new Heartbeats(() => hub.registry.all(), config.ws.heartbeatMs)
  const cooldowns = new Cooldowns()
  const features = { hub, delivery, changes, receipts, typing, presence, heartbeats, readLimits, cooldowns }
  const socketDeps = {
    ...features,
    tokens,
    metrics,
    stream: store,
    settings: {
      authTimeoutMs: config.ws.authTimeoutMs,
      maxBufferedBytes: config.ws.maxBufferedBytes,
      maxSyncPage: config.limits.maxSyncPage,
      maxConnectionsPerUser: config.limits.maxConnectionsPerUser
    },
    log
  }
  return {
    ...features,
    accept: (transport, principal, after) => new SocketHandler(socketDeps, transport, principal, after),
    close () {
      heartbeats.close()
      presence.close()
      hub.closeAll(Disconnect.serverShutdown)
    }
  }
}
