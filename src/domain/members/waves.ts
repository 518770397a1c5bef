import { isIP } from 'node:net';
import { sql, type Kysely } from 'kysely';
import type { Database, Member, WaveDimension } from '../../../db/types.ts';
import { hmac } from '../../lib/tokens.ts';
import { NotFoundError } from '../../lib/errors.ts';
import { queueAlerts } from '../live/alerts.ts';
import { publishLive } from '../live/events.ts';
import { agentClass } from '../tracking/agents.ts';

/**
 * Sign-up waves, caught as they happen (beside the comment burst detector, community/burst.ts).
 * Every new sign-up leaves a signal: its address pattern, its network (an HMAC of the /24 or
 * /48: no raw IP), its browser class and its landing page. When one of these keys has many
 * sign-ups within minutes, far above its own normal rate, a wave opens: this sign-up and the
 * next ones of the key are held (recorded, not mailed) until staff release (each confirmation
 * is queued once) or drop them (never mailed) in one action. Separately, a site-wide ceiling on
 * confirmation emails per hour holds what passes it in a 'ceiling' wave, released hour by hour.
 * Staff are alerted once per wave (live feed and the signup_wave alert).
 */
export const WAVE_RULE = {
  windowMinutes: 10,
  /** At least this many sign-ups of one key in the window… */
  minSignups: 20,
  /** …and this many times the key's normal rate for such a window (over baselineDays). */
  factor: 10,
  baselineDays: 7,
};
export type WaveRule = typeof WAVE_RULE;

/** Confirmation emails per hour, site-wide, when staff set none (settings key below). */
export const DEFAULT_CONFIRMATIONS_PER_HOUR = 500;
export const CEILING_SETTING = 'signup_confirmations_per_hour';

/** An address's shape: letters → a, digits → 9, runs collapsed, the domain kept. "jo.smith42@x.io" → "a.a9@x.io". */
export function addressPattern(email: string): string {
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at).toLowerCase();
  const shape = local
    .replace(/\p{L}+/gu, 'a')
    .replace(/\d+/g, '9')
    .replace(/[^a9]+/g, (m) => m[0]!);
  return `${shape}@${email.slice(at + 1).toLowerCase()}`;
}

/** The /24 (IPv4) or /48 (IPv6) an address is in, as text (hashed before it is stored). */
export function networkOf(ip: string): string {
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.\d+$/i.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (isIP(ip) === 6) {
    const [head] = ip.toLowerCase().split('::');
    const groups = (head ?? '').split(':').filter(Boolean);
    const full = ip.includes('::') ? [...groups, '0', '0', '0'].slice(0, 3) : ip.toLowerCase().split(':').slice(0, 3);
    return `${full.join(':')}::/48`;
  }
  return ip;
}

