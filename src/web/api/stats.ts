import { z } from 'zod';
import { Day, Id, Rate, Timestamp } from './schema.ts';

/**
 * The stats API's response shapes (GET /api/v1/stats/*). The figures are the read model of
 * src/domain/stats/read.ts, which the admin's stats pages and CSV downloads render too; these
 * schemas are their published contract, checked against real answers by test/http/openapi.test.ts.
 */

const SEND_STATUSES = ['draft', 'scheduled', 'preparing', 'sending', 'paused', 'sent', 'cancelled', 'failed'] as const;

const Flow = {
  joined: z.int(),
  left: z.int(),
  net: z.int(),
  members: z.int(),
  mrr_cents: z.int(),
  mrr_new_cents: z.int(),
  mrr_lost_cents: z.int(),
};

export const StatsOverview = z
  .strictObject({
    as_of: Timestamp.nullable().meta({ description: 'When the rollups were computed; null before the first rollup.' }),
    day: Day.nullable(),
    members: z.strictObject({ free: z.int(), paid: z.int(), total: z.int() }),
    last_30_days: z.strictObject({ joined: z.int(), left: z.int(), net: z.int() }),
    engagement: z.strictObject({ days: z.int(), engaged: z.int(), emailed: z.int(), rate: Rate }),
    mrr: z.strictObject({ cents: z.int(), new_cents: z.int(), lost_cents: z.int(), net_cents: z.int() }),
    days: z.array(z.strictObject({ day: Day, ...Flow })),
    weeks: z.array(z.strictObject({ week: Day, ...Flow })),
  })
  .meta({ id: 'StatsOverview' });

const SourceFigures = {
  signups: z.int(),
  confirmed: z.int(),
  confirmation_rate: Rate,
  retained_30: z.int(),
  retained_30_rate: Rate,
  retained_90: z.int(),
  retained_90_rate: Rate,
  emailed: z.int(),
  engaged: z.int(),
  engaged_rate: Rate,
  paid: z.int(),
  paid_rate: Rate,
  mrr_cents: z.int(),
};

export const StatsSources = z
  .strictObject({
    platforms: z.array(z.strictObject({ platform: z.string(), key: z.string(), ...SourceFigures })),
    campaigns: z.array(z.strictObject({ campaign: z.string(), key: z.string(), ...SourceFigures })),
  })
  .meta({ id: 'StatsSources' });

export const StatsCohorts = z
  .strictObject({
    platform: z.string().nullable(),
    cohorts: z.array(
      z.strictObject({
        week: Day,
        members: z.int(),
        weeks: z.array(
          z.strictObject({ offset: z.int(), subscribed: z.int(), engaged: z.int(), subscribed_rate: Rate, engaged_rate: Rate }),
        ),
      }),
    ),
  })
  .meta({ id: 'StatsCohorts' });

const Counts = z.strictObject({ human: z.int(), unique_human: z.int(), machine: z.int() });

const VariantFigures = {
  recipients: z.int(),
  delivered: z.int(),
  human_opens: z.int().meta({ description: 'Members with a human open (machine opens, e.g. Apple MPP, excluded).' }),
  machine_opens: z.int(),
  unique_human_clicks: z.int().meta({ description: 'Members with a human click (scanner clicks excluded).' }),
};

export const StatsSend = z
  .strictObject({
    send: z.strictObject({ id: Id, status: z.enum(SEND_STATUSES), post_id: Id, title: z.string(), sent_at: Timestamp.nullable() }),
    as_of: Timestamp.nullable(),
    live: z.boolean().meta({ description: 'True while the send goes out and for 7 days after: figures are current within seconds.' }),
    recipients: z.int(),
    posted: z.int(),
    delivered: z.int(),
    bounced: z.int(),
    complaints: z.int(),
    opens: Counts,
    clicks: Counts,
    click_rate: Rate,
    unsubscribes: z.int(),
    human_opens: z.int().meta({ description: 'Human opens (the same as opens.human).' }),
    machine_opens: z.int(),
    human_clicks: z.int().meta({ description: 'Members who clicked, machines left out (clicks.unique_human).' }),
    unsubscribed: z.int().meta({ description: 'The same as unsubscribes.' }),
    comments: z.int(),
    upgrades: z.int(),
    links: z.array(
      z.strictObject({ link: z.int(), url: z.string(), human_clicks: z.int(), unique_human_clicks: z.int(), machine_clicks: z.int() }),
    ),
    hours: z.array(z.strictObject({ hour: z.int(), human_opens: z.int(), machine_opens: z.int(), human_clicks: z.int() })),
    subject_test: z
      .strictObject({
        subjects: z.array(z.string()),
        sample: z.number(),
        wait: z.string(),
        ends_at: Timestamp.nullable(),
        winner: z.int().nullable(),
        winner_rule: z.string().nullable(),
        decided_at: Timestamp.nullable(),
        variants: z.array(z.strictObject({ index: z.int(), subject: z.string(), winner: z.boolean(), ...VariantFigures })),
        rest: z.strictObject(VariantFigures),
      })
      .nullable()
      .meta({ description: "A subject test's figures per subject (its sample), the rest's, and the rule that picked the winner." }),
  })
  .meta({ id: 'StatsSend' });

export const StatsAnswers = z
  .strictObject({
    time_zone: z.string(),
    weeks: z.array(
      z.strictObject({
        week: Day,
        asked: z.int(),
        answered: z.int(),
        median_seconds: z.int().nullable().meta({ description: 'Median time to the first staff answer; null when none was answered.' }),
        p90_seconds: z.int().nullable(),
      }),
    ),
    waiting: z.array(
      z.strictObject({ id: Id, post_id: Id, post_slug: z.string(), post_title: z.string(), asked_at: Timestamp, age_seconds: z.int() }),
    ),
  })
  .meta({ id: 'StatsAnswers' });

export const StatsPost = z
  .strictObject({
    post_id: Id,
    reads: z.int(),
    views: z.int(),
    days: z.array(z.strictObject({ day: Day, reads: z.int(), views: z.int() })),
  })
  .meta({ id: 'StatsPost' });

export const MemberEngagement = z
  .strictObject({
    engagement: z.strictObject({
      score: z.int().min(0).max(5),
      reasons: z.array(z.string()),
      cold: z.boolean(),
      counts: z.strictObject({ clicks: z.int(), reads: z.int(), comments: z.int(), reactions: z.int() }),
      last_engaged_at: Timestamp.nullable(),
      last_emailed_at: Timestamp.nullable(),
    }),
  })
  .meta({ id: 'MemberEngagement' });
