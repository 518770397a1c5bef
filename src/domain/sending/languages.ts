import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { availableLanguages, t } from '../../lib/i18n.ts';
import type { Gate } from '../content/access.ts';
import { renderPostVariants } from '../content/email.ts';
import { sendVersions, type LanguageVersion } from '../content/translations.ts';
import type { RenderedLanguage, RenderedSend } from './payload.ts';

/**
 * A send in its members' languages. Each member gets the post in their language (members.language,
 * else the site's): the translation in that language when the post has one (content/translations.ts),
 * else the post itself, and in every case the fixed parts (greeting, footer, preference and
 * unsubscribe links, "view in browser", the upgrade text, referral and poll blocks) in that
 * language. The post is rendered once per language and variant present in the send, never per
 * member; each delivery names its language (deliveries.language; null: the site's), fixed with
 * the snapshot, so a retried batch is the same payload.
 *
 * Gating follows the version a member gets: the whole text goes to members who may read that
 * version (its own visibility), the preview to the others, as on the web.
 */

/** The languages a send may speak. */
export interface LanguageScope {
  siteLanguage: string;
  /** The languages of this install (locales/): a member's code outside them reads the site's. */
  known: readonly string[];
}

export function languageScope(siteLanguage: string): LanguageScope {
  return { siteLanguage, known: availableLanguages().map((l) => l.code) };
}

/** The version of the post a language gets, and its gate. */
export interface SendPlan extends LanguageScope {
  original: LanguageVersion;
  translations: ReadonlyMap<string, LanguageVersion>;
}

export async function sendPlan(db: Kysely<Database>, postId: string, siteLanguage: string): Promise<SendPlan> {
  const versions = await sendVersions(db, postId);
  const scope = languageScope(siteLanguage);
  const translations = new Map([...versions.translations].filter(([code]) => scope.known.includes(code)));
  return { ...scope, original: versions.original, translations };
}

/**
 * The plan a rendering made earlier was made with (an automation step is rendered when saved): the
 * post each language's rendering shows, with its gate now, so a member's variant always matches
 * the text their rendering holds, whatever was translated since.
 */
export async function planOfRendering(
  db: Kysely<Database>,
  rendered: RenderedSend,
  siteLanguage: string,
  /** The post of a rendering made before renderings named theirs (one language, no translation). */
  postId: string,
): Promise<SendPlan> {
  const scope = languageScope(siteLanguage);
  const base = rendered.postId ?? postId;
  const byLanguage = Object.entries(rendered.languages ?? {}).filter(([, r]) => r.postId && r.postId !== base);
  const ids = [base, ...byLanguage.map(([, r]) => r.postId!)];
  const rows = await db.selectFrom('posts').select(['id', 'visibility', 'tier_ids']).where('id', 'in', ids).execute();
  const gate = (id: string): Gate => {
    const row = rows.find((r) => r.id === id);
    // A post deleted since: nobody reads it whole.
    return row ? { visibility: row.visibility, tierIds: row.tier_ids } : { visibility: 'tiers', tierIds: [] };
  };
  return {
    ...scope,
    original: { postId: base, gate: gate(base) },
    translations: new Map(byLanguage.map(([code, r]) => [code, { postId: r.postId!, gate: gate(r.postId!) }])),
  };
}

/**
 * Whether a rendering made earlier shows some version whole that is gated now and has no preview
 * to give instead: a post step rendered while its post was public, then made paid. Such a
 * rendering must be made again before any member gets it (an automation step, engine.ts).
 */
export function renderingLacksPreview(rendered: RenderedSend, plan: SendPlan): boolean {
  const gated = (gate: Gate) => gate.visibility === 'paid' || gate.visibility === 'tiers';
  if (rendered.preview === null && gated(plan.original.gate)) return true;
  for (const [code, r] of Object.entries(rendered.languages ?? {})) {
    const version = r.postId && r.postId !== plan.original.postId ? plan.translations.get(code) : plan.original;
    if (r.preview === null && gated(version?.gate ?? { visibility: 'tiers', tierIds: [] })) return true;
  }
  return false;
}

