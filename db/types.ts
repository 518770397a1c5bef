import type { ColumnType, Generated, Selectable } from 'kysely';

/** A timestamptz column: read as a Date, written as a Date or an ISO string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type DefaultTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export type StaffRole = 'owner' | 'admin' | 'editor' | 'moderator';
export type PostVisibility = 'public' | 'members' | 'paid' | 'tiers';
export type MemberStatus = 'pending' | 'active' | 'unsubscribed' | 'bounced' | 'complained';
export type CommentsMode = 'off' | 'members' | 'paid';
export type CommentStatus = 'published' | 'held' | 'hidden' | 'deleted';

export interface StaffUsersTable {
  id: Generated<string>;
  email: string;
  name: ColumnType<string, string | undefined, string>;
  password_hash: string;
  role: StaffRole;
  created_at: DefaultTimestamp;
  disabled_at: Timestamp | null;
}

export interface StaffSessionsTable {
  id: Generated<string>;
  token_hash: string;
  staff_user_id: string;
  created_at: DefaultTimestamp;
  last_seen_at: DefaultTimestamp;
  expires_at: Timestamp;
}

export interface ApiTokensTable {
  id: Generated<string>;
  staff_user_id: string;
  name: string;
  token_hash: string;
  token_prefix: string;
  created_at: DefaultTimestamp;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface InstallTestEmailsTable {
  id: Generated<string>;
  staff_user_id: string | null;
  to_address: string;
  queued_at: DefaultTimestamp;
  sent_at: Timestamp | null;
  error: string | null;
}

/** The real size of an uploaded image (0052). */
export interface ImageSizesTable {
  path: string;
  width: number;
  height: number;
  created_at: DefaultTimestamp;
}

export interface SettingsTable {
  key: string;
  value: Json<unknown>;
  updated_at: DefaultTimestamp;
}

