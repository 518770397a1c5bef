import { execFileSync, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ALLOCATOR_ENV,
  allocatorReexec,
  applyHeapPolicy,
  giveBackMemory,
  HEAP_GROWING_PERCENT,
  noteActivity,
  startIdleGiveBack,
} from '../../src/lib/heap.ts';

const HEAP_TS = pathToFileURL(resolve(import.meta.dirname, '../../src/lib/heap.ts')).href;

/**
 * A child that keeps a live set and churns garbage around it (as a server under reader load does),
 * with or without the policy, and prints the largest heap V8 committed (MB).
 */
function peakHeapMb(withPolicy: boolean): number {
  const script = `
    import { applyHeapPolicy } from ${JSON.stringify(HEAP_TS)};
    if (${withPolicy}) applyHeapPolicy();
    const live = [];
    for (let i = 0; i < 150_000; i++) live.push({ i, s: 'x'.repeat(50) + i });
    let peak = 0;
    const recent = [];
    for (let r = 0; r < 80; r++) {
      const batch = [];
      for (let i = 0; i < 20_000; i++) batch.push({ r, s: 'y'.repeat(30) + i });
      recent.push(batch);
      if (recent.length > 20) recent.shift();
      peak = Math.max(peak, process.memoryUsage().heapTotal);
    }
    console.log(Math.round(peak / 1048576), live.length);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return Number(out.split(' ')[0]);
}

describe('heap policy (src/lib/heap.ts)', () => {
  it('keeps the committed heap closer to the live set than V8’s default growth', () => {
    const without = peakHeapMb(false);
    const withPolicy = peakHeapMb(true);
    // Measured: ~495 MB without, ~400 MB with (the live set here is ~250 MB at its largest).
    expect(withPolicy).toBeLessThan(without * 0.9);
  }, 60_000);

  it('leaves a --heap-growing-percent given on the command line alone', () => {
    expect(HEAP_GROWING_PERCENT).toBe(50);
    expect(applyHeapPolicy(['--heap-growing-percent=20'])).toBe(false);
    expect(applyHeapPolicy(['--heap_growing_percent=20'])).toBe(false);
  });
});

describe('giving memory back when the server goes quiet (src/lib/heap.ts)', () => {
  afterEach(() => void vi.useRealTimers());

  /** A give-back watcher on a fake clock, fake RSS and a counting collection. */
  function watcher(rssMb: { now: number }) {
    vi.useFakeTimers();
    const collections: number[] = [];
    const stop = startIdleGiveBack({
      idleMs: 10_000,
      checkMs: 1_000,
      minBytes: 32 * 1048576,
      now: () => Date.now(),
      rss: () => rssMb.now * 1048576,
      collect: () => {
        collections.push(Date.now());
        rssMb.now = 200;
      },
    });
    return { collections, stop };
  }

  it('waits while requests keep coming, collects once after a quiet spell, and not again while RSS stays down', () => {
    const rss = { now: 150 };
    const { collections, stop } = watcher(rss);
    rss.now = 430; // the load grew the process
    for (let s = 0; s < 60; s++) {
      noteActivity();
      vi.advanceTimersByTime(1_000);
    }
    expect(collections).toHaveLength(0);
    vi.advanceTimersByTime(9_000);
    expect(collections).toHaveLength(0);
    vi.advanceTimersByTime(3_000);
    expect(collections).toHaveLength(1);
    vi.advanceTimersByTime(120_000);
    expect(collections).toHaveLength(1);
    // Another busy spell that grows RSS again: another give-back once it is quiet.
    for (let s = 0; s < 5; s++) {
      noteActivity();
      vi.advanceTimersByTime(1_000);
    }
    rss.now = 260;
    vi.advanceTimersByTime(15_000);
    expect(collections).toHaveLength(2);
    stop();
  });

  it('leaves a quiet process alone when RSS has not grown past the last give-back', () => {
    const rss = { now: 150 };
    const { collections, stop } = watcher(rss);
    rss.now = 170; // less than 32 MB above where it started
    vi.advanceTimersByTime(600_000);
    expect(collections).toHaveLength(0);
    stop();
  });

  it('frees the old generation a normal quiet process keeps', () => {
    // Objects that survive long enough to reach the old generation, then become garbage.
    let kept: Array<{ i: number; s: string }> | undefined = [];
    for (let i = 0; i < 600_000; i++) kept.push({ i, s: `x${i}` });
    const before = process.memoryUsage().heapUsed;
    expect(kept.length).toBe(600_000);
    kept = undefined;
    giveBackMemory();
    const after = process.memoryUsage().heapUsed;
    expect(before - after).toBeGreaterThan(20 * 1048576);
  });
});

describe('allocator settings for serve and worker (src/lib/heap.ts)', () => {
  const base = {
    execPath: '/usr/bin/node',
    execArgv: ['--import', 'x.ts'],
    argv: ['/usr/bin/node', 'src/cli/hearth.ts', 'serve'],
    glibc: true,
    canExecve: true,
  };

  it('starts again with the same node, flags and arguments, filling in only the names not set', () => {
    const plan = allocatorReexec({ ...base, env: { PATH: '/bin', MALLOC_ARENA_MAX: '4' } });
    expect(plan?.args).toEqual(['/usr/bin/node', '--import', 'x.ts', 'src/cli/hearth.ts', 'serve']);
    expect(plan?.file).toBe('/usr/bin/node');
    expect(plan?.env).toEqual({ ...ALLOCATOR_ENV, PATH: '/bin', MALLOC_ARENA_MAX: '4' });
  });

  it('does nothing once every name is set, off glibc, or without execve', () => {
    expect(allocatorReexec({ ...base, env: { ...ALLOCATOR_ENV } })).toBeUndefined();
    expect(allocatorReexec({ ...base, env: {}, glibc: false })).toBeUndefined();
    expect(allocatorReexec({ ...base, env: {}, canExecve: false })).toBeUndefined();
  });

  const glibc =
    typeof (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime === 'string';
  it.runIf(glibc && typeof process.execve === 'function')(
    'replaces the process in place: same pid, same arguments, the settings in its environment',
    () => {
      const script = `
      import { applyAllocatorPolicy } from ${JSON.stringify(HEAP_TS)};
      applyAllocatorPolicy();
      console.log(JSON.stringify({ pid: process.pid, argv: process.argv.slice(1), arena: process.env.MALLOC_ARENA_MAX, mmap: process.env.MALLOC_MMAP_THRESHOLD_ }));`;
      const env = { ...process.env };
      for (const k of Object.keys(ALLOCATOR_ENV)) delete env[k];
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'serve', '--no-worker'], { env, encoding: 'utf8' });
      expect(child.stderr).toBe('');
      const out = JSON.parse(child.stdout.trim()) as { pid: number; argv: string[]; arena: string; mmap: string };
      expect(out).toEqual({
        pid: child.pid,
        argv: ['serve', '--no-worker'],
        arena: ALLOCATOR_ENV.MALLOC_ARENA_MAX,
        mmap: ALLOCATOR_ENV.MALLOC_MMAP_THRESHOLD_,
      });
      // Printed once: the first image was replaced, not run on beside the second.
      expect(child.stdout.trim().split('\n')).toHaveLength(1);
    },
  );
});
