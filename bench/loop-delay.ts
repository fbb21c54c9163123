// Preloaded (--import) into every server the relay benchmark starts, duolog and floors alike:
// the event-loop delay measured the same way in each, with no change to what is measured.
// monitorEventLoopDelay records the time between two ticks of a timer of `resolution` ms, so
// an idle loop reads `resolution`: at 1 ms a reading is the longest the loop was held, plus at
// most 1 ms (prom-client's 10 ms, which duolog's /metrics uses, would add up to 10 ms).
// SIGWINCH writes the readings since the last one to BENCH_LOOP_FILE as JSON (ms) and resets
// (a signal nothing else here listens to, and ignored by a process without this module;
// duolog's close-with-grace closes on SIGUSR2).
import { renameSync, writeFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'

export const LOOP_RESOLUTION_MS = 1

const file = process.env.BENCH_LOOP_FILE
if (file !== undefined && file !== '') {
  const delay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
  delay.enable()
  process.on('SIGWINCH', () => {
    writeFileSync(file + '.tmp', JSON.stringify({ max: delay.max / 1e6, p99: delay.percentile(99) / 1e6 }))
    renameSync(file + '.tmp', file)
    delay.reset()
  })
}
