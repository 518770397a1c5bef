/**
 * Imports, phase 3 — the plan and the merge. The plan reads the staged rows (import_rows) against
 * the members they match and says what the merge will do (the preview: counts, the list of
 * existing members whose state changes, paying members about to arrive as free). The merge does
 * it: staging into members, newsletters, labels and suppressions in ONE set-based transaction
 * that also marks the import done. The rules are in README.md ("The sync rules").
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueue } from '../../lib/queue.ts';
import { ValidationError } from '../../lib/errors.ts';
import { log } from '../../lib/log.ts';
import type { ImportRecord } from './read.ts';
import { emitWebhookEvent } from '../webhooks/events.ts';
import { wakeForLabels } from '../automations/enter.ts';
import { queueRollupNow } from '../stats/first-rollup.ts';
import { memberStateSql } from './fingerprint.ts';

export interface MergeCounts {
  imported: number;
  updated: number;
  rejected: number;
  pending: number;
}

/** How one source plan (or `tag:<label>`) becomes Hearth access, as staff mapped it. */
export interface PlanChoice {
  tier: string;
  access?: 'paid' | 'comp' | 'gift';
}

/** What an import will do (previewed) or did (done): shown to staff, stored in imports.summary. */
export interface ImportSummary {
  rows: number;
  new_members: number;
  existing_members: number;
  duplicates: number;
  /** Existing members whose state the file changes, by change. */
  changes: Record<string, number>;
  /** Each source plan with how many rows are on it and the Hearth tier and access it maps to (tier null: free). */
  plans: Array<{ plan: string; access: string; rows: number; tier: string | null }>;
  /** Rows whose source says paid, comp or gift, that the mapping would import as free. */
  paying_as_free: number;
  needs_confirmation: boolean;
  /** The same, in sentences for staff. */
  messages: string[];
}

/**
 * Which change each existing member gets, in words for the report. `kept_left`: the source lists
 * them as subscribed, but they left Hearth itself; `kept_newer`: the source says they left, but
 * they confirmed in Hearth after that.
 */
const CHANGE_WORDS: Record<string, [string, string]> = {
  unsubscribed: ['unsubscribed at the source will be unsubscribed here', 'unsubscribed at the source were unsubscribed here'],
  bounced: ['bounced at the source will be marked bounced here', 'bounced at the source were marked bounced here'],
  complained: ['who complained at the source will be marked complained here', 'who complained at the source were marked complained here'],
  blocked: ['blocked at the source will be blocked (suppressed) here', 'blocked at the source were blocked (suppressed) here'],
  access: [
    'will get the paid, comp or gift access their source plan maps to',
    'got the paid, comp or gift access their source plan maps to',
  ],
  kept_left: [
    'who left Hearth are still subscribed at the source: they stay unsubscribed here',
    'who left Hearth are still subscribed at the source: they stayed unsubscribed here',
  ],
  kept_newer: [
    'left the source but confirmed here since: they stay subscribed here',
    'left the source but confirmed here since: they stayed subscribed here',
  ],
};

const plural = (n: number, one: string, many: string) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

/**
 * The plan, in its own transaction: fills import_changes and returns the summary. Nothing in
 * members is touched. The merge computes it again from the same statement, under its lock, so
 * the report matches what was written even if members changed since the preview.
 */
export async function planImport(conn: Kysely<Database>, record: ImportRecord): Promise<ImportSummary> {
  return conn.transaction().execute(async (trx) => {
    await setLocalPlanning(trx);
    await createBatch(trx, record, 'none');
    return summarise(trx, record, 'will');
  });
}

/**
 * The merge, in one transaction. Statements, not rows: a temp table holds the file's first row of
 * each address with its member (if any) and what happens to it, and every write is an
 * INSERT … SELECT or UPDATE … FROM over it. New members get their ids from the members sequence
 * up front (OVERRIDING SYSTEM VALUE) so their newsletters and labels are written by the same
 * statement that inserts them. A referral-code collision (64 random bits; about one chance in
 * 10^7 per million members) fails the transaction; it is simply run again.
 *
 * No `imported` event per member (it cost a heap row, two index entries and 1.5 s per 100,000
 * members): members.import_id says which import brought a member. Only existing members whose
 * status the import changes get an event.
 */
export async function mergeStagedRows(conn: Kysely<Database>, record: ImportRecord, rows: number): Promise<MergeCounts> {
  let allowBulk = true;
  let stagedCodes = true;
  for (let attempt = 1; ; attempt++) {
    try {
      const counts = await conn.transaction().execute((trx) => mergeInTransaction(trx, record, rows, { allowBulk, stagedCodes }));
      await clearChunks(conn, record.id);
      // Imported labels entered their label_added automations (migration 0060's trigger): run them now.
      await wakeForLabels(conn);
      return counts;
    } catch (err) {
      const constraint = (err as { constraint?: unknown }).constraint;
      if (attempt < 3 && (err as { code?: unknown }).code === '23505') {
        // Run again with codes drawn by the merge itself (a new key per statement).
        if (constraint === 'members_referral_code_key') {
          stagedCodes = false;
          continue;
        }
        // A bulk merge's unique index found what the ordinary merge's ON CONFLICT would have
        // skipped (two addresses that only lower() makes equal): the ordinary merge it is.
        if (allowBulk && (constraint === 'members_email_key' || constraint === 'members_stripe_customer_key')) {
          allowBulk = false;
          continue;
        }
      }
      throw err;
    }
  }
}

/** The plan mapping resolved to tier ids: by source plan, and by label (`tag:<label>` keys). */
interface ResolvedPlans {
  plans: Array<{ plan: string; tier_id: string | null; tier: string | null; access: string | null }>;
  tags: Array<{ label: string; tier_id: string | null; access: string | null }>;
}

/**
 * Staff's mapping first; a source plan staff did not map goes to the Hearth tier with the same
 * slug or name, if there is one (a Ghost tier named "Gold" → the tier "Gold"); otherwise free.
 */
