// The floors duolog is measured against: the classic demo relay on bare `ws`. No auth, no
// storage, no validation, one connection per user. A client announces {userId}; a
// {toId, content} frame is pushed to the recipient, and either echoed whole to its sender
// or, with BARE_ACK=1 (the fair floor: the framing work duolog must do anyway, `message` +
// `sent`), answered with a small ack frame.
import { createServer } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'

const port = Number(process.env.PORT ?? 0)
const server = createServer((req, res) => { res.statusCode = 404; res.end() })
const wss = new WebSocketServer({ server })
const users = new Map<string, WebSocket>()
const ack = process.env.BARE_ACK === '1'
let acks = 0

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
    socket.send(ack ? `{"type":"ack","n":${++acks}}` : out)
    users.get(String(frame.toId))?.send(out)
  })
  socket.on('close', () => { if (userId !== undefined) users.delete(userId) })
})

server.listen(port, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`Server listening at http://127.0.0.1:${typeof address === 'string' || address === null ? address : address.port}\n`)
})
