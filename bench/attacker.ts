// The abusive user of bench/fairness.ts, forked (niced, so that the measuring process keeps
// its CPU): MODE=flood-* sends as fast as the server answers, over WebSocket (200 frames in
// flight, MODE=flood-ws) or HTTP (16 requests in flight, MODE=flood-http); MODE=sync opens CONNECTIONS sockets of one user,
// each syncing its whole backlog page by page, over and over. Reports its counts every second.
import WebSocket from 'ws'

const url = process.env.URL as string
const token = process.env.TOKEN as string
const mode = process.env.MODE as 'flood-ws' | 'flood-http' | 'sync'
const counts = { stored: 0, refused: 0, pages: 0, connections: 0, closedByServer: 0 }
setInterval(() => { if (process.send === undefined) console.log(JSON.stringify(counts)); else process.send(counts) }, 1000).unref()

function open (): WebSocket {
  const ws = new WebSocket(url.replace('http:', 'ws:') + '/v1/ws', { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false })
  ws.on('error', () => {})
  ws.on('close', (code) => { if (code >= 4000) counts.closedByServer++ })
  return ws
}

let n = 0
if (mode === 'flood-ws') {
  // Over WebSocket, reconnecting at once whenever the server closes it.
  const flood = (): void => {
    const ws = open()
    const sendOne = (): void => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'send', to: 'victim', content: `flood ${n++}` })) }
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (frame.type === 'ready') { counts.connections++; for (let i = 0; i < 200; i++) sendOne(); return }
      if (frame.type === 'sent') { counts.stored++; sendOne() }
      if (frame.type === 'error') { counts.refused++; sendOne() }
    })
    ws.on('close', flood)
  }
  flood()
} else if (mode === 'flood-http') {
  const loop = async (): Promise<void> => {
    for (;;) {
      const res = await fetch(url + '/v1/messages', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: 'victim', content: `flood ${n++}` })
      }).catch(() => undefined)
      if (res === undefined) continue
      await res.arrayBuffer()
      if (res.status === 201) counts.stored++
      else counts.refused++
    }
  }
  for (let i = 0; i < 16; i++) void loop()
} else {
  for (let i = 0; i < Number(process.env.CONNECTIONS); i++) {
    const ws = open()
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (frame.type === 'ready') { counts.connections++; ws.send(JSON.stringify({ type: 'sync', after: 0, limit: 500 })); return }
      if (frame.type === 'synced') {
        counts.pages++
        ws.send(JSON.stringify({ type: 'sync', after: frame.more === true ? frame.upTo : 0, limit: 500 }))
      }
    })
  }
}