/** A member's language as the send reads it (`m` is the members row): theirs when this install has it, else the site's. */
export function effectiveLanguageSql(plan: LanguageScope): RawBuilder<string> {
  return sql<string>`coalesce(case when m.language = any(${sql.val([...plan.known])}::text[]) then m.language end, ${plan.siteLanguage}::text)`;
}

/** The delivery's stored language: null for the site's (the send's own rendering). */
export function deliveryLanguageSql(plan: LanguageScope): RawBuilder<string | null> {
  return sql<string | null>`nullif(${effectiveLanguageSql(plan)}, ${plan.siteLanguage}::text)`;
}

/**
 * The tiers whose members read a version whole: the rule of canRead (content/access.ts) as a list
 * of tier ids, so the snapshot needs no join; null when everyone does.
 */
async function fullTiersOf(gate: Gate, paidTiers: () => Promise<string[]>): Promise<string[] | null> {
  if (gate.visibility === 'paid') return paidTiers();
  if (gate.visibility === 'tiers') return [...(gate.tierIds ?? [])];
  return null;
}

/**
 * Each member's variant code ('f' whole, 'p' preview), by the gate of the version their language
 * gets: one `case` in the snapshot statement.
 */
export async function variantSql(
  db: Kysely<Database>,
  plan: SendPlan,
  codes: { full: string; preview: string },
): Promise<RawBuilder<string>> {
  let paid: Promise<string[]> | undefined;
  const paidTiers = () =>
    (paid ??= db
      .selectFrom('tiers')
      .select('id')
      .where('paid', '=', true)
      .execute()
      .then((r) => r.map((t) => t.id)));
  const [full, preview] = [sql.lit(codes.full), sql.lit(codes.preview)];
  const byGate = (tiers: string[] | null) =>
    tiers === null
      ? sql<string>`${full}`
      : sql<string>`case when m.tier_id = any(${sql.val(tiers.length ? tiers : ['0'])}::bigint[]) then ${full} else ${preview} end`;
  const base = byGate(await fullTiersOf(plan.original.gate, paidTiers));
  if (plan.translations.size === 0) return base;
  const arms: RawBuilder<unknown>[] = [];
  for (const [code, version] of plan.translations)
    arms.push(sql`when ${code}::text then ${byGate(await fullTiersOf(version.gate, paidTiers))}`);
  return sql<string>`case ${effectiveLanguageSql(plan)} ${sql.join(arms, sql` `)} else ${base} end`;
}

/** One language's rendering: the version it gets, its fixed parts in that language. */
export async function renderLanguage(
  db: Kysely<Database>,
  siteUrl: string,
  plan: SendPlan,
  code: string,
  options: { uploadsDir?: string | undefined } = {},
): Promise<RenderedLanguage> {
  const postId = plan.translations.get(code)?.postId ?? plan.original.postId;
  const variants = await renderPostVariants(db, siteUrl, postId, { ...options, lang: code });
  return { ...variants, anonymousName: t(code, 'translations.there'), postId };
}

/** The send's renderings: the site's language, and each other language in `languages`, once each. */
export async function renderSend(
  db: Kysely<Database>,
  siteUrl: string,
  plan: SendPlan,
  languages: readonly string[],
): Promise<RenderedSend> {
  const base = await renderLanguage(db, siteUrl, plan, plan.siteLanguage);
  const others = [...new Set(languages)].filter((code) => code !== plan.siteLanguage && plan.known.includes(code)).sort();
  if (others.length === 0) return base;
  const languagesOut: Record<string, RenderedLanguage> = {};
  for (const code of others) languagesOut[code] = await renderLanguage(db, siteUrl, plan, code);
  return { ...base, languages: languagesOut };
}

/** Every compiled email of a send, for collecting its links once. */
export function allRenderings(rendered: RenderedSend): RenderedLanguage[] {
  return [rendered, ...Object.values(rendered.languages ?? {})];
}
