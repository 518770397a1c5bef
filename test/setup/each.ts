import fc from 'fast-check';

/**
 * Property tests draw the same cases on every run, so a run cannot fail by chance: a failure is
 * the code's, and the next run shows it again. `FC_SEED=<n>` replays another draw; `FC_SEED=random`
 * hunts with a fresh one (fast-check prints the seed of a failure to replay it).
 */
const seed = process.env.FC_SEED;
if (seed !== 'random') fc.configureGlobal({ seed: seed ? Number(seed) : 20261130 });
