import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * How far V8 lets the old generation grow past what the last full collection kept, in percent.
 * V8's default picks a factor of up to 4× for a heap with a large limit (a few GB on any machine
 * with some memory), tuned for throughput: under reader load the server's heap grew to ~450 MB
 * around ~100 MB of live objects and kept those pages after the load stopped (bench/soak.ts,
 * bench/RESULTS.md). 50 % means a full collection once the heap is half again what was live: the
 * heap follows the live set, at the cost of more (concurrent, mostly off-thread) marking.
 */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Applies the server's heap policy to this process: for long-running commands (serve, worker),
 * before they allocate much. A flag given on the command line (`node --heap-growing-percent=N`)
 * wins. Read by V8 at each collection, so setting it at run time takes effect from the next one.
 */
export function applyHeapPolicy(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}

/** Quiet this long (no request) after a busy spell before the memory is given back. */
export const IDLE_GIVE_BACK_MS = 10_000;
/** A give-back is only worth its pause when RSS is at least this far above what the last one left. */
export const GIVE_BACK_MIN_BYTES = 32 * 1024 * 1024;

let activity = 0;

/** Called for every request: a give-back waits for a quiet spell. One increment, nothing more. */
export function noteActivity(): void {
  activity++;
}

type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;
let exposedGc: GcFunction | undefined;

/**
 * V8's collector with the options of its `gc` extension. Node only exposes it with `--expose-gc`;
 * the flag set at run time installs it in contexts made after, so a fresh context hands it over
 * (the pattern of `v8.setFlagsFromString`'s own documentation) and the app's globals stay as they are.
 */
function collector(): GcFunction {
  if (!exposedGc) {
    setFlagsFromString('--expose-gc');
    exposedGc = runInNewContext('gc') as GcFunction;
  }
  return exposedGc;
}

/** V8's last-resort collection (what it runs near its heap limit): compacting, the young generation shrunk, empty pages released. */
export function giveBackMemory(): void {
  collector()({ type: 'major', flavor: 'last-resort' });
}

/**
 * Gives memory back once the server goes quiet after load: V8 keeps the heap pages it grew to
 * while nothing allocates (no collection runs in an idle process), so RSS stayed at its high-water
 * mark after the load stopped (bench/soak.ts). A last-resort collection (giveBackMemory) returns
 * them, and the Buffers it frees go back to the allocator. It runs when no request came for
 * IDLE_GIVE_BACK_MS after some did, and only if RSS is GIVE_BACK_MIN_BYTES above what the last
 * one left: a quiet site is not collected again and again. Its pause (~0.1–0.3 s with ~100 MB live)
 * falls in a quiet spell by construction. Returns a stop function; the check's timer is unref'd.
 */
export function startIdleGiveBack(
  options: { idleMs?: number; minBytes?: number; checkMs?: number; rss?: () => number; collect?: () => void; now?: () => number } = {},
): () => void {
  const idleMs = options.idleMs ?? IDLE_GIVE_BACK_MS;
  const minBytes = options.minBytes ?? GIVE_BACK_MIN_BYTES;
  const rss = options.rss ?? (() => process.memoryUsage.rss());
  const collect = options.collect ?? giveBackMemory;
  const clock = options.now ?? (() => performance.now());
  let seen = activity;
  let quietSince = clock();
  let floor = rss();
  const timer = setInterval(
    () => {
      const now = clock();
      if (activity !== seen) {
        seen = activity;
        quietSince = now;
        return;
      }
      if (now - quietSince < idleMs || rss() - floor < minBytes) return;
      collect();
      floor = rss();
    },
    options.checkMs ?? Math.max(1, Math.floor(idleMs / 4)),
  );
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * glibc malloc settings for the long-running commands, read by glibc only when a process starts.
 * MALLOC_ARENA_MAX: glibc gives threads their own arenas (up to 8 per core: libuv's pool, V8's
 * collector and compiler threads), each keeping what was freed in it (the soak found ~20 MB of
 * arenas 90 % free); 2 keeps that near what is used. MALLOC_MMAP_THRESHOLD_: blocks from 256 KiB
 * get their own mapping, returned whole when freed, instead of being carved from the main arena.
 * Not lower: Node reads every socket into a fresh 64 KiB block, and at 64 KiB each read was an
 * mmap and a munmap (the cached post page lost about a fifth of its rate: 0.84 → 0.65 of the bare
 * server, bench/post-page.ts, bench/RESULTS.md). Setting it also stops glibc
 * from raising both thresholds after each large free (up to 32 and 64 MB), which would bring large
 * blocks back into the arenas and keep up to 64 MB free at an arena's top; the trim threshold
 * stays at glibc's default, fixed.
 */
export const ALLOCATOR_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '262144',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/**
 * How to start this process again with ALLOCATOR_ENV, or undefined when there is nothing to do:
 * not glibc (musl and other systems ignore these names), no `process.execve` (Node < 22.15), or
 * every name already set — by the operator (their value wins, and naming them is how to opt out)
 * or by the re-execution itself.
 */
export function allocatorReexec(p: {
  env: NodeJS.ProcessEnv;
  execPath: string;
  execArgv: readonly string[];
  argv: readonly string[];
  glibc: boolean;
  canExecve: boolean;
}): { file: string; args: string[]; env: NodeJS.ProcessEnv } | undefined {
  const missing = Object.keys(ALLOCATOR_ENV).filter((k) => p.env[k] === undefined);
  if (missing.length === 0 || !p.canExecve || !p.glibc) return undefined;
  return { file: p.execPath, args: [p.execPath, ...p.execArgv, ...p.argv.slice(1)], env: { ...ALLOCATOR_ENV, ...p.env } };
}

/** True when this Node runs on glibc (Linux distributions other than Alpine's musl). */
function onGlibc(): boolean {
  if (process.platform !== 'linux') return false;
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  return typeof header?.glibcVersionRuntime === 'string';
}

/**
 * For `serve` and `worker`, first thing: replaces this process (same pid, arguments, flags and
 * stdio; `execve`) with one started under ALLOCATOR_ENV when that applies; otherwise returns. The
 * Docker image sets these names itself, so it starts once; `npm start` calls this from
 * src/cli/main.ts before the CLI's imports, so it pays one more bare start of Node (bench/startup.ts).
 */
export function applyAllocatorPolicy(): void {
  if (Object.keys(ALLOCATOR_ENV).every((k) => process.env[k] !== undefined) || typeof process.execve !== 'function') return;
  const plan = allocatorReexec({
    env: process.env,
    execPath: process.execPath,
    execArgv: process.execArgv,
    argv: process.argv,
    glibc: onGlibc(),
    canExecve: true,
  });
  if (plan) process.execve!(plan.file, plan.args, plan.env);
}
