import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import type { Log } from '../log.js'

/**
 * The worker's code, CommonJS run with `eval`: the same text under tsx, in tests and in
 * dist (a worker file would need a loader for TypeScript). It opens its own connection to
 * the file and, once `pages` frames wait in the WAL (or any have waited `maxAgeMs`), copies
 * them into the database (PASSIVE: it never waits for or blocks the writer, it stops at the
 * oldest reader's snapshot) and fsyncs it. Fewer, larger checkpoints copy a page written
 * many times once.
 *
 * The WAL starts over only when a write transaction begins with every frame copied, which a
 * writer that never stops would never allow: the WAL would grow forever. So once it holds
 * `restartFrames`, after the bulk and a catch-up pass, the worker syncs both files, asks
 * the main thread to hold its writes (`hold`), copies the few frames written meanwhile, and
 * lets them go (`released`); the next write starts the WAL over. A hold lasts the copy of
 * those frames and two small fsyncs (1-20 ms here), and comes rarely: every 4 checkpoints
 * under steady writes.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { openSync, readSync, fdatasyncSync } = require('node:fs')
const Database = require(workerData.driver)
// Checkpoints use the CPU the event loop leaves idle: when both want the same core, the
// loop runs (a thread's nice value; nice 19 weighs 15 against the loop's 1024).
try { require('node:os').setPriority(workerData.nice) } catch {}
const db = new Database(workerData.file)
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)')
// The wal-index header (the -shm file, https://www.sqlite.org/walformat.html): mxFrame, the
// WAL's last valid frame, at byte 16; nBackfill, the frames already copied, at byte 96.
// Read to decide whether a checkpoint is worth making now; SQLite itself never relies on it.
const shm = openSync(workerData.file + '-shm', 'r')
// The two files synced before a hold (below). These descriptors, like shm's, are never
// closed: closing any descriptor of a file drops every POSIX lock this process holds on
// it, SQLite's included.
const dbFile = openSync(workerData.file, 'r')
const walFile = openSync(workerData.file + '-wal', 'r')
const header = new Uint32Array(26)
const headerBytes = new Uint8Array(header.buffer)
let lastCheckpoint = Date.now()
// What the last checkpoint saw: the WAL's frames, and how many of them are in the database.
let last = { log: 0, checkpointed: 0 }
let failing = false
let holding = false
/** The WAL's frames, and those of them not yet copied into the database. */
const walFrames = () => {
  readSync(shm, headerBytes, 0, headerBytes.length, 0)
  const [frames, copied] = [header[4], header[24]]
  return { frames, waiting: frames >= copied ? frames - copied : frames }
}
const copy = () => {
  const result = checkpoint.get()
  // A WAL shorter than last time was started over: everything checkpointed in it is new.
  const pages = result.log < last.log ? result.checkpointed : result.checkpointed - last.checkpointed
  last = result
  // Not result.log: the writer may have added frames while this one copied.
  const { frames, waiting } = walFrames()
  return { pages, complete: waiting === 0, frames }
}
const attempt = (step) => {
  try {
    step()
    failing = false
  } catch (err) {
    // Reported once per streak; the next look tries again.
    if (!failing) parentPort.postMessage({ failed: String(err && err.message) })
    failing = true
    if (holding) { holding = false; parentPort.postMessage({ released: true, pages: 0 }) }
  }
}
const timer = setInterval(() => attempt(() => {
  if (holding) return
  const { waiting } = walFrames()
  if (waiting === 0) return
  if (waiting < workerData.pages && Date.now() - lastCheckpoint < workerData.maxAgeMs) return
  lastCheckpoint = Date.now()
  const bulk = copy()
  // Below its cap the WAL may go on growing: no hold (each one delays every send by its
  // length), only more checkpoints.
  if (bulk.complete || bulk.frames < workerData.restartFrames) { parentPort.postMessage({ pages: bulk.pages }); return }
  // What the writer added during the bulk, copied without holding it, so that the hold only
  // waits for the last few frames and the fsyncs.
  const catchUp = copy()
  if (catchUp.complete) { parentPort.postMessage({ pages: bulk.pages + catchUp.pages }); return }
  // SQLite syncs the database file only when a checkpoint copies the whole WAL, that is
  // inside the hold: everything the bulk copied would be flushed while every send waits
  // (40-60 ms here). Flushed first, the hold waits for the last few pages only.
  fdatasyncSync(dbFile)
  fdatasyncSync(walFile)
  holding = true
  parentPort.postMessage({ pages: bulk.pages + catchUp.pages, hold: true })
}), workerData.intervalMs)
parentPort.on('message', (message) => {
  if (message === 'held') {
    attempt(() => {
      if (!holding) return
      const { pages } = copy()
      holding = false
      parentPort.postMessage({ pages, released: true })
    })
    return
  }
  if (message !== 'close') return
  clearInterval(timer)
  db.close()
  parentPort.close()
})
`

/** The worker thread's nice value: the lowest priority, so that it never takes the event loop's core. */
const WORKER_NICE = 19

/** The longest the writes are held for the end of a checkpoint, ms. */
const HOLD_AT_MOST_MS = 500

export interface CheckpointerOptions {
  file: string
  /** How often the worker looks at the WAL, ms. */
  intervalMs: number
  /** Frames waiting in the WAL that make a checkpoint. */
  pages: number
  /** Frames in the WAL past which a checkpoint holds the writes to start it over. */
  restartFrames: number
  /** The longest a frame waits for one, ms. */
  maxAgeMs: number
  log: Log
  /** Called if the worker dies: the caller takes checkpoints back (the WAL must not grow forever). */
  onExit: () => void
  /** Called with the pages (WAL frames) each checkpoint copied. */
  onCheckpoint?: (pages: number) => void
  /**
   * Holds the writes that never stop under load (they wait, the event loop does not) until
   * the returned function is called: for the few ms the worker copies the WAL's last frames.
   */
  holdWrites: () => () => void
}

/**
 * WAL checkpoints in a worker thread with its own connection: copying pages into the database
 * file and its fsync (tens of ms on a slow disk, more with a large WAL) never hold the event
 * loop. The writer's connection turns its own automatic checkpoints off while this runs.
 * Durability does not depend on it: a commit is in the WAL before it is acknowledged, and a
 * checkpoint cut short by a crash is redone from the WAL on the next open.
 */
export class Checkpointer {
  /** WAL frames (pages) copied into the database so far. */
  pages = 0
  private closing = false
  private readonly exited: Promise<unknown>

  private constructor (private readonly worker: Worker) {
    this.exited = new Promise((resolve) => worker.once('exit', resolve))
  }

  static start (options: CheckpointerOptions): Checkpointer {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    const worker = new Worker(WORKER, { eval: true, workerData: { driver, file: options.file, intervalMs: options.intervalMs, pages: options.pages, restartFrames: options.restartFrames, maxAgeMs: options.maxAgeMs, nice: WORKER_NICE } })
    const checkpointer = new Checkpointer(worker)
    let release: (() => void) | undefined
    let giveUp: NodeJS.Timeout | undefined
    const letGo = (): void => {
      clearTimeout(giveUp)
      release?.()
      release = undefined
    }
    worker.on('message', (message: { pages?: number, failed?: string, hold?: boolean, released?: boolean }) => {
      if (message.pages !== undefined && message.pages > 0) {
        checkpointer.pages += message.pages
        options.onCheckpoint?.(message.pages)
      }
      if (message.failed !== undefined) options.log.warn({ err: message.failed }, 'sqlite: a checkpoint failed; the next one tries again')
      if (message.released === true) letGo()
      if (message.hold === true && release === undefined) {
        release = options.holdWrites()
        // Never held for long, whatever the worker does.
        giveUp = setTimeout(letGo, HOLD_AT_MOST_MS)
        worker.postMessage('held')
      }
    })
    worker.on('error', (err) => { options.log.error({ err }, 'sqlite: the checkpoint worker failed') })
    worker.once('exit', () => {
      letGo()
      if (checkpointer.closing) return
      options.log.error({}, 'sqlite: the checkpoint worker stopped; checkpoints run on the main thread from now on')
      options.onExit()
    })
    // Never what keeps the process alive.
    worker.unref()
    return checkpointer
  }

  /** Stops the checkpoints and closes the worker's connection (before the writer's closes). */
  async close (): Promise<void> {
    if (this.closing) return
    this.closing = true
    // Awaited: the worker keeps the process alive until it has closed its connection (a
    // worker that already stopped ignores both).
    this.worker.ref()
    this.worker.postMessage('close')
    await this.exited
  }
}