async function resolvePlans(db: Kysely<Database>, record: ImportRecord): Promise<ResolvedPlans> {
  const tiers = await db.selectFrom('tiers').select(['id', 'slug', 'name']).execute();
  const bySlug = new Map(tiers.map((t) => [t.slug, t]));
  const byName = new Map(tiers.map((t) => [t.name.toLowerCase(), t]));
  const choices = new Map(Object.entries(record.plans ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const staged = await db
    .selectFrom('import_rows')
    .select('plan')
    .distinct()
    .where('import_id', '=', record.id)
    .where('plan', 'is not', null)
    .limit(1000)
    .execute();
  const resolved: ResolvedPlans = { plans: [], tags: [] };
  const tierOf = (slug: string) => {
    const tier = bySlug.get(slug);
    if (!tier) throw new ValidationError(`The plan mapping names a tier "${slug.slice(0, 60)}" this site does not have.`, 'unknown_tier');
    return tier.slug === 'free' ? null : tier;
  };
  for (const { plan } of staged) {
    const key = plan!.toLowerCase();
    const choice = choices.get(key);
    const tier = choice ? tierOf(choice.tier) : (bySlug.get(key) ?? byName.get(key) ?? null);
    const paid = tier && tier.slug !== 'free' ? tier : null;
    resolved.plans.push({ plan: plan!, tier_id: paid?.id ?? null, tier: paid?.slug ?? null, access: choice?.access ?? null });
  }
  for (const [key, choice] of choices) {
    if (!key.startsWith('tag:')) continue;
    const tier = tierOf(choice.tier);
    resolved.tags.push({ label: key.slice(4).trim(), tier_id: tier?.id ?? null, access: choice.access ?? 'comp' });
  }
  return resolved;
}

/**
 * The plan's and the merge's statements each read every staged row once, in one pass: room to sort
 * and hash a million rows in memory, and no JIT. A server built with LLVM (Debian's, for one)
 * compiles each statement whose estimated cost passes jit_above_cost, and the merge's estimates
 * (a lateral join per row) pass jit_optimize_above_cost and jit_inline_above_cost too: compiling
 * cost more than it saved (per million members, the newsletters insert 0.91–0.94 → 0.78 s, the
 * facet counts 0.38 → 0.20 s; bench/RESULTS.md).
 */
async function setLocalPlanning(trx: Transaction<Database>): Promise<void> {
  await sql`set local work_mem = '256MB'`.execute(trx);
  await sql`set local jit = off`.execute(trx);
  // The staging tables' ANALYZEs (createBatch) are for row counts and null fractions, which a
  // sample of 3,000 rows gives as well as the default 30,000.
  await sql`set local default_statistics_target = 10`.execute(trx);
}

/**
 * How the batch gives new members their ids: `drawn` from the members sequence row by row in file
 * order, as one `block` reserved up front (only under the bulk lock), or `none` (the preview writes
 * no member, and so draws no id).
 */
type NewIds = 'drawn' | 'block' | 'none';

/**
 * import_batch: the file's first row per address, its member, and the decisions the plan and the
 * merge share (next status, access granted, customer id kept). One statement; the decisions are
 * plain CASEs over one row, so they read as the rules in README.md.
 */
async function createBatch(trx: Transaction<Database>, record: ImportRecord, ids: NewIds): Promise<void> {
  const importId = record.id;
  // The staged rows were just written: without statistics the planner takes a million rows for
  // a few hundred (nested loops, index probes per row).
  await sql`analyze import_rows`.execute(trx);
  const resolved = await resolvePlans(trx, record);
  // Who keeps a Stripe customer or a referral code needs a window over the file (a sort of every
  // row); most files have neither column. The last row number sizes a block of new ids.
  const keeps = (
    await sql<{ customers: boolean; codes: boolean; last: string | null }>`
      select coalesce(bool_or(stripe_customer_id is not null), false) as customers, coalesce(bool_or(referral_code is not null), false) as codes,
        max(row_number) as last
      from import_rows where import_id = ${importId}`.execute(trx)
  ).rows[0]!;
  // The sequence by its oid, as a literal: a parameter cast to regclass is a catalog lookup per row.
  const sequence = (await sql<{ oid: number }>`select pg_get_serial_sequence('members', 'id')::regclass::oid as oid`.execute(trx)).rows[0]!
    .oid;
  const sequenceLiteral = sql.raw(`${Number(sequence)}::regclass`);
  let newId = sql`null::bigint`;
  if (ids === 'drawn') newId = sql`nextval(${sequenceLiteral})`;
  else if (ids === 'block') {
    // One block of ids, one per row number: the row's number above the sequence's next value
    // (the ids of duplicate rows stay unused, as a sequence's gaps do). Only under the bulk lock:
    // nobody else can insert a member, so nobody else draws from the sequence meanwhile.
    const base = (await sql<{ base: string }>`select nextval(${sequenceLiteral}) as base`.execute(trx)).rows[0]!.base;
    await sql`select setval(${sequenceLiteral}, ${base}::bigint + ${keeps.last ?? 0}::bigint)`.execute(trx);
    newId = sql`${base}::bigint + b.row_number`;
  }
  // Hashing every address costs a second per million; skip it while nothing is suppressed. A join
  // that has nothing to add is a cross join with one row of nulls, which the planner folds into
  // the select list (a left join on false ran an empty node per row: three per staged row).
  const anySuppressed = (await trx.selectFrom('suppressions').select('email_hash').limit(1).execute()).length > 0;
  const suppressionJoin = anySuppressed
    ? sql`left join suppressions s on s.email_hash = encode(sha256(convert_to(f.email, 'UTF8')), 'hex')`
    : sql`cross join (select null::text as reason) s`;
  const planJoin =
    resolved.plans.length > 0
      ? sql`left join jsonb_to_recordset(${JSON.stringify(resolved.plans)}::jsonb) as p(plan text, tier_id bigint, tier text, access text) on p.plan = f.plan`
      : sql`cross join (select null::bigint as tier_id, null::text as tier, null::text as access) p`;
  const tagJoin =
    resolved.tags.length > 0
      ? sql`left join lateral (
          select x.tier_id, x.access from jsonb_to_recordset(${JSON.stringify(resolved.tags)}::jsonb) as x(label text, tier_id bigint, access text)
          where cardinality(f.labels) > 0 and exists (select 1 from unnest(f.labels) l where lower(l) = x.label)
          order by x.tier_id nulls last limit 1) g on f.plan is null`
      : sql`cross join (select null::bigint as tier_id, null::text as access) g`;
  const trustStatus = record.format === 'hearth';
  // Rows staging skipped as unchanged (fingerprint.ts): the batch needs each member's fingerprint
  // under their state now, to find an address that the file also has on another row.
  const anySkipped =
    (await trx.selectFrom('import_skips').select('row_number').where('import_id', '=', importId).limit(1).execute()).length > 0;
  const memberFingerprint = anySkipped
    ? sql.raw(`case when m.import_fingerprint is not null then m.import_fingerprint # ${memberStateSql('m')} end`)
    : sql`null::bigint`;

  // A few staged rows against many members (a re-import whose unchanged rows were skipped): each
  // address is looked up in members' index on lower(email) instead of hashing every member's
  // lower(email) (a million: 1 s, against 30 ms for 10,000 lookups). Estimates: import_rows was
  // just analysed, and members' count is kept by ANALYZE, VACUUM and index builds.
  const fewRows = (
    await sql<{ few: boolean }>`
      select coalesce((select reltuples from pg_class where oid = 'import_rows'::regclass) * 4
        < (select reltuples from pg_class where oid = 'members'::regclass), false) as few`.execute(trx)
  ).rows[0]!.few;
  // The file's later rows of an address: the batch is every other staged row, and the duplicates
  // report reads them here. Grouped by sorting (bytewise, on abbreviated keys), not hashing: a
  // hash table of a million addresses is 170 MB of cache misses (0.94 → 0.63 s per million rows).
  await sql`set local enable_hashagg = off`.execute(trx);
  await sql`
    create temp table import_dups on commit drop as
    select r.row_number, r.email, f.first
    from import_rows r
    join (
      select x.email collate "C" as email, min(x.row_number) as first
      from import_rows x where x.import_id = ${importId}
      group by 1 having count(*) > 1
    ) f on f.email = r.email collate "C"
    where r.import_id = ${importId} and r.row_number <> f.first
  `.execute(trx);
  await sql`set local enable_hashagg to default`.execute(trx);
  await sql`create index on import_dups (row_number)`.execute(trx);
  await sql`analyze import_dups`.execute(trx);
  if (fewRows) {
    await sql`set local enable_hashjoin = off`.execute(trx);
    await sql`set local enable_mergejoin = off`.execute(trx);
  }
  await sql`
    create temp table import_batch on commit drop as
    select b.*,
      case when b.member_id is null then ${newId} end as new_id,
      -- What an existing member becomes. A state the source gives wins unless the member confirmed
      -- here after it (a dated state older than their confirmation); a re-import never re-subscribes.
      case
        when b.member_id is null then null
        when b.status not in ('unsubscribed', 'bounced', 'complained', 'blocked') then b.member_status
        when b.state_at is not null and b.member_confirmed_at is not null and b.state_at < b.member_confirmed_at then b.member_status
        when b.status = 'complained' and b.member_status <> 'complained' then 'complained'
        when b.status = 'bounced' and b.member_status not in ('bounced', 'complained') then 'bounced'
        when b.status in ('unsubscribed', 'blocked') and b.member_status in ('active', 'pending') then 'unsubscribed'
        else b.member_status
      end as next_status,
      -- What a new member starts as: the source's state, a suppression, or (subscribed) pending
      -- until confirmed, unless staff stated consent (or the file is Hearth's own export).
      case
        when b.member_id is not null then null
        when b.status = 'complained' or b.suppressed = 'complained' then 'complained'
        when b.status = 'bounced' or b.suppressed = 'bounced' then 'bounced'
        when b.status in ('unsubscribed', 'blocked') or b.suppressed is not null then 'unsubscribed'
        when b.status = 'pending' then 'pending'
        when ${trustStatus} or ${record.mark_confirmed} then 'active'
        else 'pending'
      end as new_status
    from (
      select f.row_number, f.email, f.name, f.status, f.created_at, f.labels, f.utm_source, f.utm_medium, f.utm_campaign,
             f.referrer, f.notes, f.plan, f.state_at, f.confirmed_at, f.newsletters, f.platform, f.ref, f.fields, f.language,
             f.fingerprint, f.drawn_code, m.id as member_id, m.status as member_status, m.confirmed_at as member_confirmed_at,
             ${memberFingerprint} as member_fingerprint,
             s.reason as suppressed,
             coalesce(f.access, case when g.tier_id is not null then 'comp' end) as source_access,
             coalesce(p.tier_id, g.tier_id) as grant_tier,
             coalesce(p.access, g.access, f.access, 'comp') as grant_access,
             case when coalesce(p.access, g.access, f.access) in ('comp', 'gift') then f.access_until end as grant_until,
             -- Access is granted to a new member, or to one still on the free tier by default;
             -- paid or comped access already set in Hearth is Hearth's to keep.
             (coalesce(p.tier_id, g.tier_id) is not null and (m.id is null or (m.tier_source = 'default' and m.tier_id = ${freeTierId()})))
               as grants,
             -- A Stripe customer belongs to one member: kept when nobody else (in Hearth, or
             -- earlier in the file) has it, and when the member has none yet.
             ${
               keeps.customers
                 ? sql`case when f.stripe_customer_id is not null and m.stripe_customer_id is null
                   and row_number() over (partition by f.stripe_customer_id order by f.row_number) = 1
                   and not exists (select 1 from members o where o.stripe_customer_id = f.stripe_customer_id)
                  then f.stripe_customer_id end`
                 : sql`null::text`
             } as customer,
             ${
               keeps.codes
                 ? sql`case when f.referral_code is not null
                   and row_number() over (partition by f.referral_code order by f.row_number) = 1
                   and not exists (select 1 from members o where o.referral_code = f.referral_code)
                  then f.referral_code end`
                 : sql`null::text`
             } as keep_code
      from (
        -- One row per address: the first (import_dups holds the others). Staged addresses are
        -- already lower case (normaliseEmail), so they are compared byte by byte: lower() under
        -- the database's collation costs more than the rest of the batch. (A bulk merge whose
        -- unique index then finds two equal after all is run again as an ordinary one; see
        -- mergeStagedRows.)
        select r.*
        from import_rows r
        where r.import_id = ${importId} and not exists (select 1 from import_dups d where d.row_number = r.row_number)
      ) f
      left join members m on lower(m.email) = f.email
      ${suppressionJoin}
      ${planJoin}
      ${tagJoin}
    ) b
    -- New ids are drawn in file order, so members list in the order of the file (a block of ids
    -- follows the row numbers without this sort of the whole batch).
    ${ids === 'drawn' ? sql`order by b.row_number` : sql``}
  `.execute(trx);
  if (fewRows) {
    await sql`set local enable_hashjoin to default`.execute(trx);
    await sql`set local enable_mergejoin to default`.execute(trx);
  }
  await sql`analyze import_batch`.execute(trx);
  // A member's skipped row and a staged row of the same address: the earlier is the address's
  // first row, the later a duplicate of it. A staged row after the skipped one leaves the batch.
  await sql`
    create temp table import_clash on commit drop as
    select b.row_number as r, b.email, s.row_number as h
    from import_batch b join import_skips s on s.import_id = ${importId} and s.fingerprint = b.member_fingerprint
    where ${anySkipped} and b.member_fingerprint is not null
  `.execute(trx);
  if (anySkipped) await sql`delete from import_batch b using import_clash c where c.r = b.row_number and c.h < c.r`.execute(trx);
}

/** Skipped rows that count as their member's row (not a duplicate of an earlier staged row). */
async function countSkipped(trx: Transaction<Database>, importId: string): Promise<number> {
  const row = (
    await sql<{ n: string }>`
      select (select count(*) from import_skips where import_id = ${importId}) - (select count(*) from import_clash where h > r) as n`.execute(
      trx,
    )
  ).rows[0]!;
  return Number(row.n);
}

/**
 * The insert triggers that keep member_facets (0057), which a bulk merge replaces by one statement.
 * Dropped for the bulk inserts and created again from their definitions (in the same transaction),
 * not disabled: PostgreSQL still fills a disabled trigger's transition table, a copy of every
 * inserted row (a million new members: 150 MB written to temporary files).
 */
const FACET_TRIGGERS = [
  { table: 'members', name: 'member_facets_insert' },
  { table: 'member_newsletters', name: 'member_facets_subscribe' },
];

/** Drops the facet insert triggers; returns the statements that create them again. */
async function dropFacetTriggers(trx: Transaction<Database>): Promise<string[]> {
  const definitions: string[] = [];
  for (const { table, name } of FACET_TRIGGERS) {
    const found = await sql<{ definition: string }>`
      select pg_get_triggerdef(t.oid) as definition from pg_trigger t
      where t.tgrelid = ${table}::regclass and t.tgname = ${name} and not t.tgisinternal`.execute(trx);
    if (found.rows[0]) {
      definitions.push(found.rows[0].definition);
      await sql.raw(`drop trigger ${name} on ${table}`).execute(trx);
    }
  }
  return definitions;
}

/** Tables a bulk merge writes without their secondary indexes and foreign keys. */
const BULK_TABLES = ['members', 'member_newsletters', 'member_labels'];
/** When a merge is a bulk one (tests lower it to exercise the path with a small file). */
export const bulkMerge = { minNewMembers: 50_000 };

/**
 * Step 1 of a bulk merge, before the batch is read: whether this merge may be one, and if so the
 * lock; returns the number of members already there (null: an ordinary merge). A first import into a (nearly) empty site — at least 50,000 staged rows and twice the
 * members already there — takes an exclusive lock on members and their newsletters and labels
 * for the whole merge (a few seconds per 100,000 members), if it is free within 2 s; otherwise
 * the merge is an ordinary one. With the lock held from before the batch is read, nobody can add
 * a member the batch did not see, so the merge needs no conflict handling (and no unique index
 * while it writes).
 */
async function lockForBulk(trx: Transaction<Database>, importId: string): Promise<number | null> {
  const staged = Number(
    (await sql<{ n: string }>`select count(*) as n from import_rows where import_id = ${importId}`.execute(trx)).rows[0]!.n,
  );
  if (staged < bulkMerge.minNewMembers) return null;
  // Counted, not estimated: right after a bulk load the planner's estimate can still say 0.
  const limit = Math.floor(staged / 2) + 1;
  const members = Number(
    (await sql<{ n: string }>`select count(*) as n from (select 1 from members limit ${limit}) m`.execute(trx)).rows[0]!.n,
  );
  if (members >= limit) return null;
  await sql`savepoint bulk_lock`.execute(trx);
  try {
    await sql`set local lock_timeout = '2s'`.execute(trx);
    await sql.raw(`lock table ${BULK_TABLES.join(', ')} in access exclusive mode`).execute(trx);
    await sql`set local lock_timeout = 0`.execute(trx);
    await sql`release savepoint bulk_lock`.execute(trx);
    return members;
  } catch {
    await sql`rollback to savepoint bulk_lock`.execute(trx);
    return null;
  }
}

/**
 * Step 2, once the batch says how many members are new: maintaining each index and checking each
 * foreign key row by row costs far more than building the index once (a sorted build) and
 * checking the key with one join (step 3). So every index of members, member_newsletters and
 * member_labels but members' primary key (other tables reference it), unique ones and the link
 * tables' primary keys included, and their foreign keys and unique constraints are dropped inside
 * the merge's transaction, and added again before it commits, the foreign keys NOT VALID (DDL is
 * transactional: a crash or an error leaves them as they were). Returns the statements that put
 * them back, unique ones first: a duplicate (a referral code drawn twice: one chance in 10^7 per
 * million members) fails the transaction under the constraint's name, and the merge runs again.
 */
async function dropForBulk(trx: Transaction<Database>): Promise<string[]> {
  const constraints = await sql<{ tbl: string; name: string; definition: string; kind: string }>`
    select k.conrelid::regclass::text as tbl, quote_ident(k.conname) as name, pg_get_constraintdef(k.oid) as definition, k.contype as kind
    from pg_constraint k
    where k.conrelid = any(${BULK_TABLES}::regclass[])
      and (k.contype in ('u', 'f') or (k.contype = 'p' and k.conrelid <> 'members'::regclass))
  `.execute(trx);
  const indexes = await sql<{ name: string; definition: string; is_unique: boolean }>`
    select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name, pg_get_indexdef(i.indexrelid) as definition, i.indisunique as is_unique
    from pg_index i
    join pg_class c on c.oid = i.indexrelid
    join pg_namespace n on n.oid = c.relnamespace
    where i.indrelid = any(${BULK_TABLES}::regclass[]) and not i.indisprimary
      and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.conrelid = i.indrelid)
  `.execute(trx);
  for (const k of constraints.rows) await sql.raw(`alter table ${k.tbl} drop constraint ${k.name}`).execute(trx);
  for (const index of indexes.rows) await sql.raw(`drop index ${index.name}`).execute(trx);
  await sql`set local maintenance_work_mem = '256MB'`.execute(trx);
  await capIndexBuildWorkers(trx);
  const add = (k: { tbl: string; name: string; definition: string }) => `alter table ${k.tbl} add constraint ${k.name} ${k.definition}`;
  // A foreign key comes back NOT VALID (enforced for every row written from then on) and is
  // validated after the commit: see validateBulkKeys. (One the last bulk merge left NOT VALID
  // says so in its definition already.)
  const notValid = (k: { tbl: string; name: string; definition: string }) =>
    `${add({ ...k, definition: k.definition.replace(/\s+NOT VALID$/i, '') })} not valid`;
  return [
    ...constraints.rows.filter((k) => k.kind === 'p' || k.kind === 'u').map(add),
    ...indexes.rows.filter((i) => i.is_unique).map((i) => i.definition),
    ...indexes.rows.filter((i) => !i.is_unique).map((i) => i.definition),
    ...constraints.rows.filter((k) => k.kind === 'f').map(notValid),
  ];
}

/**
 * An index build (btree) takes up to max_parallel_maintenance_workers helpers besides the session
 * itself. On a database on this machine (a Unix socket or loopback: the embedded one, or a server
 * installed alongside), more processes than cores only take turns: on two cores, the default two
 * helpers built a million members' indexes in 6.2–6.8 s, one helper in 5.7–5.9 s. A database
 * elsewhere keeps its own setting.
 */
export async function capIndexBuildWorkers(trx: Transaction<Database>): Promise<void> {
  const helpers = Math.max(availableParallelism() - 1, 0);
  await sql`
    select set_config('max_parallel_maintenance_workers', least(current_setting('max_parallel_maintenance_workers')::int, ${helpers}::int)::text, true)
    where inet_server_addr() is null or host(inet_server_addr()) in ('127.0.0.1', '::1')`.execute(trx);
}

/**
 * Step 3 of a bulk merge, after its commit (the `import_validate_keys` job it queues): the foreign
 * keys of members, member_newsletters and member_labels that it added back NOT VALID are
 * validated, one statement each. Checking them inside the merge held its exclusive lock for
 * 0.9 s per million members, for rows the merge itself had just written from members it had just
 * inserted; VALIDATE CONSTRAINT locks only against schema changes (SHARE UPDATE EXCLUSIVE), so
 * members are read and written meanwhile, and every row written since the merge was checked
 * already. Returns how many keys were validated; with none left it does nothing, so a job run
 * twice (a worker killed midway) is harmless.
 */
export async function validateBulkKeys(db: Kysely<Database>): Promise<number> {
  const pending = await sql<{ tbl: string; name: string }>`
    select k.conrelid::regclass::text as tbl, quote_ident(k.conname) as name
    from pg_constraint k
    where k.conrelid = any(${BULK_TABLES}::regclass[]) and k.contype = 'f' and not k.convalidated
    order by 1, 2`.execute(db);
  for (const k of pending.rows) await sql.raw(`alter table ${k.tbl} validate constraint ${k.name}`).execute(db);
  return pending.rows.length;
}

/**
 * A new member's referral code when their staged row has none (staged before 0097) or the merge
 * runs again after a code collision: 64 bits of SHA-256 over a key drawn for this statement (32
 * random bytes, never stored) and the member's id, as 16 hex digits with 0 and 1 read as y and z
 * (the shape of staging's codes, stage.ts codeDrawer). As unpredictable as a code drawn per member;
 * a new key per statement, so a merge run again draws other codes. Staging's codes are preferred:
 * SHA-256 per new member cost 1.3 s of a million-member insert.
 */
function referralCodeSql(id: ReturnType<typeof sql>) {
  const key = randomBytes(32);
  return sql`translate(encode(substring(sha256(${key}::bytea || int8send(${id}::bigint)) for 8), 'hex'), '01', 'yz')`;
}

/** The free tier's id, as a subquery: every site has it (0001). */
const freeTierId = () => sql`(select id from tiers where slug = 'free')`;

/** Rewrites import_changes from the batch and sums it all up. `tense`: 'will' for a preview, 'did' once merged. */
async function summarise(trx: Transaction<Database>, record: ImportRecord, tense: 'will' | 'did'): Promise<ImportSummary> {
  const importId = record.id;
  await trx.deleteFrom('import_changes').where('import_id', '=', importId).execute();
  await sql`
    insert into import_changes (import_id, email, member_id, change, detail)
    select ${importId}, c.email, c.member_id, c.change, c.detail
    from (
      select b.email, b.member_id,
        case
          when b.status = 'blocked' and b.next_status = 'unsubscribed' then 'blocked'
          when b.next_status <> b.member_status then b.next_status
          when b.grants then 'access'
          when b.status in ('active', 'pending') and b.member_status in ('unsubscribed', 'bounced', 'complained') then 'kept_left'
          when b.status in ('unsubscribed', 'bounced', 'complained', 'blocked') and b.member_status in ('active', 'pending') then 'kept_newer'
        end as change,
        case when b.grants then coalesce((select slug from tiers where id = b.grant_tier), '') || ' (' || b.grant_access || ')' end as detail
      from import_batch b
      where b.member_id is not null
    ) c
    where c.change is not null
  `.execute(trx);
  const changeRows = await sql<{ change: string; n: string }>`
    select change, count(*) as n from import_changes where import_id = ${importId} group by change`.execute(trx);
  const totals = (
    await sql<{ new_members: string; existing: string; paying_as_free: string; staged: string; rows: string }>`
      select count(*) filter (where member_id is null) as new_members,
             count(*) filter (where member_id is not null) as existing,
             count(*) filter (where source_access is not null and grant_tier is null) as paying_as_free,
             (select count(*) from import_rows where import_id = ${importId}) + (select count(*) from import_skips where import_id = ${importId}) as staged,
             (select rows from imports where id = ${importId}) as rows
      from import_batch`.execute(trx)
  ).rows[0]!;
  const plans = await sql<{ plan: string; access: string; rows: string; tier: string | null }>`
    select coalesce(b.plan, '(labels)') as plan, b.source_access as access, count(*) as rows, t.slug as tier
    from import_batch b left join tiers t on t.id = b.grant_tier
    where b.source_access is not null
    group by 1, 2, 4 order by 3 desc, 1 limit 100`.execute(trx);

  const changes: Record<string, number> = {};
  for (const r of changeRows.rows) changes[r.change] = Number(r.n);
  const rows = Number(totals.rows);
  const newMembers = Number(totals.new_members);
  // A skipped row is an existing member's, unchanged (fingerprint.ts).
  const existing = Number(totals.existing) + (await countSkipped(trx, importId));
  const payingAsFree = Number(totals.paying_as_free);
  const needsConfirmation = payingAsFree > 0 && !record.confirm_free;
  const messages: string[] = [];
  const t = tense === 'will' ? 0 : 1;
  messages.push(
    `${plural(newMembers, 'new member', 'new members')} ${tense === 'will' ? 'will be' : 'were'} added; ${plural(existing, 'row matches', 'rows match')} an existing member.`,
  );
  for (const [change, words] of Object.entries(CHANGE_WORDS)) {
    const n = changes[change] ?? 0;
    if (n > 0) messages.push(`${plural(n, 'member', 'members')} ${words[t]}.`);
  }
  if (payingAsFree > 0) {
    messages.push(
      `${plural(payingAsFree, 'member who pays, is comped or has a gift', 'members who pay, are comped or have a gift')} at the source ${
        tense === 'will' ? 'would be imported as free' : 'were imported as free'
      }: map their plans to a tier${needsConfirmation ? ', or confirm that they should be free' : ''}.`,
    );
  }
  return {
    rows,
    new_members: newMembers,
    existing_members: existing,
    // Rows staged (the file's accepted rows) beyond the first of each address.
    duplicates: Number(totals.staged) - newMembers - existing,
    changes,
    plans: plans.rows.map((p) => ({ plan: p.plan, access: p.access, rows: Number(p.rows), tier: p.tier })),
    paying_as_free: payingAsFree,
    needs_confirmation: needsConfirmation,
    messages,
  };
}

/**
 * The import's staged rows go. A DELETE of a million rows leaves a million dead rows that every
 * scan of the table reads until vacuum runs (the next import's merge read 200 MB for 10,000 rows);
 * so when no other import can have rows staged, both tables are truncated instead (at once, no
 * dead rows), if their lock is free within a second; otherwise the rows are deleted.
 */
async function clearStaging(trx: Transaction<Database>, importId: string): Promise<void> {
  const othersStaged = async () =>
    (await sql`select 1 from imports where id <> ${importId} and status in ('queued', 'running', 'previewed') limit 1`.execute(trx)).rows
      .length > 0;
  // Checked before the lock too: most of the time another import is running, no lock is taken.
  if (!(await othersStaged()) && (await truncateAlone(trx, ['import_rows', 'import_skips'], othersStaged))) return;
  await trx.deleteFrom('import_rows').where('import_id', '=', importId).execute();
  await trx.deleteFrom('import_skips').where('import_id', '=', importId).execute();
}

/**
 * The stored file of a merged import goes, after the merge's commit: truncated when no other import
 * has a file stored (uploaded and not yet run, say), as clearStaging does, else deleted. A file of
 * 211 MB: deleted 0.56–0.64 s (its TOAST rows one by one, left dead for vacuum), truncated 0.19–0.20 s.
 */
async function clearChunks(conn: Kysely<Database>, importId: string): Promise<void> {
  await conn.transaction().execute(async (trx) => {
    const othersStored = async () =>
      (await sql`select 1 from import_chunks where import_id <> ${importId} limit 1`.execute(trx)).rows.length > 0;
    // Checked before the lock too: a run reading its file would wait behind the lock request.
    if (!(await othersStored()) && (await truncateAlone(trx, ['import_chunks'], othersStored))) return;
    await trx.deleteFrom('import_chunks').where('import_id', '=', importId).execute();
  });
}

/**
 * TRUNCATE `tables` if their exclusive lock is free within a second and, once it is held (nobody
 * can add rows then), `othersHaveRows` says no other import has any there. Returns whether it did;
 * otherwise the transaction is as it was (a savepoint), for the caller to delete its own rows.
 */
async function truncateAlone(trx: Transaction<Database>, tables: string[], othersHaveRows: () => Promise<boolean>): Promise<boolean> {
  await sql`savepoint truncate_alone`.execute(trx);
  try {
    await sql`set local lock_timeout = '1s'`.execute(trx);
    await sql.raw(`lock table ${tables.join(', ')} in access exclusive mode`).execute(trx);
    await sql`set local lock_timeout = 0`.execute(trx);
    const alone = !(await othersHaveRows());
    if (alone) await sql.raw(`truncate ${tables.join(', ')}`).execute(trx);
    await sql`release savepoint truncate_alone`.execute(trx);
    return alone;
  } catch {
    await sql`rollback to savepoint truncate_alone`.execute(trx);
    return false;
  }
}

/** Where a merge's time goes, one debug line per step (LOG_LEVEL=debug; the benchmark reads them). */
function stepTimer(importId: string): (step: string) => void {
  let last = performance.now();
  return (step) => {
    const now = performance.now();
    log.debug('import merge step', { importId, step, ms: Math.round(now - last) });
    last = now;
  };
}

async function mergeInTransaction(
  trx: Transaction<Database>,
  record: ImportRecord,
  rows: number,
  { allowBulk, stagedCodes }: { allowBulk: boolean; stagedCodes: boolean },
): Promise<MergeCounts> {
  const importId = record.id;
  const step = stepTimer(importId);
  // Losing the last commit of an import to a crash is harmless: the job runs it again.
  await sql`set local synchronous_commit = off`.execute(trx);
  await setLocalPlanning(trx);
  // Serialises with another merge of the same site: two imports matching the same new address
  // would otherwise both insert it.
  await sql`select pg_advisory_xact_lock(${0x48_49_4e})`.execute(trx);

  const newsletterIds = record.newsletter_id
    ? [record.newsletter_id]
    : (await trx.selectFrom('newsletters').select('id').where('is_default', '=', true).execute()).map((n) => n.id);
  // The members there before (counted under the lock), when this merge may be a bulk one.
  const before = allowBulk ? await lockForBulk(trx, importId) : null;
  step('bulk lock');
  await createBatch(trx, record, before === null ? 'drawn' : 'block');
  step('batch');
  const summary = await summarise(trx, record, 'did');
  step('plan');
  if (summary.needs_confirmation) {
    // The run checks the plan first; this is the guard for a mapping changed in between.
    throw new ValidationError(summary.messages.at(-1)!, 'import_needs_confirmation');
  }

  const bulk = before !== null && summary.new_members >= bulkMerge.minNewMembers && summary.new_members >= 2 * before;
  const rebuild = bulk ? await dropForBulk(trx) : [];
  step('indexes dropped');

  // A later row of an address is a duplicate of its first row, or of the member's skipped row
  // when that came earlier (import_clash: then the first staged row is one too).
  await sql`
    insert into import_rejections (import_id, row_number, email, reason)
    select ${importId}::bigint, d.row_number, d.email, 'duplicate of row ' || coalesce(c.h, d.first)
    from import_dups d left join import_clash c on c.email = d.email and c.h < c.r
    union all
    select ${importId}::bigint, c.r, c.email, 'duplicate of row ' || c.h from import_clash c where c.h < c.r
    union all
    select ${importId}::bigint, c.h, c.email, 'duplicate of row ' || c.r from import_clash c where c.h > c.r
  `.execute(trx);
  step('duplicates');

  // Each label as the file first writes it. Files repeat a few combinations of labels on many
  // rows: each combination is read once, with its first row (a million rows: 1.6 → 0.2 s).
  await sql`
    insert into labels (name)
    select distinct on (lower(l.name)) l.name
    from (
      select b.labels, min(b.row_number) as first from import_batch b where cardinality(b.labels) > 0 group by b.labels
    ) g cross join unnest(g.labels) as l(name)
    order by lower(l.name), g.first
    on conflict ((lower(name))) do nothing
  `.execute(trx);
  step('labels');

  const memberColumns = sql`id, email, name, status, tier_id, tier_source, comp_until, stripe_customer_id, source_platform,
    utm_source, utm_medium, utm_campaign, referrer, ref, referral_code, notes, created_at, updated_at, confirmed_at, import_id, language, unsubscribed_at,
    fields`;
  // A new member's tier and platform from their batch row (`b`): inserted, and counted in the facets.
  const newTierId = sql`case when b.grants then b.grant_tier else ${freeTierId()} end`;
  const newPlatform = sql`coalesce(b.platform, 'import')`;
  // Named as memberColumns: the insert reads them from a subquery, to store each new member's
  // fingerprint (fingerprint.ts) from the very values it inserts.
  const memberValues = sql`b.new_id as id, b.email as email, b.name as name, b.new_status as status,
    ${newTierId} as tier_id,
    case when not b.grants then 'default' when b.grant_access = 'paid' then 'stripe' else 'comp' end as tier_source,
    case when b.grants then b.grant_until end as comp_until,
    b.customer as stripe_customer_id, ${newPlatform} as source_platform,
    b.utm_source, b.utm_medium, b.utm_campaign, b.referrer, b.ref,
    coalesce(b.keep_code, ${stagedCodes ? sql`b.drawn_code, ` : sql``}${referralCodeSql(sql`b.new_id`)}) as referral_code,
    coalesce(b.notes, '') as notes,
    coalesce(b.created_at, now()) as created_at, now() as updated_at,
    case when b.new_status = 'active' then coalesce(b.confirmed_at, b.created_at, now()) end as confirmed_at,
    ${importId}::bigint as import_id, b.language,
    -- Only Hearth's own export says when a member left (its unsubscribed_at); other files leave it empty.
    ${record.format === 'hearth' ? sql`b.state_at` : sql`null::timestamptz`} as unsubscribed_at,
    coalesce(b.fields, '{}'::jsonb) as fields,
    b.fingerprint as row_fingerprint`;
  const newMembers = sql`
    select ${memberColumns}, v.row_fingerprint # ${sql.raw(memberStateSql('v'))}
    from (select ${memberValues} from import_batch b where b.member_id is null) v`;
  // Hearth's own export names each member's newsletters; other files get the chosen one(s), for
  // members who end up subscribed (`status`: the member's status as inserted).
  const newslettersOf = (status: ReturnType<typeof sql>) => sql`
    select n.id from newsletters n where b.newsletters is not null and n.slug = any(b.newsletters)
    union all
    select x.id from unnest(${newsletterIds}::bigint[]) as x(id) where b.newsletters is null and ${status} in ('active', 'pending')`;
  let created: { imported: string; pending: string } | undefined;
  if (bulk) {
    // Under the lock since before the batch: every new member of the batch goes in, so each
    // table is filled from the batch by a plain INSERT … SELECT (no RETURNING to join back).
    // The facet counts (0057) are added once at the end instead of by their triggers: the
    // newsletters' trigger locks every new member row (FOR SHARE) to read its status, a write per
    // member, which the exclusive lock already makes needless.
    const facetTriggers = await dropFacetTriggers(trx);
    await sql`insert into members (${memberColumns}, import_fingerprint) overriding system value ${newMembers}`.execute(trx);
    step('new members: members');
    await sql`
      insert into member_newsletters (member_id, newsletter_id)
      select b.new_id, nl.id from import_batch b cross join lateral (${newslettersOf(sql`b.new_status`)}) nl
      where b.member_id is null`.execute(trx);
    step('new members: newsletters');
    await sql`
      insert into member_labels (member_id, label_id)
      select b.new_id, l.id
      from import_batch b cross join unnest(b.labels) as x(name) join labels l on lower(l.name) = lower(x.name)
      where b.member_id is null and cardinality(b.labels) > 0`.execute(trx);
    step('new members: labels');
    // Counted from the batch, with the expressions the inserts used: reading back the rows just
    // written (a join of a million members with their newsletters) cost 2.3–2.7 s per million.
    // The same groups give the import's counts.
    created = (
      await sql<{ imported: string; pending: string }>`
        with groups as (
          select b.new_status as status, ${newPlatform} as source_platform, ${newTierId} as tier_id, b.newsletters, count(*) as n
          from import_batch b where b.member_id is null
          group by 1, 2, 3, 4
        ), counted as (
          insert into member_facets (newsletter_id, status, source_platform, tier_id, members)
          select nl.id, b.status, b.source_platform, b.tier_id, sum(b.n)
          from groups b cross join lateral (select 0::bigint as id union all ${newslettersOf(sql`b.status`)}) nl
          group by 1, 2, 3, 4
          on conflict (newsletter_id, status, source_platform, tier_id)
          do update set members = member_facets.members + excluded.members
        )
        select coalesce(sum(n), 0) as imported, coalesce(sum(n) filter (where status = 'pending'), 0) as pending from groups`.execute(trx)
    ).rows[0];
    for (const definition of facetTriggers) await sql.raw(definition).execute(trx);
  } else {
    created = (
      await sql<{ imported: string; pending: string }>`
        with inserted as (
          insert into members (${memberColumns}, import_fingerprint)
          overriding system value
          ${newMembers}
          -- A reader who subscribed since the batch was read keeps their row; this one is skipped.
          on conflict ((lower(email))) do nothing
          returning id, status
        ), subscribed as (
          insert into member_newsletters (member_id, newsletter_id)
          select i.id, nl.id
          from inserted i join import_batch b on b.new_id = i.id
          cross join lateral (${newslettersOf(sql`i.status`)}) nl
        ), labelled as (
          insert into member_labels (member_id, label_id)
          select i.id, l.id
          from inserted i
          join import_batch b on b.new_id = i.id and cardinality(b.labels) > 0
          cross join unnest(b.labels) as x(name)
          join labels l on lower(l.name) = lower(x.name)
        )
        select count(*) as imported, count(*) filter (where status = 'pending') as pending from inserted
      `.execute(trx)
    ).rows[0];
  }
  step('new members');

  const matched = await sql<{ updated: string }>`
    with matched as (
      select b.* from import_batch b where b.member_id is not null
    ), changed as (
      -- Written against the row's current status, not the batch's snapshot: the same rule as
      -- the batch's next_status, so a concurrent unsubscribe is not undone.
      update members m set
        status = case
          when x.next_status = x.member_status then m.status
          when x.next_status = 'complained' then 'complained'
          when x.next_status = 'bounced' and m.status <> 'complained' then 'bounced'
          when x.next_status = 'unsubscribed' and m.status in ('active', 'pending') then 'unsubscribed'
          else m.status end,
        unsubscribed_at = case
          when x.next_status = 'unsubscribed' and m.status in ('active', 'pending') then coalesce(x.state_at, now())
          else m.unsubscribed_at end,
        name = case when coalesce(m.name, '') = '' then coalesce(x.name, m.name) else m.name end,
        notes = case when m.notes = '' then coalesce(x.notes, '') else m.notes end,
        tier_id = case when x.grants then x.grant_tier else m.tier_id end,
        tier_source = case when not x.grants then m.tier_source when x.grant_access = 'paid' then 'stripe' else 'comp' end,
        comp_until = case when x.grants then x.grant_until else m.comp_until end,
        stripe_customer_id = coalesce(m.stripe_customer_id, x.customer),
        language = coalesce(m.language, x.language),
        updated_at = now()
      from matched x
      where m.id = x.member_id
        and (x.next_status <> x.member_status
          or x.grants
          or x.customer is not null
          or (coalesce(m.name, '') = '' and x.name is not null)
          or (m.notes = '' and x.notes is not null)
          or (m.language is null and x.language is not null))
      returning m.id, m.status, x.member_status as was
    ), resulting as (
      select x.member_id, coalesce(c.status, x.member_status) as status, x.labels
      from matched x left join changed c on c.id = x.member_id
    ), subscribed as (
      insert into member_newsletters (member_id, newsletter_id)
      select r.member_id, nl.id from resulting r cross join unnest(${newsletterIds}::bigint[]) as nl(id)
      where r.status in ('active', 'pending')
      on conflict do nothing
    ), labelled as (
      insert into member_labels (member_id, label_id)
      select r.member_id, l.id
      from resulting r cross join unnest(r.labels) as x(name) join labels l on lower(l.name) = lower(x.name)
      where cardinality(r.labels) > 0
      on conflict do nothing
    ), logged as (
      insert into events (member_id, type, data)
      select c.id, 'status_changed', jsonb_build_object('import_id', ${importId}::text, 'from', c.was, 'to', c.status)
      from changed c where c.status <> c.was
    )
    select count(*) as updated from matched
  `.execute(trx);
  step('existing members');

  // Custom field values from the file: a new member got them all when inserted; an existing member
  // keeps the values they have and gets the ones they lack (as with name and notes above). (New
  // members were updated here too, by an id the planner could not estimate on a table whose
  // statistics still said empty: a nested loop over every member per row, 4.4 s for 15,000.)
  await sql`
    update members m set fields = b.fields || m.fields, updated_at = now()
    from import_batch b
    where b.fields is not null and b.member_id is not null and m.id = b.member_id and not (m.fields @> b.fields)
  `.execute(trx);
  step('fields');
  // Each matched member's fingerprint: this row under their state now (null: the row has none).
  if (Number(matched.rows[0]?.updated ?? 0) > 0)
    await sql`
    update members m set import_fingerprint = b.fingerprint # ${sql.raw(memberStateSql('m'))}
    from import_batch b
    where m.id = b.member_id and m.import_fingerprint is distinct from b.fingerprint # ${sql.raw(memberStateSql('m'))}
  `.execute(trx);
  step('fingerprints');
  for (const definition of rebuild) {
    await sql.raw(definition).execute(trx);
    step(`rebuilt ${/(?:index|constraint) (\S+)/i.exec(definition)?.[1] ?? definition.slice(0, 40)}`);
  }
  // The foreign keys came back NOT VALID: validated once this commits (validateBulkKeys).
  if (bulk) await enqueue(trx, 'import_validate_keys', {}, { jobKey: 'import_validate_keys', maxAttempts: 25 });

  // Bounces and complaints from the file, and blocks (suppressed by hand at the source).
  await sql`
    insert into suppressions (email_hash, reason)
    select distinct on (1) encode(sha256(convert_to(b.email, 'UTF8')), 'hex'),
           case when b.status = 'blocked' then 'manual' else b.status end
    from import_batch b
    where b.status in ('bounced', 'complained', 'blocked')
      -- Not for a member who confirmed here after the source's bounce: the address works.
      and (b.member_id is null or b.next_status <> b.member_status or b.member_status not in ('active', 'pending'))
    order by 1, b.status desc
    on conflict (email_hash) do nothing
  `.execute(trx);

  const rejected = await trx
    .selectFrom('import_rejections')
    .select(sql<string>`count(*)`.as('n'))
    .where('import_id', '=', importId)
    .executeTakeFirstOrThrow();

  const counts: MergeCounts = {
    imported: Number(created?.imported ?? 0),
    updated: Number(matched.rows[0]?.updated ?? 0) + (await countSkipped(trx, importId)),
    rejected: Number(rejected.n),
    pending: Number(created?.pending ?? 0),
  };
  await trx
    .updateTable('imports')
    .set({
      status: 'done',
      rows,
      imported: counts.imported,
      updated: counts.updated,
      rejected: counts.rejected,
      bytes_done: sql<number>`bytes` as unknown as number,
      error: null,
      summary: JSON.stringify(summary),
      finished_at: new Date(),
    })
    .where('id', '=', importId)
    .execute();
  // The stored file is deleted after the commit (mergeStagedRows; a million rows: 0.7–1 s of
  // TOAST inside the transaction), or by the next run if this process dies in between.
  // The staged rows go with the same commit: a worker killed right after it leaves none behind.
  await clearStaging(trx, importId);
  await emitWebhookEvent(trx, 'import.finished', {
    id: importId,
    imported: counts.imported,
    updated: counts.updated,
    rejected: counts.rejected,
  });
  // The stats rollup right after the import, not at its next ten-minute turn: the dashboard counts
  // members live, so Stats must agree with it as soon as the import is done (one job however many
  // imports finish before it runs).
  await queueRollupNow(trx, 'after-import');
  if (record.send_confirmation && counts.pending > 0) {
    await enqueue(trx, 'import_confirmations', { importId }, { jobKey: `import_confirmations:${importId}`, maxAttempts: 10 });
  }
  return counts;
}