/** A browser class: the agent class, the engine's family and major version, the platform. */
export function browserClass(userAgent: string | null | undefined): string {
  const ua = userAgent ?? '';
  const family = /(Firefox|Edg|OPR|Chrome|Version)\/(\d+)/.exec(ua);
  const platform = /\((Windows|Macintosh|iPhone|iPad|Android|Linux|X11)/.exec(ua)?.[1] ?? '';
  return [agentClass(ua), family ? `${family[1]}/${family[2]}` : '', platform].join(' ').trim();
}

/** Pure: whether `recent` sign-ups of one key in a window are a wave, given `baseline` per window normally. */
export function isWave(recent: number, baseline: number, rule: WaveRule = WAVE_RULE): boolean {
  return recent >= rule.minSignups && recent >= rule.factor * Math.max(baseline, 1);
}

interface HoldInput {
  member: Pick<Member, 'id' | 'email' | 'landing_page' | 'source_platform'>;
  newsletterIds: string[];
  /** Only a new sign-up leaves a signal; a repeated one may still meet the ceiling. */
  isNew: boolean;
  request: { clientIp: string; userAgent?: string | null | undefined };
}

/** In the sign-up's transaction: true when it is held (its confirmation is not to be queued now). */
export async function holdSignup(db: Kysely<Database>, secret: string, input: HoldInput): Promise<boolean> {
  if (input.isNew) {
    const signal = {
      member_id: input.member.id,
      pattern: addressPattern(input.member.email),
      network: hmac(secret, 'signup:network', networkOf(input.request.clientIp)),
      agent: browserClass(input.request.userAgent),
      landing: input.member.landing_page ?? '',
    };
    await db
      .insertInto('signup_signals')
      .values(signal)
      .onConflict((oc) => oc.column('member_id').doNothing())
      .execute();
    for (const dimension of ['pattern', 'network', 'agent', 'landing'] as const) {
      const key = signal[dimension];
      if (dimension === 'landing' && key === '') continue;
      const wave = await waveFor(db, dimension, key);
      if (wave) return hold(db, input, wave);
    }
  }
  const ceiling = await confirmationsCeiling(db);
  const used = await hourlyConfirmations(db);
  if (used + 1 <= ceiling) {
    await countConfirmation(db);
    return false;
  }
  const wave = await openWave(
    db,
    'ceiling',
    'site',
    `More than ${ceiling} confirmation emails in an hour: the rest wait for the next hours.`,
  );
  return hold(db, input, wave);
}

/** The open wave of this key, or a new one when its recent sign-ups are far above its normal rate. */
async function waveFor(db: Kysely<Database>, dimension: WaveDimension, key: string): Promise<string | undefined> {
  const open = await db
    .selectFrom('signup_waves')
    .select('id')
    .where('dimension', '=', dimension)
    .where('key', '=', key)
    .where('closed_at', 'is', null)
    .executeTakeFirst();
  if (open) return open.id;
  const col = sql.ref(dimension);
  // Counted after the key's last closed wave: released sign-ups do not open the next one.
  const counts = await sql<{ recent: number; before: number }>`
    with since as (
      select coalesce(max(closed_at), '-infinity'::timestamptz) as t from signup_waves where dimension = ${dimension} and key = ${key}
    )
    select
      count(*) filter (where created_at > now() - make_interval(mins => ${WAVE_RULE.windowMinutes}) and created_at > (select t from since))::int as recent,
      count(*) filter (where created_at <= now() - make_interval(mins => ${WAVE_RULE.windowMinutes}))::int as before
    from signup_signals
    where ${col} = ${key} and created_at > now() - make_interval(days => ${WAVE_RULE.baselineDays})
  `.execute(db);
  const { recent, before } = counts.rows[0]!;
  const windows = (WAVE_RULE.baselineDays * 24 * 60) / WAVE_RULE.windowMinutes;
  const baseline = before / windows;
  if (!isWave(recent, baseline)) return undefined;
  const label = { pattern: 'addresses shaped', network: 'one network', agent: 'one browser class', landing: 'landing page', ceiling: '' }[
    dimension
  ];
  const shown = dimension === 'network' ? '(hashed)' : `"${key}"`;
  return openWave(
    db,
    dimension,
    key,
    `${recent} sign-ups in ${WAVE_RULE.windowMinutes} minutes from ${label} ${shown}; normally ${baseline.toFixed(2)} in as long.`,
  );
}

async function openWave(db: Kysely<Database>, dimension: WaveDimension, key: string, reason: string): Promise<string> {
  const made = await sql<{ id: string }>`
    insert into signup_waves (dimension, key, reason) values (${dimension}, ${key}, ${reason})
    on conflict (dimension, key) where closed_at is null do nothing returning id
  `.execute(db);
  if (made.rows[0]) {
    const id = made.rows[0].id;
    await publishLive(db, 'signup.wave', { id, dimension, reason });
    await queueAlerts(db, 'signup.wave', { id, dimension, reason });
    return id;
  }
  const open = await db
    .selectFrom('signup_waves')
    .select('id')
    .where('dimension', '=', dimension)
    .where('key', '=', key)
    .where('closed_at', 'is', null)
    .executeTakeFirstOrThrow();
  return open.id;
}

async function hold(db: Kysely<Database>, input: HoldInput, waveId: string): Promise<true> {
  await db
    .insertInto('signup_holds')
    .values({ member_id: input.member.id, wave_id: waveId, newsletter_ids: input.newsletterIds })
    .onConflict((oc) =>
      oc.column('member_id').doUpdateSet({ wave_id: waveId, newsletter_ids: input.newsletterIds, released_at: null, dropped_at: null }),
    )
    .execute();
  return true;
}

/** The ceiling staff set (Admin → Waves), else the default. */
export async function confirmationsCeiling(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', CEILING_SETTING).executeTakeFirst();
  const v = Number(row?.value);
  return Number.isInteger(v) && v > 0 ? v : DEFAULT_CONFIRMATIONS_PER_HOUR;
}

export async function setConfirmationsCeiling(db: Kysely<Database>, perHour: number): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key: CEILING_SETTING, value: JSON.stringify(perHour) })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(perHour), updated_at: new Date() }))
    .execute();
}

