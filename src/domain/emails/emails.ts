import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import {
  AUTOMATIC_EMAIL_KINDS,
  KINDS,
  defaultTemplate,
  isAutomaticEmailKind,
  variablesOf,
  type AutomaticEmailData,
  type AutomaticEmailKind,
  type EmailTemplate,
  type KindSpec,
} from '../../../emails/automatic.ts';
import type { Brand, RenderedEmail } from '../../../emails/html.ts';
import { emailTranslator } from '../../../emails/language.ts';
import { NotFoundError, RateLimitedError } from '../../lib/errors.ts';
import { hitRateLimit } from '../../lib/rate-limit.ts';
import { hmac } from '../../lib/tokens.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import { availableLanguages } from '../../lib/i18n.ts';
import { checkLanguage } from '../members/language.ts';
import { senderFor, type MailDefaults } from '../newsletters/sender.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import type { SessionStaffUser } from '../staff/sessions.ts';
import { checkTemplate, compileTemplate, fillTemplate, TemplateError, type CompiledTemplate } from './template.ts';

/**
 * Automatic emails as staff rewrite them (README "Automatic emails"). Each save of a kind in a
 * language is a new version; the highest version is live; a reset is a version that puts the
 * catalogue's default back. With no live override an email is today's template, unchanged.
 * A template that does not check is refused and nothing is written: the previous version stays live.
 */
export interface Override extends EmailTemplate {
  id: string;
  version: number;
}

export interface EmailVersion {
  version: number;
  reset: boolean;
  subject: string | null;
  preheader: string | null;
  markdown: string | null;
  createdBy: string | null;
  createdAt: Date;
}

export interface AutomaticEmailView {
  kind: AutomaticEmailKind;
  name: string;
  when: string;
  language: string;
  /** True when staff's own text is live. */
  custom: boolean;
  version: number | null;
  updatedAt: Date | null;
  /** What goes out now (the default written as Markdown when not custom). */
  template: EmailTemplate;
  default: EmailTemplate;
  variables: Array<{ name: string; description: string; required: boolean; block: boolean }>;
}

export function kindOf(value: string | undefined): AutomaticEmailKind {
  if (!value || !isAutomaticEmailKind(value))
    throw new NotFoundError(`There is no automatic email "${String(value).slice(0, 40)}". Kinds: ${AUTOMATIC_EMAIL_KINDS.join(', ')}.`);
  return value;
}

/** The language asked for (checked against the site's catalogues), or the site's. */
export async function languageOrSite(db: Kysely<Database>, language: string | null | undefined): Promise<string> {
  return checkLanguage(language) ?? (await getSiteSettings(db)).language;
}

/** The versions of (kind, language), newest first: the unique (kind, language, version) index walked backwards. */
function versionsOf(db: Kysely<Database>, kind: AutomaticEmailKind, language: string) {
  return db
    .selectFrom('automatic_email_versions')
    .selectAll()
    .where('kind', '=', kind)
    .where('language', '=', language)
    .orderBy('version', 'desc');
}

/** The latest version of (kind, language): the one that is live. */
async function latest(db: Kysely<Database>, kind: AutomaticEmailKind, language: string) {
  return versionsOf(db, kind, language).limit(1).executeTakeFirst();
}

/** Staff's live text for (kind, language), or null when the default is live. */
export async function liveOverride(db: Kysely<Database>, kind: AutomaticEmailKind, language: string): Promise<Override | null> {
  const row = await latest(db, kind, language);
  if (!row || row.reset) return null;
  return { id: row.id, version: row.version, subject: row.subject!, preheader: row.preheader!, markdown: row.markdown! };
}

export async function getAutomaticEmail(db: Kysely<Database>, kind: AutomaticEmailKind, language: string): Promise<AutomaticEmailView> {
  const spec = KINDS[kind] as KindSpec<AutomaticEmailKind>;
  const row = await latest(db, kind, language);
  const fallback = defaultTemplate(kind, language);
  const custom = !!row && !row.reset;
  return {
    kind,
    name: spec.name,
    when: spec.when,
    language,
    custom,
    version: row?.version ?? null,
    updatedAt: row?.created_at ?? null,
    template: custom ? { subject: row.subject!, preheader: row.preheader!, markdown: row.markdown! } : fallback,
    default: fallback,
    variables: Object.entries(variablesOf(kind)).map(([name, description]) => ({
      name,
      description,
      required: spec.required.includes(name),
      block: spec.blocks.includes(name),
    })),
  };
}

