// A Node.js process that does nothing: the benchmark reads its event-loop delay (bench/loop-delay.ts,
// preloaded) over a window as long as the servers', on the servers' CPU. What it shows is what the
// machine itself holds a loop for (other tenants, the hypervisor): no server can stay below it.
setInterval(() => {}, 60_000)