const HOUR_SECONDS = 3600;
const CEILING_KEY = 'signup:confirmations';
/** This clock hour's start, by the database's clock (one clock for every process). */
const hourStart = sql`to_timestamp(floor(extract(epoch from now()) / ${HOUR_SECONDS}) * ${HOUR_SECONDS})`;

/**
 * Confirmations queued in the last hour, site-wide: a sliding estimate over clock-hour counters
 * in rate_limits (as src/lib/rate-limit.ts): this hour's, plus the previous hour's weighted by how
 * much of it the last sixty minutes still cover. A plain clock-hour count forgot everything at
 * the turn of the hour (the ceiling at 10:59 and the ceiling again at 11:00), and a test of the
 * ceiling failed whenever its sign-ups straddled the hour. Pure; the counts come from the database.
 */
export function confirmationsInLastHour(counts: { hits: number; prevHits: number; elapsedSeconds: number }): number {
  const elapsed = Math.min(Math.max(counts.elapsedSeconds, 0), HOUR_SECONDS);
  return counts.hits + counts.prevHits * (1 - elapsed / HOUR_SECONDS);
}

async function hourlyConfirmations(db: Kysely<Database>): Promise<number> {
  const row = await sql<{ hits: number; prev_hits: number; elapsed: number }>`
    select coalesce((select hits from rate_limits where key = ${CEILING_KEY} and window_start = ${hourStart}), 0)::int as hits,
      coalesce((select hits from rate_limits where key = ${CEILING_KEY}
                 and window_start = ${hourStart} - make_interval(secs => ${HOUR_SECONDS})), 0)::int as prev_hits,
      extract(epoch from (now() - ${hourStart}))::float8 as elapsed
  `.execute(db);
  const r = row.rows[0]!;
  return confirmationsInLastHour({ hits: r.hits, prevHits: r.prev_hits, elapsedSeconds: r.elapsed });
}
async function countConfirmation(db: Kysely<Database>, n = 1): Promise<void> {
  await sql`insert into rate_limits (key, window_start, hits) values (${CEILING_KEY}, ${hourStart}, ${n})
    on conflict (key, window_start) do update set hits = rate_limits.hits + ${n}`.execute(db);
}

export interface WaveDeps {
  /** Queues one held sign-up's confirmation (members/subscribe.ts's queueConfirmation). */
  confirm: (
    db: Kysely<Database>,
    member: { id: string; email: string; name: string | null },
    newsletters: Array<{ id: string; name: string }>,
    idempotencyKey: string,
  ) => Promise<void>;
}

/**
 * Release: each held sign-up of the wave is mailed once (the update that marks it returns it only
 * the first time; the email's idempotency key is the member's hold). Drop: none is mailed. Either
 * closes the wave. `limit`: the ceiling wave is released at most that many at a time.
 */
