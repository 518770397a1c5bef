import { applyAllocatorPolicy } from '../lib/heap.ts';

/**
 * The entry of `npm start` and `npm run hearth`. For `serve` and `worker` the allocator policy may
 * restart the process in place (src/lib/heap.ts); doing it here, before the CLI's imports are
 * loaded (about a second of CPU), makes that restart cost one bare start of Node, not two of the
 * whole CLI. Everything else is src/cli/hearth.ts.
 */
const command = process.argv[2];
if (command === 'serve' || command === 'worker') applyAllocatorPolicy();
await import('./hearth.ts');