/** Every kind with the languages staff rewrote it in. */
export async function listAutomaticEmails(db: Kysely<Database>) {
  // DISTINCT ON reads each (kind, language)'s newest version once: a handful of rows.
  const rows = await db
    .selectFrom('automatic_email_versions')
    .select(['kind', 'language', 'version', 'reset', 'created_at'])
    .distinctOn(['kind', 'language'])
    .orderBy('kind')
    .orderBy('language')
    .orderBy('version', 'desc')
    .execute();
  return AUTOMATIC_EMAIL_KINDS.map((kind) => ({
    kind,
    name: KINDS[kind].name,
    when: KINDS[kind].when,
    custom: rows
      .filter((r) => r.kind === kind && !r.reset)
      .map((r) => ({ language: r.language, version: r.version, updatedAt: r.created_at })),
  }));
}

async function addVersion(
  db: Kysely<Database>,
  kind: AutomaticEmailKind,
  language: string,
  template: EmailTemplate | null,
  staff: Pick<SessionStaffUser, 'id' | 'email'> | null,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    // Two saves at once must not both take the same version number.
    await sql`select pg_advisory_xact_lock(hashtext(${`automatic-email:${kind}:${language}`}))`.execute(trx);
    const top = await latest(trx, kind, language);
    await trx
      .insertInto('automatic_email_versions')
      .values({
        kind,
        language,
        version: (top?.version ?? 0) + 1,
        reset: template === null,
        subject: template?.subject ?? null,
        preheader: template?.preheader ?? null,
        markdown: template?.markdown ?? null,
        created_by: staff?.id ?? null,
        created_by_email: staff?.email ?? null,
      })
      .execute();
  });
}

/** Saves staff's text as the new live version; refused (TemplateError, nothing written) when it does not check. */
export async function saveAutomaticEmail(
  db: Kysely<Database>,
  kind: AutomaticEmailKind,
  language: string,
  template: EmailTemplate,
  staff: Pick<SessionStaffUser, 'id' | 'email'> | null,
): Promise<AutomaticEmailView> {
  const normalized = {
    subject: template.subject.trim(),
    preheader: template.preheader.trim(),
    markdown: template.markdown.replace(/\r\n/g, '\n'),
  };
  const problems = checkTemplate(kind, normalized);
  if (problems.length > 0) throw new TemplateError(problems);
  await addVersion(db, kind, language, normalized, staff);
  return getAutomaticEmail(db, kind, language);
}

/** Puts the default back (as a version, so the history shows it). */
export async function resetAutomaticEmail(
  db: Kysely<Database>,
  kind: AutomaticEmailKind,
  language: string,
  staff: Pick<SessionStaffUser, 'id' | 'email'> | null,
): Promise<AutomaticEmailView> {
  if (await liveOverride(db, kind, language)) await addVersion(db, kind, language, null, staff);
  return getAutomaticEmail(db, kind, language);
}

/** The versions of (kind, language), newest first (at most 100). */
export async function listVersions(db: Kysely<Database>, kind: AutomaticEmailKind, language: string): Promise<EmailVersion[]> {
  const rows = await versionsOf(db, kind, language).limit(100).execute();
  return rows.map((r) => ({
    version: r.version,
    reset: r.reset,
    subject: r.subject,
    preheader: r.preheader,
    markdown: r.markdown,
    createdBy: r.created_by_email,
    createdAt: r.created_at,
  }));
}

/** Compiled overrides by (version row, brand); a new version or design is a new key. */
const compiled = new Map<string, CompiledTemplate>();
const MAX_COMPILED = 200;

function compiledFor(kind: AutomaticEmailKind, lang: string, override: Override, brand: Brand): CompiledTemplate {
  const key = `${override.id}|${lang}|${JSON.stringify(brand)}`;
  let c = compiled.get(key);
  if (!c) {
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    c = compileTemplate(kind, lang, override, brand);
    compiled.set(key, c);
  }
  return c;
}

/** How many overrides were compiled in this process (the render cache's test reads it). */
export const compiledCount = () => compiled.size;

/**
 * An automatic email for one member: staff's live text for its kind in the email's language,
 * compiled once and filled for this member, or today's template when there is none.
 */
export async function automaticEmail<K extends AutomaticEmailKind>(
  db: Kysely<Database>,
  kind: K,
  data: AutomaticEmailData[K],
): Promise<RenderedEmail> {
  const spec = KINDS[kind] as unknown as KindSpec<K>;
  const tr = emailTranslator(data.lang);
  const override = await liveOverride(db, kind, tr.lang);
  if (!override) return spec.render(data);
  return fillTemplate(compiledFor(kind, tr.lang, override, data.brand), spec.values(data, tr), data.brand);
}

