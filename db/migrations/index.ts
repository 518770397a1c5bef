import type { Migration } from 'kysely/migration';
import * as m0001 from './0001_foundation.ts';
import * as m0002 from './0002_audience.ts';
import * as m0003 from './0003_posts.ts';
import * as m0004 from './0004_member_sessions.ts';
import * as m0005 from './0005_comp_access.ts';
import * as m0006 from './0006_billing.ts';
import * as m0007 from './0007_sends.ts';
import * as m0008 from './0008_referral_rewards.ts';
import * as m0009 from './0009_community.ts';
import * as m0010 from './0010_tracking.ts';
import * as m0011 from './0011_stats.ts';
import * as m0012 from './0012_newsletters.ts';
import * as m0014 from './0014_install_test_emails.ts';
import * as m0018 from './0018_import_sync.ts';
import * as m0021 from './0021_stripe_syncs.ts';
import * as m0023 from './0023_post_redirects.ts';
import * as m0026 from './0026_webhooks.ts';
import * as m0030 from './0030_smtp_journal.ts';
import * as m0032 from './0032_member_fields.ts';
import * as m0033 from './0033_polls.ts';
import * as m0034 from './0034_import_fields.ts';
import * as m0035 from './0035_automations.ts';
import * as m0038 from './0038_subject_tests.ts';
import * as m0040 from './0040_live.ts';
import * as m0041 from './0041_signup_waves.ts';
import * as m0043 from './0043_offers_trials.ts';
import * as m0044 from './0044_gifts_cancellations.ts';
import * as m0045 from './0045_mrr_movements.ts';
import * as m0046 from './0046_fediverse.ts';
import * as m0047 from './0047_recommendations.ts';
import * as m0048 from './0048_cancellation_outcome.ts';
import * as m0049 from './0049_mrr_backfill.ts';
import * as m0050 from './0050_member_language.ts';
import * as m0052 from './0052_image_sizes.ts';
import * as m0056 from './0056_page_cache.ts';
import * as m0057 from './0057_member_search_facets.ts';
import * as m0058 from './0058_import_index_costs.ts';
import * as m0060 from './0060_label_automations.ts';
import * as m0062 from './0062_send_provider_pause.ts';
import * as m0064 from './0064_recommendation_kinds.ts';
import * as m0065 from './0065_fediverse_actor_bans.ts';
import * as m0070 from './0070_post_translations.ts';
import * as m0072 from './0072_automatic_emails.ts';
import * as m0074 from './0074_member_sorts.ts';
import * as m0076 from './0076_post_pages_notify.ts';
import * as m0078 from './0078_stats_engaged_pending.ts';
import * as m0080 from './0080_import_language.ts';
import * as m0084 from './0084_stats_cohort_weeks.ts';
import * as m0090 from './0090_import_fingerprints.ts';
import * as m0091 from './0091_import_rows_unindexed.ts';
import * as m0094 from './0094_pages_notify_rows.ts';
import * as m0096 from './0096_email_hash_bytewise.ts';
import * as m0097 from './0097_import_drawn_codes.ts';

/**
 * Every migration, by name, in order. Listed statically (not read from the folder) so the
 * same list works from the CLI, the tests and a bundled server.
 */
export const migrations: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_audience': m0002,
  '0003_posts': m0003,
  '0004_member_sessions': m0004,
  '0005_comp_access': m0005,
  '0006_billing': m0006,
  '0007_sends': m0007,
  '0008_referral_rewards': m0008,
  '0009_community': m0009,
  '0010_tracking': m0010,
  '0011_stats': m0011,
  '0012_newsletters': m0012,
  '0014_install_test_emails': m0014,
  '0018_import_sync': m0018,
  '0021_stripe_syncs': m0021,
  '0023_post_redirects': m0023,
  '0026_webhooks': m0026,
  '0030_smtp_journal': m0030,
  '0032_member_fields': m0032,
  '0033_polls': m0033,
  '0034_import_fields': m0034,
  '0035_automations': m0035,
  '0038_subject_tests': m0038,
  '0040_live': m0040,
  '0041_signup_waves': m0041,
  '0043_offers_trials': m0043,
  '0044_gifts_cancellations': m0044,
  '0045_mrr_movements': m0045,
  '0046_fediverse': m0046,
  '0047_recommendations': m0047,
  '0048_cancellation_outcome': m0048,
  '0049_mrr_backfill': m0049,
  '0050_member_language': m0050,
  '0052_image_sizes': m0052,
  '0056_page_cache': m0056,
  '0057_member_search_facets': m0057,
  '0058_import_index_costs': m0058,
  '0060_label_automations': m0060,
  '0062_send_provider_pause': m0062,
  '0064_recommendation_kinds': m0064,
  '0065_fediverse_actor_bans': m0065,
  '0070_post_translations': m0070,
  '0072_automatic_emails': m0072,
  '0074_member_sorts': m0074,
  '0076_post_pages_notify': m0076,
  '0078_stats_engaged_pending': m0078,
  '0080_import_language': m0080,
  '0084_stats_cohort_weeks': m0084,
  '0090_import_fingerprints': m0090,
  '0091_import_rows_unindexed': m0091,
  '0094_pages_notify_rows': m0094,
  '0096_email_hash_bytewise': m0096,
  '0097_import_drawn_codes': m0097,
};
