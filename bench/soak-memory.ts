/**
 * Preloaded into the soak's server (`node --import bench/soak-memory.ts …`, bench only, nothing in
 * the product): every 5 s, appends the server's `process.memoryUsage()` in MB as a JSON line to the
 * file named by SOAK_MEMORY_FILE, so the soak can tell the V8 heap from what lies outside it
 * (Buffers, the allocator's arenas, V8's own malloc'd zones).
 */
import { appendFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

const file = process.env.SOAK_MEMORY_FILE;
if (file) {
  const mb = (n: number) => Math.round(n / 1048576);
  setInterval(() => {
    const m = process.memoryUsage();
    const h = getHeapStatistics();
    const line = {
      rss: mb(m.rss),
      heapTotal: mb(m.heapTotal),
      heapUsed: mb(m.heapUsed),
      external: mb(m.external),
      arrayBuffers: mb(m.arrayBuffers),
      // The heap's resident part (heapTotal is what V8 committed), and V8's own malloc'd memory
      // (compiler and parser zones), outside heapTotal and external.
      heapPhysical: mb(h.total_physical_size),
      v8Malloced: mb(h.malloced_memory),
      // heapTotal by space (new, old, code, large objects…): which one grows.
      spaces: Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name.replace(/_space$/, ''), mb(sp.space_size)])),
    };
    appendFileSync(file, JSON.stringify(line) + '\n');
  }, 5_000).unref();
}