/** A template (saved or not) for the sample member: the editor's preview and the test send. */
export function renderSample(kind: AutomaticEmailKind, lang: string, template: EmailTemplate | null, brand: Brand): RenderedEmail {
  const spec = KINDS[kind] as unknown as KindSpec<AutomaticEmailKind>;
  const data = spec.sample(brand, lang);
  if (!template) return spec.render(data);
  return fillTemplate(compileTemplate(kind, lang, template, brand), spec.values(data, emailTranslator(lang)), brand);
}

export const siteLanguages = () => availableLanguages();

/** The brand as the site's emails draw it (for previews and test sends). */
export async function siteBrand(db: Kysely<Database>, siteUrl: string): Promise<Brand> {
  return emailBrand(db, await getSiteSettings(db), siteUrl);
}

/**
 * The editor's preview: a template (unsaved, or the live one when `template` is null) for the
 * sample member, in the brand's frame. A template that does not check is refused with its problems.
 */
export async function previewAutomaticEmail(
  db: Kysely<Database>,
  siteUrl: string,
  kind: AutomaticEmailKind,
  language: string,
  template: EmailTemplate | null,
): Promise<RenderedEmail> {
  const brand = await siteBrand(db, siteUrl);
  const chosen = template ?? (await liveOverride(db, kind, language));
  if (template) {
    const problems = checkTemplate(kind, template);
    if (problems.length > 0) throw new TemplateError(problems);
  }
  return renderSample(kind, language, chosen, brand);
}

/** Test sends per staff user: enough to try a text several times, not a way to mail in bulk. */
export const TEST_SEND_LIMIT = { limit: 10, windowSeconds: 3600 };

/**
 * A test to the staff user's own address, through the mail queue like every email: the live text
 * (or the template given) for the sample member, its subject marked [Test]. At most
 * TEST_SEND_LIMIT per staff user (429 beyond: RateLimitedError), counted under an HMAC of their id.
 */
export async function sendTestAutomaticEmail(
  db: Kysely<Database>,
  keys: MailDefaults & { readonly secret: string },
  kind: AutomaticEmailKind,
  language: string,
  staff: { id: string; email: string },
  template: EmailTemplate | null = null,
): Promise<void> {
  const email = await previewAutomaticEmail(db, keys.siteUrl, kind, language, template);
  const verdict = await hitRateLimit(db, hmac(keys.secret, 'ratelimit:automatic-email-test', staff.id), TEST_SEND_LIMIT);
  if (!verdict.allowed)
    throw new RateLimitedError(
      verdict.retryAfter,
      `You have sent ${TEST_SEND_LIMIT.limit} test emails in the last hour: wait ${waitText(verdict.retryAfter)} before sending another.`,
    );
  await queueEmail(db, {
    ...(await senderFor(db, keys)),
    to: [staff.email],
    subject: `[Test] ${email.subject}`,
    html: email.html,
    text: email.text,
    tags: [{ name: 'kind', value: 'test-automatic' }],
  });
}

const waitText = (seconds: number) => (seconds < 90 ? `${seconds} seconds` : `${Math.ceil(seconds / 60)} minutes`);

/**
 * A renderer for many emails of one kind (an import's confirmations): the live overrides of every
 * language read in one query, then each email rendered without waiting on the database.
 */
export async function automaticEmailRenderer<K extends AutomaticEmailKind>(
  db: Kysely<Database>,
  kind: K,
): Promise<(data: AutomaticEmailData[K]) => RenderedEmail> {
  const rows = await db
    .selectFrom('automatic_email_versions')
    .selectAll()
    .distinctOn('language')
    .where('kind', '=', kind)
    .orderBy('language')
    .orderBy('version', 'desc')
    .execute();
  const live = new Map<string, Override>();
  for (const r of rows)
    if (!r.reset)
      live.set(r.language, { id: r.id, version: r.version, subject: r.subject!, preheader: r.preheader!, markdown: r.markdown! });
  const spec = KINDS[kind] as unknown as KindSpec<K>;
  return (data) => {
    const tr = emailTranslator(data.lang);
    const override = live.get(tr.lang);
    if (!override) return spec.render(data);
    return fillTemplate(compiledFor(kind, tr.lang, override, data.brand), spec.values(data, tr), data.brand);
  };
}
