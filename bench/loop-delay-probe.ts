/**
 * Preloaded into the server by bench/live.ts (`node --import ./bench/loop-delay-probe.ts …`):
 * the server's event-loop delay (perf_hooks monitorEventLoopDelay, 1 ms resolution), its
 * event-loop utilisation and its garbage collections (count, total and longest pause). On SIGUSR2
 * it writes the figures since the last signal to /tmp/hearth-loop-<pid>.json and starts afresh. A
 * bench aid only: nothing in Hearth imports it.
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';

const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
let gc = { count: 0, ms: 0, max: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.ms += e.duration;
    gc.max = Math.max(gc.max, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
let elu = performance.eventLoopUtilization();
process.on('SIGUSR2', () => {
  const ms = (ns: number) => Number((ns / 1e6).toFixed(2));
  const used = performance.eventLoopUtilization(elu);
  elu = performance.eventLoopUtilization();
  writeFileSync(
    `/tmp/hearth-loop-${process.pid}.json`,
    JSON.stringify({
      p50: ms(h.percentile(50)),
      p99: ms(h.percentile(99)),
      max: ms(h.max),
      mean: ms(h.mean),
      count: h.count,
      utilisation: Number(used.utilization.toFixed(4)),
      gcCount: gc.count,
      gcMs: Number(gc.ms.toFixed(2)),
      gcMaxMs: Number(gc.max.toFixed(2)),
    }),
  );
  h.reset();
  gc = { count: 0, ms: 0, max: 0 };
});
