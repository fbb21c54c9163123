// The floor duolog is measured against: the classic demo relay on bare `ws`. No auth, no
// storage, one connection per user. A client announces {userId}; a {toId, content} frame is
// echoed to its sender and pushed to the recipient.
import { WebSocketServer, type WebSocket } from 'ws'

const port = Number(process.env.PORT ?? 0)
const wss = new WebSocketServer({ port, host: '127.0.0.1' })
const users = new Map<string, WebSocket>()

wss.on('connection', (socket) => {
  let userId: string | undefined
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { userId?: string, toId?: string, content?: string }
    if (userId === undefined) {
      userId = String(frame.userId)
      users.set(userId, socket)
      return
    }
    const out = JSON.stringify({ fromId: userId, toId: frame.toId, content: frame.content, createTime: Date.now() })
    socket.send(out)
    users.get(String(frame.toId))?.send(out)
  })
  socket.on('close', () => { if (userId !== undefined) users.delete(userId) })
})

wss.on('listening', () => {
  const address = wss.address()
  process.stdout.write(`Server listening at http://127.0.0.1:${typeof address === 'string' || address === null ? address : address.port}\n`)
})