export interface NewslettersTable {
  id: Generated<string>;
  slug: string;
  name: string;
  description: ColumnType<string, string | undefined, string>;
  is_default: ColumnType<boolean, boolean | undefined, boolean>;
  sort_order: ColumnType<number, number | undefined, number>;
  /** Null: the site's sender name, From address and Reply-To. */
  sender_name: ColumnType<string | null, string | null | undefined, string | null>;
  sender_email: ColumnType<string | null, string | null | undefined, string | null>;
  reply_to: ColumnType<string | null, string | null | undefined, string | null>;
  /** Archived: keeps its members and sends, takes no new subscribers, hidden from reader forms. */
  archived_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface TiersTable {
  id: Generated<string>;
  slug: string;
  name: string;
  description: ColumnType<string, string | undefined, string>;
  paid: ColumnType<boolean, boolean | undefined, boolean>;
  monthly_amount: number | null;
  yearly_amount: number | null;
  currency: string | null;
  trial_days: ColumnType<number, number | undefined, number>;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  stripe_product_id: string | null;
  stripe_monthly_price_id: string | null;
  stripe_yearly_price_id: string | null;
  trial_without_card: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: DefaultTimestamp;
}

export interface MembersTable {
  id: Generated<string>;
  email: string;
  name: string | null;
  status: ColumnType<MemberStatus, MemberStatus | undefined, MemberStatus>;
  tier_id: string;
  source_platform: ColumnType<string, string | undefined, string>;
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  referrer: string | null;
  ref: string | null;
  landing_page: string | null;
  referral_code: string;
  notes: ColumnType<string, string | undefined, string>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  confirmed_at: Timestamp | null;
  unsubscribed_at: Timestamp | null;
  import_id: string | null;
  comp_until: Timestamp | null;
  stripe_customer_id: string | null;
  tier_source: ColumnType<'default' | 'comp' | 'stripe', 'default' | 'comp' | 'stripe' | undefined, 'default' | 'comp' | 'stripe'>;
  /** Custom field values by field key (domain/members/fields.ts). */
  fields: ColumnType<MemberFieldValues, string | undefined, string>;
  /** ISO 639-1 code for pages and emails; null: the site's language (lib/i18n.ts). */
  language: ColumnType<string | null, string | null | undefined, string | null>;
  /** The last import's row hash XOR the member's state after it (0090, imports/fingerprint.ts). */
  import_fingerprint: ColumnType<string | null, string | null | undefined, string | null>;
}

export type MemberFieldType = 'text' | 'number' | 'date' | 'choice' | 'boolean';
/** text, choice and date (YYYY-MM-DD) are strings; number a number; boolean a boolean. */
export type MemberFieldValue = string | number | boolean;
export type MemberFieldValues = Record<string, MemberFieldValue>;

export interface MemberFieldsTable {
  id: Generated<string>;
  key: string;
  label: string;
  type: MemberFieldType;
  options: ColumnType<string[], string[] | undefined, string[]>;
  member_editable: ColumnType<boolean, boolean | undefined, boolean>;
  sort_order: ColumnType<number, number | undefined, number>;
  archived_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface PollsTable {
  id: Generated<string>;
  question: string;
  answers: string[];
  status: ColumnType<'open' | 'closed', 'open' | 'closed' | undefined, 'open' | 'closed'>;
  closes_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_by: string | null;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface PollVotesTable {
  poll_id: string;
  member_id: string;
  answer: number;
  channel: 'email' | 'web';
  send_id: string | null;
  changes: ColumnType<number, number | undefined, number>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface MemberNewslettersTable {
  member_id: string;
  newsletter_id: string;
  created_at: DefaultTimestamp;
}

export interface PostsTable {
  id: Generated<string>;
  slug: string;
  title: string;
  excerpt: ColumnType<string, string | undefined, string>;
  markdown: ColumnType<string, string | undefined, string>;
  visibility: ColumnType<PostVisibility, PostVisibility | undefined, PostVisibility>;
  status: ColumnType<
    'draft' | 'scheduled' | 'published',
    'draft' | 'scheduled' | 'published' | undefined,
    'draft' | 'scheduled' | 'published'
  >;
  author_id: string | null;
  published_at: Timestamp | null;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  revision: ColumnType<number, number | undefined, number>;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  feature_image: string | null;
  email_only: ColumnType<boolean, boolean | undefined, boolean>;
  tier_ids: ColumnType<string[], string[] | undefined, string[]>;
  /** Who may talk under the post; null follows the site's default. */
  comments_mode: ColumnType<CommentsMode | null, CommentsMode | null | undefined, CommentsMode | null>;
  /** ISO 639-1; null: the site's language (0070). */
  language: ColumnType<string | null, string | null | undefined, string | null>;
  /** The original this post translates (0070); null: not a translation. */
  translation_of: ColumnType<string | null, string | null | undefined, string | null>;
}

/** An address a post had on the service it was imported from (0023). */
export interface PostRedirectsTable {
  old_path: string;
  slug: string;
  created_at: DefaultTimestamp;
}

export interface PostSlugsTable {
  slug: string;
  post_id: string;
}

export interface OutboxTable {
  id: Generated<string>;
  created_at: DefaultTimestamp;
  from_address: string;
  to_addresses: string[];
  subject: string;
  html: string | null;
  text: string | null;
  headers: Json<Record<string, string>>;
  tags: Json<Array<{ name: string; value: string }>>;
  idempotency_key: string | null;
  batch_index: number | null;
}

export interface RateLimitsTable {
  key: string;
  window_start: Timestamp;
  hits: number;
}

export interface WorkerHeartbeatsTable {
  worker_id: string;
  beat_at: Timestamp;
}

export interface LabelsTable {
  id: Generated<string>;
  name: string;
  created_at: DefaultTimestamp;
}

export interface MemberLabelsTable {
  member_id: string;
  label_id: string;
}

export interface EventsTable {
  id: Generated<string>;
  member_id: string | null;
  type: string;
  occurred_at: DefaultTimestamp;
  data: ColumnType<Record<string, unknown>, string | undefined, string>;
  machine: ColumnType<boolean, boolean | undefined, boolean>;
}

export type SuppressionReason = 'bounced' | 'complained' | 'manual';
export interface SuppressionsTable {
  email_hash: string;
  reason: SuppressionReason;
  created_at: DefaultTimestamp;
}

export type ImportStatus = 'uploaded' | 'queued' | 'running' | 'previewed' | 'done' | 'failed';
export interface ImportsTable {
  id: Generated<string>;
  status: ColumnType<ImportStatus, ImportStatus | undefined, ImportStatus>;
  filename: string;
  format: string;
  headers: ColumnType<string[], string | undefined, string>;
  mapping: ColumnType<Record<string, number>, string | undefined, string>;
  preview: ColumnType<string[][], string | undefined, string>;
  newsletter_id: string | null;
  mark_confirmed: ColumnType<boolean, boolean | undefined, boolean>;
  attestation: string | null;
  send_confirmation: ColumnType<boolean, boolean | undefined, boolean>;
  bytes: ColumnType<string, number | undefined, number>;
  bytes_done: ColumnType<string, number | undefined, number>;
  rows: ColumnType<number, number | undefined, number>;
  imported: ColumnType<number, number | undefined, number>;
  updated: ColumnType<number, number | undefined, number>;
  rejected: ColumnType<number, number | undefined, number>;
  error: string | null;
  created_by: string | null;
  created_at: DefaultTimestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  preview_only: ColumnType<boolean, boolean | undefined, boolean>;
  plans: ColumnType<Record<string, { tier: string; access?: string }>, string | undefined, string>;
  confirm_free: ColumnType<boolean, boolean | undefined, boolean>;
  encoding: ColumnType<string, string | undefined, string>;
  summary: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  staged_mapping: ColumnType<Record<string, number> | null, string | null | undefined, string | null>;
  /** The options the rows were staged with, when rows were skipped as unchanged (0090). */
  staged_key: ColumnType<string | null, string | null | undefined, string | null>;
  heartbeat_at: Timestamp | null;
  restarts: ColumnType<number, number | undefined, number>;
}

export interface ImportChangesTable {
  import_id: string;
  email: string;
  member_id: string | null;
  change: string;
  detail: string | null;
}

export interface ImportChunksTable {
  import_id: string;
  seq: number;
  data: Buffer;
}

export interface ImportRowsTable {
  import_id: string;
  row_number: number;
  email: string;
  name: string | null;
  status: string;
  created_at: Timestamp | null;
  labels: string[];
  utm_source: string | null;
  utm_medium: string | null;
  utm_campaign: string | null;
  referrer: string | null;
  notes: string | null;
  plan: string | null;
  access: string | null;
  access_until: Timestamp | null;
  stripe_customer_id: string | null;
  state_at: Timestamp | null;
  confirmed_at: Timestamp | null;
  tier: string | null;
  newsletters: string[] | null;
  platform: string | null;
  ref: string | null;
  referral_code: string | null;
  fields: Json<Record<string, string | number | boolean>> | null;
  /** ISO 639-1 (0080). */
  language: string | null;
  /** The raw record's hash (0090; null: read by csv-parse). */
  fingerprint: string | null;
  /** A referral code drawn by staging for the member the row may make (0097; null: staged before). */
  drawn_code: string | null;
}

/** Rows a staging run skipped as unchanged since their member's last import (0090). */
export interface ImportSkipsTable {
  import_id: string;
  row_number: number;
  fingerprint: string;
}

export interface ImportRejectionsTable {
  import_id: string;
  row_number: number;
  email: string | null;
  reason: string;
}

export interface MemberSignInsTable {
  id: Generated<string>;
  member_id: string;
  token_hash: string;
  code_hash: string;
  return_to: string | null;
  created_at: DefaultTimestamp;
  expires_at: Timestamp;
  first_used_at: Timestamp | null;
  uses: ColumnType<number, number | undefined, number>;
  code_attempts: ColumnType<number, number | undefined, number>;
}

export interface MemberSessionsTable {
  id: Generated<string>;
  token_hash: string;
  member_id: string;
  created_at: DefaultTimestamp;
  last_seen_at: DefaultTimestamp;
  expires_at: Timestamp;
}

export interface SubscriptionsTable {
  stripe_subscription_id: string;
  member_id: string;
  tier_id: string | null;
  status: string;
  price_id: string | null;
  current_period_end: Timestamp | null;
  cancel_at_period_end: ColumnType<boolean, boolean | undefined, boolean>;
  updated_at: DefaultTimestamp;
  trial_end: Timestamp | null;
  coupon_id: string | null;
  discount_end: Timestamp | null;
  paused_until: Timestamp | null;
  paused: ColumnType<boolean, boolean | undefined, boolean>;
  mrr_cents: ColumnType<number, number | undefined, number>;
  created_at: DefaultTimestamp;
}

export type OfferKind = 'link' | 'retention';
export interface OffersTable {
  id: Generated<string>;
  code: string;
  kind: ColumnType<OfferKind, OfferKind | undefined, OfferKind>;
  name: string;
  tier_id: string;
  /** numeric: read as a string. */
  percent_off: ColumnType<string | null, number | null | undefined, number | null>;
  amount_off: number | null;
  currency: string | null;
  duration: 'once' | 'repeating' | 'forever';
  duration_months: number | null;
  interval: 'month' | 'year' | null;
  ends_at: Timestamp | null;
  max_redemptions: number | null;
  new_members_only: ColumnType<boolean, boolean | undefined, boolean>;
  platforms: ColumnType<string[], string[] | undefined, string[]>;
  trial_days: ColumnType<number, number | undefined, number>;
  trial_without_card: ColumnType<boolean, boolean | undefined, boolean>;
  status: ColumnType<'active' | 'archived', 'active' | 'archived' | undefined, 'active' | 'archived'>;
  redemptions: ColumnType<number, number | undefined, number>;
  stripe_coupon_id: string;
  stripe_promotion_code_id: string;
  created_by: string | null;
  created_at: DefaultTimestamp;
  archived_at: Timestamp | null;
}

export interface OfferRedemptionsTable {
  offer_id: string;
  stripe_subscription_id: string;
  member_id: string;
  redeemed_at: DefaultTimestamp;
}

export type GiftStatus = 'pending' | 'paid' | 'delivered' | 'redeemed' | 'refunded';
export interface GiftsTable {
  id: Generated<string>;
  tier_id: string;
  months: number;
  amount: number;
  currency: string;
  buyer_email: string | null;
  recipient_email: string | null;
  message: ColumnType<string, string | undefined, string>;
  /** date: read as a Date at UTC midnight. */
  deliver_on: ColumnType<Date, string, string>;
  locale: ColumnType<string, string | undefined, string>;
  status: ColumnType<GiftStatus, GiftStatus | undefined, GiftStatus>;
  token_hash: string | null;
  stripe_session_id: string | null;
  stripe_payment_intent_id: string | null;
  redeemed_by: string | null;
  redeemed_at: Timestamp | null;
  banked_days: ColumnType<number, number | undefined, number>;
  comp_until: Timestamp | null;
  paid_at: Timestamp | null;
  delivered_at: Timestamp | null;
  refunded_at: Timestamp | null;
  created_at: DefaultTimestamp;
}

export type CancellationReason = 'too_expensive' | 'not_reading' | 'missing_features' | 'switched' | 'temporary' | 'other';
export interface CancellationsTable {
  id: Generated<string>;
  member_id: string | null;
  stripe_subscription_id: string;
  reason: CancellationReason;
  comment: ColumnType<string, string | undefined, string>;
  outcome: 'cancelled' | 'retained' | 'paused';
  offer_id: string | null;
  created_at: DefaultTimestamp;
  applied_at: Timestamp | null;
  failed_at: Timestamp | null;
  failure: string | null;
}

export type MrrKind = 'new' | 'expansion' | 'contraction' | 'churn' | 'reactivation';
export interface MrrMovementsTable {
  id: Generated<string>;
  member_id: string | null;
  stripe_subscription_id: string;
  kind: MrrKind;
  cause: string;
  from_cents: number;
  to_cents: number;
  delta_cents: ColumnType<number, never, never>;
  occurred_at: DefaultTimestamp;
}

export interface StripeEventsTable {
  id: string;
  type: string;
  received_at: DefaultTimestamp;
}

export interface WebhooksTable {
  id: Generated<string>;
  url: string;
  description: ColumnType<string, string | undefined, string>;
  events: string[];
  secret: string;
  created_by: string | null;
  created_at: DefaultTimestamp;
  disabled_at: Timestamp | null;
  disabled_reason: string | null;
  failing_since: Timestamp | null;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  webhook_id: string;
  message_id: string;
  event_type: string;
  payload: Json<Record<string, unknown>>;
  status: ColumnType<WebhookDeliveryStatus, WebhookDeliveryStatus | undefined, WebhookDeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  last_status_code: number | null;
  last_response: string | null;
  last_error: string | null;
  next_attempt_at: Timestamp | null;
  created_at: DefaultTimestamp;
  delivered_at: Timestamp | null;
}

export interface WebhookAttemptsTable {
  id: Generated<string>;
  delivery_id: string;
  attempted_at: DefaultTimestamp;
  status_code: number | null;
  response_excerpt: string | null;
  error: string | null;
  duration_ms: number;
}

export type StripeSyncStatus = 'queued' | 'running' | 'done' | 'failed';

export interface StripeSyncsTable {
  id: Generated<string>;
  status: ColumnType<StripeSyncStatus, StripeSyncStatus | undefined, StripeSyncStatus>;
  via: 'admin' | 'cli' | 'api';
  requested_by: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  subscriptions: ColumnType<number, number | undefined, number>;
  linked: ColumnType<number, number | undefined, number>;
  unchanged: ColumnType<number, number | undefined, number>;
  unmatched: ColumnType<number, number | undefined, number>;
  report: ColumnType<Record<string, unknown>, string | undefined, string>;
  error: string | null;
  created_at: DefaultTimestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}

export type SendStatus = 'draft' | 'scheduled' | 'preparing' | 'sending' | 'paused' | 'sent' | 'cancelled' | 'failed';
export type DeliveryStatus = 'queued' | 'posted' | 'rejected' | 'skipped';
/** held: a subject test's rest, waiting for the winner. */
export type BatchStatus = 'pending' | 'posting' | 'posted' | 'failed' | 'cancelled' | 'held';
export type BatchPart = 'all' | 'sample' | 'rest';

export interface SendsTable {
  id: Generated<string>;
  post_id: string;
  status: ColumnType<SendStatus, SendStatus | undefined, SendStatus>;
  segment: ColumnType<Record<string, unknown>, string, string>;
  send_at: Timestamp | null;
  undo_seconds: ColumnType<number, number | undefined, number>;
  from_address: string | null;
  /** Fixed with from_address when the send is prepared; null for sends prepared before it existed. */
  reply_to: ColumnType<string | null, string | null | undefined, string | null>;
  rendered: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  recipients: ColumnType<number, number | undefined, number>;
  batches: ColumnType<number, number | undefined, number>;
  skipped: ColumnType<number, number | undefined, number>;
  delivered: ColumnType<number, number | undefined, number>;
  bounced: ColumnType<number, number | undefined, number>;
  complained: ColumnType<number, number | undefined, number>;
  delayed: ColumnType<number, number | undefined, number>;
  provider_failed: ColumnType<number, number | undefined, number>;
  error: string | null;
  created_by: string | null;
  created_at: DefaultTimestamp;
  scheduled_at: Timestamp | null;
  prepared_at: Timestamp | null;
  finished_at: Timestamp | null;
  /** When the mail provider stopped the send (429, 5xx, no answer); null once it accepts again (0062). */
  provider_paused_at: Timestamp | null;
  track_members: ColumnType<boolean, boolean | undefined, boolean>;
  /** A subject test's lines (2–4), or null: sending/subject-test.ts. */
  subjects: ColumnType<string[] | null, string[] | null | undefined, string[] | null>;
  test_sample: ColumnType<number | null, number | null | undefined, number | null>;
  test_wait_seconds: ColumnType<number | null, number | null | undefined, number | null>;
  test_ends_at: Timestamp | null;
  winner: ColumnType<number | null, number | null | undefined, number | null>;
  winner_rule: ColumnType<string | null, string | null | undefined, string | null>;
  winner_at: Timestamp | null;
  winner_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface DeliveriesTable {
  send_id: string;
  member_id: string;
  email: string;
  name: string | null;
  referral_code: string | null;
  variant: string;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  provider_id: string | null;
  error: string | null;
  posted_at: Timestamp | null;
  delivered_at: Timestamp | null;
  delayed_at: Timestamp | null;
  bounced_at: Timestamp | null;
  complained_at: Timestamp | null;
  failed_at: Timestamp | null;
  /** A sample delivery's subject (index in sends.subjects); null otherwise. */
  subject: ColumnType<number | null, number | null | undefined, number | null>;
  /** The rendering's language (0070); null: the send's own. */
  language: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface SendBatchesTable {
  send_id: string;
  batch: number;
  first_member: string;
  last_member: string;
  size: number;
  status: ColumnType<BatchStatus, BatchStatus | undefined, BatchStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: DefaultTimestamp;
  lease_until: Timestamp | null;
  claimed_by: string | null;
  error: string | null;
  posted_at: Timestamp | null;
  posted_count: ColumnType<number, number | undefined, number>;
  rejected_count: ColumnType<number, number | undefined, number>;
  part: ColumnType<BatchPart, BatchPart | undefined, BatchPart>;
}

/** The SMTP adapter's record of each message the relay answered (src/lib/mailer/smtp.ts). */
export interface SmtpJournalTable {
  message_id: string;
  idempotency_key: string;
  status: 'accepted' | 'rejected';
  response: ColumnType<string, string | undefined, string>;
  created_at: DefaultTimestamp;
}

export interface MailRateTable {
  id: string;
  next_at: DefaultTimestamp;
}

export type ReferralStatus = 'pending' | 'counted' | 'held' | 'rejected';
export type ReferralFlag = 'self' | 'network' | 'device' | 'quick_unsubscribe';
export interface ReferralsTable {
  referred_id: string;
  referrer_id: string;
  status: ColumnType<ReferralStatus, ReferralStatus | undefined, ReferralStatus>;
  flag: ReferralFlag | null;
  flag_detail: string | null;
  network_hash: string | null;
  device_hash: string | null;
  created_at: DefaultTimestamp;
  confirmed_at: Timestamp | null;
  counted_at: Timestamp | null;
  reviewed_at: Timestamp | null;
  reviewed_by: string | null;
}

export type ReferralRewardKind = 'comp' | 'manual';
export interface ReferralMilestonesTable {
  id: Generated<string>;
  threshold: number;
  description: string;
  reward: ReferralRewardKind;
  tier_id: string | null;
  comp_days: number | null;
  created_at: DefaultTimestamp;
  archived_at: Timestamp | null;
}

export type ReferralRewardStatus = 'applied' | 'banked' | 'to_fulfil' | 'fulfilled';
export interface ReferralRewardsTable {
  id: Generated<string>;
  member_id: string;
  milestone_id: string;
  referrals: number;
  status: ReferralRewardStatus;
  tier_id: string | null;
  comp_days: number | null;
  banked_days: ColumnType<number, number | undefined, number>;
  comp_until: Timestamp | null;
  created_at: DefaultTimestamp;
  fulfilled_at: Timestamp | null;
  fulfilled_by: string | null;
}

export interface CommentsTable {
  id: Generated<string>;
  post_id: string;
  parent_id: string | null;
  reply_to_id: string | null;
  member_id: string | null;
  staff_user_id: string | null;
  body: string;
  status: ColumnType<CommentStatus, CommentStatus | undefined, CommentStatus>;
  hold_reason: string | null;
  hold_note: ColumnType<string | null, string | null | undefined, string | null>;
  erased: ColumnType<boolean, boolean | undefined, boolean>;
  question: ColumnType<boolean, boolean | undefined, boolean>;
  answered_at: Timestamp | null;
  announced: ColumnType<boolean, boolean | undefined, boolean>;
  fingerprint: ColumnType<string, string | undefined, string>;
  created_at: DefaultTimestamp;
  edited_at: Timestamp | null;
  moderated_at: Timestamp | null;
  moderated_by: string | null;
  /** Set on a comment that came from a fediverse account (0046). */
  remote_actor: ColumnType<string | null, string | null | undefined, string | null>;
  remote_handle: ColumnType<string | null, string | null | undefined, string | null>;
  remote_object_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Set on a staff reply federated as a note. */
  ap_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ReactionsTable {
  id: Generated<string>;
  member_id: string;
  post_id: string;
  comment_id: string | null;
  kind: string;
  created_at: DefaultTimestamp;
}

export interface CommentReportsTable {
  comment_id: string;
  member_id: string;
  reason: string;
  created_at: DefaultTimestamp;
  resolved_at: Timestamp | null;
}

export interface CommentBansTable {
  member_id: string;
  until: Timestamp;
  reason: ColumnType<string, string | undefined, string>;
  created_by: string | null;
  created_at: DefaultTimestamp;
}

export interface ModerationLogTable {
  id: Generated<string>;
  comment_id: string | null;
  member_id: string | null;
  staff_user_id: string | null;
  action: string;
  note: ColumnType<string, string | undefined, string>;
  created_at: DefaultTimestamp;
}

export interface CommentNotificationsTable {
  id: Generated<string>;
  member_id: string;
  comment_id: string;
  kind: 'reply' | 'answer';
  created_at: DefaultTimestamp;
  sent_at: Timestamp | null;
}

export interface CommentNotificationOptoutsTable {
  member_id: string;
  created_at: DefaultTimestamp;
}

export type EngagementKind = 'open' | 'click' | 'read' | 'view' | 'poll';

export interface SendLinksTable {
  send_id: string;
  link: number;
  url: string;
  post_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface EngagementEventsTable {
  occurred_at: DefaultTimestamp;
  kind: EngagementKind;
  member_id: string | null;
  send_id: string | null;
  post_id: string | null;
  link: number | null;
  machine: ColumnType<boolean, boolean | undefined, boolean>;
  agent: ColumnType<string, string | undefined, string>;
}

export interface StatsStateTable {
  name: string;
  value: Timestamp;
}

export interface StatsMemberDaysTable {
  member_id: string;
  day: Date;
  clicks: number;
  reads: number;
  comments: number;
  reactions: number;
}

export interface StatsMembersTable {
  member_id: string;
  last_engaged_at: Timestamp | null;
  last_emailed_at: Timestamp | null;
  /** The engagement score (0–5, stats/definitions.ts) as of the last rollup: the members table sorts by it (0074). */
  score: ColumnType<number, number | undefined, number>;
}

/** Per-chunk last engagement, folded into stats_members at the end of a rollup run (migration 0078). */
export interface StatsEngagedPendingTable {
  member_id: string;
  last_engaged_at: Timestamp;
}

export interface StatsDaysTable {
  day: Date;
  joined: number;
  left: number;
  mrr_new_cents: string;
  mrr_lost_cents: string;
  members_free: number | null;
  members_paid: number | null;
  engaged: number | null;
  emailed: number | null;
  mrr_cents: string | null;
  computed_at: DefaultTimestamp;
}

export interface StatsSourcesTable {
  dimension: 'platform' | 'campaign';
  key: string;
  signups: number;
  confirmed: number;
  eligible_30: number;
  retained_30: number;
  eligible_90: number;
  retained_90: number;
  emailed: number;
  engaged: number;
  paid: number;
  mrr_cents: string;
}

export interface StatsCohortsTable {
  platform: string;
  week: Date;
  offset_week: number;
  members: number;
  subscribed: number;
  engaged: number;
}

/** Each cohort week's members as counted into stats_cohorts, as a fingerprint (migration 0084). */
export interface StatsCohortWeeksTable {
  week: Date;
  members: number;
  h1: string;
  h2: string;
}

export interface StatsSendsTable {
  send_id: string;
  human_opens: number;
  unique_human_opens: number;
  machine_opens: number;
  human_clicks: number;
  unique_human_clicks: number;
  machine_clicks: number;
  unsubscribes: number;
  comments: number;
  upgrades: number;
  emailed_rolled_at: Timestamp | null;
  computed_at: DefaultTimestamp;
}

export interface StatsSendLinksTable {
  send_id: string;
  link: number;
  human_clicks: number;
  unique_human_clicks: number;
  machine_clicks: number;
}

export interface StatsSendHoursTable {
  send_id: string;
  hour: number;
  human_opens: number;
  machine_opens: number;
  human_clicks: number;
}

export interface StatsPostDaysTable {
  post_id: string;
  day: Date;
  reads: number;
  views: number;
}

export type AutomationStatus = 'draft' | 'live' | 'paused';
export interface AutomationsTable {
  id: Generated<string>;
  name: string;
  trigger: Json<Record<string, unknown>>;
  trigger_type: string;
  status: ColumnType<AutomationStatus, AutomationStatus | undefined, AutomationStatus>;
  template: string | null;
  created_by: string | null;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  live_since: Timestamp | null;
}

export interface AutomationStepsTable {
  id: Generated<string>;
  automation_id: string;
  position: number | null;
  definition: Json<Record<string, unknown>>;
  entered: ColumnType<number, number | undefined, number>;
  exited: ColumnType<number, number | undefined, number>;
  removed_at: Timestamp | null;
}

export interface AutomationEmailsTable {
  id: Generated<string>;
  step_id: string;
  rendered: Json<Record<string, unknown>>;
  links: string[];
  created_at: DefaultTimestamp;
}

export type AutomationMemberStatus = 'active' | 'done' | 'exited' | 'left';
export interface AutomationMembersTable {
  automation_id: string;
  member_id: string;
  step_id: string | null;
  status: ColumnType<AutomationMemberStatus, AutomationMemberStatus | undefined, AutomationMemberStatus>;
  due_at: DefaultTimestamp;
  entered_at: DefaultTimestamp;
  finished_at: Timestamp | null;
  reason: string | null;
}

export interface AutomationBatchesTable {
  id: Generated<string>;
  automation_id: string;
  step_id: string;
  email_id: string;
  from_address: string;
  reply_to: string;
  track_members: boolean;
  size: number;
  status: ColumnType<
    'pending' | 'posting' | 'posted' | 'failed',
    'pending' | 'posting' | 'posted' | 'failed' | undefined,
    'pending' | 'posting' | 'posted' | 'failed'
  >;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: DefaultTimestamp;
  lease_until: Timestamp | null;
  claimed_by: string | null;
  error: string | null;
  posted_at: Timestamp | null;
}

export interface AutomationDeliveriesTable {
  step_id: string;
  member_id: string;
  automation_id: string;
  batch_id: string;
  email_id: string;
  email: string;
  name: string | null;
  referral_code: string | null;
  variant: ColumnType<string, string | undefined, string>;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  provider_id: string | null;
  error: string | null;
  created_at: DefaultTimestamp;
  posted_at: Timestamp | null;
  /** The rendering's language (0070); null: the email's own. */
  language: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface AutomationTierWatchTable {
  id: Generated<string>;
  member_id: string;
  tier_before: string;
  created_at: DefaultTimestamp;
}

export interface AutomationChangesTable {
  id: Generated<string>;
  automation_id: string | null;
  staff_user_id: string | null;
  staff_email: string | null;
  action: string;
  detail: Json<Record<string, unknown>>;
  created_at: DefaultTimestamp;
}

export interface FediverseKeysTable {
  kind: 'rsa' | 'ed25519';
  public_jwk: ColumnType<JsonWebKey, string, string>;
  private_jwk: ColumnType<JsonWebKey, string, string>;
  created_at: DefaultTimestamp;
}

export interface FediverseKvTable {
  key: string;
  value: ColumnType<unknown, string, string>;
  expires_at: Timestamp | null;
}

export interface FediverseFollowersTable {
  id: Generated<string>;
  actor_uri: string;
  handle: string;
  server: string;
  inbox: string;
  shared_inbox: string | null;
  created_at: DefaultTimestamp;
}

export interface FediverseFollowingTable {
  id: Generated<string>;
  actor_uri: string;
  handle: string;
  inbox: string;
  follow_id: string;
  accepted_at: Timestamp | null;
  created_at: DefaultTimestamp;
}

export interface FediverseDomainBlocksTable {
  domain: string;
  reason: ColumnType<string, string | undefined, string>;
  created_at: DefaultTimestamp;
}

export interface FediversePostsTable {
  post_id: string;
  object_id: string;
  state: 'live' | 'deleted';
  digest: string;
  updated_at: DefaultTimestamp;
}

export interface FediverseDeliveriesTable {
  id: Generated<string>;
  activity_id: string;
  inbox: string;
  body: ColumnType<Record<string, unknown>, string, string>;
  status: ColumnType<
    'pending' | 'delivered' | 'failed',
    'pending' | 'delivered' | 'failed' | undefined,
    'pending' | 'delivered' | 'failed'
  >;
  attempts: ColumnType<number, number | undefined, number>;
  last_status_code: number | null;
  last_error: string | null;
  created_at: DefaultTimestamp;
  delivered_at: Timestamp | null;
}

export interface FediverseReceivedTable {
  id: Generated<string>;
  object_id: string;
  actor_uri: string;
  handle: string;
  type: string;
  in_reply_to: string | null;
  name: string | null;
  summary: string | null;
  content: ColumnType<string, string | undefined, string>;
  url: string | null;
  received_at: DefaultTimestamp;
  updated_at: Timestamp | null;
}

export interface RecommendationsTable {
  id: Generated<string>;
  url: string;
  name: string;
  reason: ColumnType<string, string | undefined, string>;
  clicks: ColumnType<number, number | undefined, number>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  kind: ColumnType<RecommendationKind, RecommendationKind | undefined, RecommendationKind>;
  checked_at: Date | null;
}

export type RecommendationKind = 'hearth' | 'ghost' | 'other';

export interface RecommendationSubscriptionsTable {
  recommendation_id: string;
  member_id: string;
  status: ColumnType<'queued' | 'sent' | 'failed', 'queued' | 'sent' | 'failed' | undefined, 'queued' | 'sent' | 'failed'>;
  last_error: string | null;
  created_at: DefaultTimestamp;
  sent_at: Date | null;
}

export interface FediverseActorBansTable {
  id: Generated<string>;
  actor_uri: string;
  handle: string;
  reason: ColumnType<string, string | undefined, string>;
  created_by: string | null;
  created_at: DefaultTimestamp;
}

/** Staff's versions of an automatic email per (kind, language) (migration 0072); the highest version is live. */
export interface AutomaticEmailVersionsTable {
  id: Generated<string>;
  kind: string;
  language: string;
  version: number;
  reset: ColumnType<boolean, boolean | undefined, boolean>;
  subject: string | null;
  preheader: string | null;
  markdown: string | null;
  created_by: string | null;
  created_by_email: string | null;
  created_at: DefaultTimestamp;
}

/** Members per (newsletter, status, platform, tier), kept by triggers (migration 0057); newsletter_id 0: every member once. */
export interface MemberFacetsTable {
  newsletter_id: string;
  status: MemberStatus;
  source_platform: string;
  tier_id: string;
  members: ColumnType<string, string | number, string | number>;
}

export interface Database {
  recommendations: RecommendationsTable;
  recommendation_subscriptions: RecommendationSubscriptionsTable;
  fediverse_actor_bans: FediverseActorBansTable;
  automatic_email_versions: AutomaticEmailVersionsTable;
  image_sizes: ImageSizesTable;
  fediverse_keys: FediverseKeysTable;
  fediverse_kv: FediverseKvTable;
  fediverse_followers: FediverseFollowersTable;
  fediverse_following: FediverseFollowingTable;
  fediverse_domain_blocks: FediverseDomainBlocksTable;
  fediverse_posts: FediversePostsTable;
  fediverse_deliveries: FediverseDeliveriesTable;
  fediverse_received: FediverseReceivedTable;
  staff_users: StaffUsersTable;
  staff_sessions: StaffSessionsTable;
  api_tokens: ApiTokensTable;
  settings: SettingsTable;
  install_test_emails: InstallTestEmailsTable;
  newsletters: NewslettersTable;
  tiers: TiersTable;
  members: MembersTable;
  member_fields: MemberFieldsTable;
  polls: PollsTable;
  poll_votes: PollVotesTable;
  member_newsletters: MemberNewslettersTable;
  member_facets: MemberFacetsTable;
  posts: PostsTable;
  outbox: OutboxTable;
  rate_limits: RateLimitsTable;
  worker_heartbeats: WorkerHeartbeatsTable;
  labels: LabelsTable;
  member_labels: MemberLabelsTable;
  events: EventsTable;
  suppressions: SuppressionsTable;
  imports: ImportsTable;
  import_chunks: ImportChunksTable;
  import_rows: ImportRowsTable;
  import_skips: ImportSkipsTable;
  import_rejections: ImportRejectionsTable;
  import_changes: ImportChangesTable;
  post_slugs: PostSlugsTable;
  post_redirects: PostRedirectsTable;
  member_sign_ins: MemberSignInsTable;
  member_sessions: MemberSessionsTable;
  subscriptions: SubscriptionsTable;
  stripe_events: StripeEventsTable;
  stripe_syncs: StripeSyncsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  sends: SendsTable;
  deliveries: DeliveriesTable;
  send_batches: SendBatchesTable;
  mail_rate: MailRateTable;
  smtp_journal: SmtpJournalTable;
  send_links: SendLinksTable;
  engagement_events: EngagementEventsTable;
  stats_state: StatsStateTable;
  stats_member_days: StatsMemberDaysTable;
  stats_members: StatsMembersTable;
  stats_engaged_pending: StatsEngagedPendingTable;
  stats_days: StatsDaysTable;
  stats_sources: StatsSourcesTable;
  stats_cohorts: StatsCohortsTable;
  stats_cohort_weeks: StatsCohortWeeksTable;
  stats_sends: StatsSendsTable;
  stats_send_links: StatsSendLinksTable;
  stats_send_hours: StatsSendHoursTable;
  stats_post_days: StatsPostDaysTable;
  referrals: ReferralsTable;
  referral_milestones: ReferralMilestonesTable;
  referral_rewards: ReferralRewardsTable;
  comments: CommentsTable;
  reactions: ReactionsTable;
  comment_reports: CommentReportsTable;
  comment_bans: CommentBansTable;
  moderation_log: ModerationLogTable;
  comment_notifications: CommentNotificationsTable;
  comment_notification_optouts: CommentNotificationOptoutsTable;
  send_live_counts: SendLiveCountsTable;
  send_live_firsts: SendLiveFirstsTable;
  live_events: LiveEventsTable;
  staff_alert_settings: StaffAlertSettingsTable;
  staff_alerts: StaffAlertsTable;
  signup_signals: SignupSignalsTable;
  signup_waves: SignupWavesTable;
  signup_holds: SignupHoldsTable;
  offers: OffersTable;
  offer_redemptions: OfferRedemptionsTable;
  gifts: GiftsTable;
  cancellations: CancellationsTable;
  mrr_movements: MrrMovementsTable;
  automations: AutomationsTable;
  automation_steps: AutomationStepsTable;
  automation_emails: AutomationEmailsTable;
  automation_members: AutomationMembersTable;
  automation_batches: AutomationBatchesTable;
  automation_deliveries: AutomationDeliveriesTable;
  automation_changes: AutomationChangesTable;
  automation_tier_watch: AutomationTierWatchTable;
}

export interface SignupSignalsTable {
  member_id: string;
  created_at: DefaultTimestamp;
  pattern: string;
  network: string;
  agent: string;
  landing: string;
}

export type WaveDimension = 'pattern' | 'network' | 'agent' | 'landing' | 'ceiling';

export interface SignupWavesTable {
  id: Generated<string>;
  dimension: WaveDimension;
  key: string;
  reason: string;
  started_at: DefaultTimestamp;
  closed_at: Timestamp | null;
}

export interface SignupHoldsTable {
  member_id: string;
  wave_id: string;
  newsletter_ids: string[];
  held_at: DefaultTimestamp;
  released_at: Timestamp | null;
  dropped_at: Timestamp | null;
}

export interface SendLiveCountsTable {
  send_id: string;
  link: number;
  human_opens: number;
  unique_human_opens: number;
  machine_opens: number;
  human_clicks: number;
  unique_human_clicks: number;
  machine_clicks: number;
}

export interface SendLiveFirstsTable {
  send_id: string;
  what: number;
  member_id: string;
}

export interface LiveEventsTable {
  id: Generated<string>;
  seq: ColumnType<string | null, never, never>;
  type: string;
  data: ColumnType<unknown, string | undefined, string>;
  key: string | null;
  created_at: DefaultTimestamp;
}

export type AlertKind = 'question' | 'comment_held' | 'comment_reported' | 'send_failed' | 'payment_failed' | 'signup_wave';
export type AlertMode = 'immediate' | 'hourly' | 'none';

export interface StaffAlertSettingsTable {
  staff_user_id: string;
  kind: AlertKind;
  mode: AlertMode;
}

export interface StaffAlertsTable {
  id: Generated<string>;
  staff_user_id: string;
  kind: AlertKind;
  fact_key: string;
  summary: string;
  link: string;
  mode: Exclude<AlertMode, 'none'>;
  created_at: DefaultTimestamp;
  emailed_at: Timestamp | null;
}

export type StaffUser = Selectable<StaffUsersTable>;
export type Member = Selectable<MembersTable>;
export type Offer = Selectable<OffersTable>;
export type Gift = Selectable<GiftsTable>;
export type Post = Selectable<PostsTable>;
export type Tier = Selectable<TiersTable>;
export type Comment = Selectable<CommentsTable>;