export async function settleWave(
  db: Kysely<Database>,
  deps: WaveDeps,
  waveId: string,
  action: 'release' | 'drop',
  options: { limit?: number; close?: boolean } = {},
): Promise<{ released: number; dropped: number }> {
  return db.transaction().execute(async (trx) => {
    const wave = await trx.selectFrom('signup_waves').select(['id', 'closed_at']).where('id', '=', waveId).forUpdate().executeTakeFirst();
    if (!wave) throw new NotFoundError('No such sign-up wave.', 'wave_not_found');
    const pending = trx
      .selectFrom('signup_holds')
      .select('member_id')
      .where('wave_id', '=', waveId)
      .where('released_at', 'is', null)
      .where('dropped_at', 'is', null)
      .orderBy('held_at')
      .limit(options.limit ?? 1_000_000);
    const marked = await trx
      .updateTable('signup_holds')
      .set(action === 'release' ? { released_at: new Date() } : { dropped_at: new Date() })
      .where('member_id', 'in', pending)
      .where('released_at', 'is', null)
      .where('dropped_at', 'is', null)
      .returning(['member_id', 'newsletter_ids'])
      .execute();
    if (action === 'release') {
      for (const h of marked) {
        const m = await trx
          .selectFrom('members')
          .select(['id', 'email', 'name', 'status', 'language'])
          .where('id', '=', h.member_id)
          .executeTakeFirst();
        if (!m || m.status !== 'pending') continue;
        const newsletters = await trx.selectFrom('newsletters').select(['id', 'name']).where('id', 'in', h.newsletter_ids).execute();
        await deps.confirm(trx, m, newsletters, `signup-release-${m.id}-${waveId}`);
      }
      if (options.limit !== undefined) await countConfirmation(trx, marked.length);
    }
    if (options.close ?? true) await trx.updateTable('signup_waves').set({ closed_at: new Date() }).where('id', '=', waveId).execute();
    return { released: action === 'release' ? marked.length : 0, dropped: action === 'drop' ? marked.length : 0 };
  });
}

/** Hourly: confirmations held by the ceiling go out, up to the ceiling; the wave closes once empty. */
export async function releaseCeilingHolds(db: Kysely<Database>, deps: WaveDeps): Promise<number> {
  const wave = await db
    .selectFrom('signup_waves')
    .select('id')
    .where('dimension', '=', 'ceiling')
    .where('closed_at', 'is', null)
    .executeTakeFirst();
  if (!wave) return 0;
  const room = Math.floor((await confirmationsCeiling(db)) - (await hourlyConfirmations(db)));
  if (room <= 0) return 0;
  const left = await db
    .selectFrom('signup_holds')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('wave_id', '=', wave.id)
    .where('released_at', 'is', null)
    .where('dropped_at', 'is', null)
    .executeTakeFirstOrThrow();
  const r = await settleWave(db, deps, wave.id, 'release', { limit: room, close: left.n <= room });
  return r.released;
}

/** Waves with their held sign-ups (Admin → Waves, GET /api/v1/signup-waves). */
export async function listWaves(db: Kysely<Database>, options: { open?: boolean } = {}) {
  const rows = await db
    .selectFrom('signup_waves as w')
    .select([
      'w.id',
      'w.dimension',
      'w.reason',
      'w.started_at',
      'w.closed_at',
      sql<number>`(select count(*)::int from signup_holds h where h.wave_id = w.id and h.released_at is null and h.dropped_at is null)`.as(
        'held',
      ),
      sql<number>`(select count(*)::int from signup_holds h where h.wave_id = w.id and h.released_at is not null)`.as('released'),
      sql<number>`(select count(*)::int from signup_holds h where h.wave_id = w.id and h.dropped_at is not null)`.as('dropped'),
    ])
    .$if(options.open === true, (q) => q.where('w.closed_at', 'is', null))
    .orderBy('w.id', 'desc')
    .limit(100)
    .execute();
  return rows.map((w) => ({
    id: w.id,
    dimension: w.dimension,
    reason: w.reason,
    started_at: w.started_at.toISOString(),
    closed_at: w.closed_at?.toISOString() ?? null,
    held: w.held,
    released: w.released,
    dropped: w.dropped,
  }));
}

/** Signals older than the baseline are forgotten (the worker's maintenance). */
export async function forgetSignupSignals(db: Kysely<Database>): Promise<void> {
  await sql`delete from signup_signals where created_at < now() - make_interval(days => ${WAVE_RULE.baselineDays * 2})`.execute(db);
}
