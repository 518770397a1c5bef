import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import {
  AutomationEnvelope,
  AutomationList,
  AutomationPreviewEnvelope,
  AutomationStatsEnvelope,
  automationPatchBody,
  HoldState,
  holdBody,
  newAutomationBody,
  previewQuery,
} from './automation.ts';
import { patchCommentBody, CommentEnvelope, CommentPage } from './comment.ts';
import {
  AutomaticEmailEnvelope,
  AutomaticEmailList,
  AutomaticEmailVersions,
  EmailKind,
  languageBody,
  languageQuery,
  putEmailBody,
  TestSent,
} from './email.ts';
import { FieldEnvelope, FieldList, newFieldBody, patchFieldBody } from './field.ts';
import { ImportChangesEnvelope, ImportEnvelope, importOptionsBody } from './import.ts';
import { newPollBody, patchPollBody, PollEnvelope, PollPage } from './poll.ts';
import { createMemberBody, MemberCount, MemberEnvelope, MemberPage, patchMemberBody } from './member.ts';
import { NewsletterEnvelope, NewsletterList, newNewsletterBody, patchNewsletterBody } from './newsletter.ts';
import { patchPostBody, postBody, PostEnvelope, PostPage, postListQuery } from './post.ts';
import { ApiError, Id } from './schema.ts';
import { countBody, scheduleBody, sendBody, SendEnvelope, SendPage, SendRecipients, SendReport, winnerBody } from './send.ts';
import { patchSiteBody, SiteEnvelope } from './site.ts';
import { StaffEnvelope } from './staff.ts';
import { StripeSyncEnvelope } from './stripe-sync.ts';
import { MemberEngagement, StatsAnswers, StatsCohorts, StatsOverview, StatsPost, StatsSend, StatsSources } from './stats.ts';
import { newTierBody, TierEnvelope, TierList } from './tier.ts';
import { newOfferBody, OfferEnvelope, OfferList, patchOfferBody } from './offer.ts';
import {
  banBody,
  BanEnvelope,
  BanList,
  blockBody,
  BlockEnvelope,
  BlockList,
  FediverseOverview,
  followBody,
  FollowingCreated,
  FollowingList,
  ReceivedList,
  replyBody,
  ReplyEnvelope,
} from './fediverse.ts';
import { newRecommendationBody, RecommendationEnvelope, RecommendationList } from './recommendation.ts';
import { newWebhookBody, WebhookCreated, WebhookDeliveryEnvelope, WebhookDeliveryList, WebhookList } from './webhook.ts';

/**
 * The admin API as an OpenAPI 3.1 document, generated from the same zod schemas the routes parse
 * requests with and build responses from (src/web/api/*.ts). Served at GET /api/v1/openapi.json;
 * test/http/openapi.test.ts calls every operation listed here and validates the real answers
 * against it, so the document and the routes cannot drift apart unnoticed.
 */

type Status = '200' | '201' | '202' | '204';
interface Operation {
  summary: string;
  /** The permission the token's role needs (src/web/guard.ts). */
  permission: string;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** A multipart body, described as is (the routes stream it; zod never sees it). */
  multipart?: Record<string, unknown>;
  ok: [Status, z.ZodType | null];
  /** The error statuses this call can answer besides 401 (no or bad token) and 403 (role). */
  errors?: Array<'400' | '404' | '409' | '429' | '503'>;
}

const ERROR_TEXT: Record<string, string> = {
  '400': 'The request is malformed or breaks a rule.',
  '401': 'No valid staff token.',
  '403': "The token's role may not do this.",
  '404': 'No such resource.',
  '409': 'The request conflicts with the current state.',
  '429': 'Too many attempts; see retry-after.',
  '503': 'An outside service (Stripe) could not be reached or refused the call; nothing was changed.',
};

const error = (status: string) => ({ description: ERROR_TEXT[status]!, content: { 'application/json': { schema: ApiError } } });

function operation(op: Operation, pathParams: string[]): ZodOpenApiOperationObject {
  const [status, schema] = op.ok;
  const path = pathParams.length
    ? z.object(
        Object.fromEntries(
          pathParams.map((p) => [
            p,
            p === 'slug' ? Slug : p === 'kind' ? EmailKind : p === 'key' ? FieldKey : p === 'domain' ? Domain : Id,
          ]),
        ),
      )
    : undefined;
  const body = op.body
    ? { required: true, content: { 'application/json': { schema: op.body } } }
    : op.multipart
      ? { required: true, content: { 'multipart/form-data': { schema: op.multipart } } }
      : undefined;
  return {
    summary: op.summary,
    description: `Needs the \`${op.permission}\` permission.`,
    ...(op.query || path ? { requestParams: { ...(op.query ? { query: op.query } : {}), ...(path ? { path } : {}) } } : {}),
    ...(body ? { requestBody: body } : {}),
    responses: {
      [status]: schema ? { description: 'OK', content: { 'application/json': { schema } } } : { description: 'Done; no body.' },
      ...Object.fromEntries(['401', '403', ...(op.errors ?? [])].sort().map((s) => [s, error(s)])),
    },
  };
}

const Slug = z.string().meta({ description: 'A slug, e.g. weekly-letter.' });
const FieldKey = z.string().meta({ description: 'A custom field key, e.g. city.' });
const Domain = z.string().meta({ description: 'A server name, e.g. spam.example.' });

const text = (description: string) => z.string().optional().meta({ description });

const memberFilter = z.object({
  query: text('A prefix of the address or the name.'),
  status: z.enum(['pending', 'active', 'unsubscribed', 'bounced', 'complained']).optional(),
  newsletter: text('A newsletter slug.'),
  tier: text('A tier slug.'),
  label: text('A label name.'),
  platform: text('A source platform, e.g. instagram.'),
  created_from: text('A day (2026-01-31) or an ISO 8601 time.'),
  created_to: text('A day (inclusive) or an ISO 8601 time.'),
  field_set: text('A custom field key: members who have a value for it. For "equals", add `field.<key>=<value>`.'),
});
const page = {
  limit: z.string().optional().meta({ description: '1 to 200; default 50.' }),
  after: text('The `next` of the previous page.'),
};

const SEND_COMMANDS = ['schedule', 'cancel', 'undo', 'pause', 'resume', 'retry'] as const;

/** Every documented call: path (Astro's `[id]` written `{id}`) → method → operation. */
export const API_OPERATIONS: Record<string, Partial<Record<'get' | 'post' | 'put' | 'patch' | 'delete', Operation>>> = {
  '/api/v1/me': { get: { summary: 'The staff user this token belongs to', permission: 'dashboard:view', ok: ['200', StaffEnvelope] } },
  '/api/v1/members': {
    get: {
      summary: 'Members, newest first (address order when searching)',
      permission: 'members:read',
      query: memberFilter.extend(page),
      ok: ['200', MemberPage],
      errors: ['400'],
    },
    post: {
      summary: 'Add a member',
      permission: 'members:write',
      body: createMemberBody,
      ok: ['201', MemberEnvelope],
      errors: ['400', '409'],
    },
  },
  '/api/v1/members/count': {
    get: {
      summary: 'How many members match the filters',
      permission: 'members:read',
      query: memberFilter,
      ok: ['200', MemberCount],
      errors: ['400'],
    },
  },
  '/api/v1/members/{id}': {
    get: { summary: 'One member', permission: 'members:read', ok: ['200', MemberEnvelope], errors: ['404'] },
    patch: {
      summary: 'Change a member (fields left out keep their value)',
      permission: 'members:write',
      body: patchMemberBody,
      ok: ['200', MemberEnvelope],
      errors: ['400', '404', '409'],
    },
    delete: { summary: 'Erase a member and everything tied to them', permission: 'members:write', ok: ['204', null], errors: ['404'] },
  },
  '/api/v1/fields': {
    get: {
      summary: 'Custom member fields in their order (archived ones with archived=1)',
      permission: 'members:read',
      query: z.object({ archived: z.enum(['1', '0']).optional() }),
      ok: ['200', FieldList],
    },
    post: {
      summary: 'Define a custom member field',
      permission: 'settings:manage',
      body: newFieldBody,
      ok: ['201', FieldEnvelope],
      errors: ['400', '409'],
    },
  },
  '/api/v1/fields/{key}': {
    get: { summary: 'One custom member field', permission: 'members:read', ok: ['200', FieldEnvelope], errors: ['404'] },
    patch: {
      summary: 'Change a field (label, options, member_editable, order, archived); key and type stay',
      permission: 'settings:manage',
      body: patchFieldBody,
      ok: ['200', FieldEnvelope],
      errors: ['400', '404'],
    },
    delete: {
      summary: 'Archive a field: its values stay on members',
      permission: 'settings:manage',
      ok: ['200', FieldEnvelope],
      errors: ['404'],
    },
  },
  '/api/v1/polls': {
    get: { summary: 'Polls, newest first', permission: 'posts:write', query: z.object(page), ok: ['200', PollPage], errors: ['400'] },
    post: {
      summary: 'Create a poll (put its block, {{poll:<id>}}, in a post)',
      permission: 'posts:write',
      body: newPollBody,
      ok: ['201', PollEnvelope],
      errors: ['400'],
    },
  },
  '/api/v1/polls/{id}': {
    get: {
      summary: 'A poll and its results per answer, platform and tier',
      permission: 'posts:write',
      ok: ['200', PollEnvelope],
      errors: ['404'],
    },
    patch: {
      summary: 'Change, open or close a poll',
      permission: 'posts:write',
      body: patchPollBody,
      ok: ['200', PollEnvelope],
      errors: ['400', '404'],
    },
  },
  '/api/v1/imports': {
    post: {
      summary: 'Import members from a CSV (queued; poll the import)',
      permission: 'members:write',
      multipart: {
        type: 'object',
        required: ['file'],
        properties: {
          file: { type: 'string', contentMediaType: 'text/csv', description: 'The CSV, up to 1 GiB.' },
          newsletter: { type: 'string', description: 'A newsletter slug.' },
          format: { type: 'string', enum: ['auto', 'generic', 'mailchimp', 'substack', 'ghost', 'beehiiv', 'kit', 'listmonk', 'hearth'] },
          mark_confirmed: { type: 'string', enum: ['true', '1', 'false', '0'] },
          attestation: { type: 'string', description: 'Required with mark_confirmed: how these people opted in.' },
          send_confirmation: { type: 'string', enum: ['true', '1', 'false', '0'] },
          preview: { type: 'string', enum: ['true', '1', 'false', '0'], description: 'Stop at previewed with the summary.' },
          confirm_free: { type: 'string', enum: ['true', '1', 'false', '0'] },
          encoding: { type: 'string', enum: ['utf-8', 'windows-1252'] },
          mapping: { type: 'string', description: 'JSON object: column header → field name (or "ignore").' },
          plans: { type: 'string', description: 'JSON object: source plan (or tag:<label>) → {"tier","access"}.' },
        },
      },
      ok: ['202', ImportEnvelope],
      errors: ['400'],
    },
  },
  '/api/v1/imports/{id}': {
    get: { summary: 'An import and its progress', permission: 'members:write', ok: ['200', ImportEnvelope], errors: ['404'] },
  },
  '/api/v1/imports/{id}/start': {
    post: {
      summary: 'Start a previewed import (with its plan mapping, manual mapping, confirmation)',
      permission: 'members:write',
      body: importOptionsBody,
      ok: ['202', ImportEnvelope],
      errors: ['400', '404', '409'],
    },
  },
  '/api/v1/imports/{id}/changes': {
    get: {
      summary: 'Existing members the import changes (or, previewed, will change)',
      permission: 'members:write',
      ok: ['200', ImportChangesEnvelope],
      errors: ['400', '404'],
    },
  },
  '/api/v1/posts': {
    get: {
      summary: 'Posts, newest first',
      permission: 'posts:write',
      query: postListQuery,
      ok: ['200', PostPage],
      errors: ['400'],
    },
    post: { summary: 'Write a post', permission: 'posts:write', body: postBody, ok: ['201', PostEnvelope], errors: ['400', '409'] },
  },
  '/api/v1/posts/{id}': {
    get: { summary: 'One post, with its Markdown', permission: 'posts:write', ok: ['200', PostEnvelope], errors: ['404'] },
    patch: {
      summary: 'Change a post (needs the revision last read)',
      permission: 'posts:write',
      body: patchPostBody,
      ok: ['200', PostEnvelope],
      errors: ['400', '404', '409'],
    },
  },
  '/api/v1/sends': {
    get: {
      summary: 'Sends, newest first',
      permission: 'sends:write',
      query: z.object({ post: text('Only the sends of this post (id).'), ...page }),
      ok: ['200', SendPage],
      errors: ['400'],
    },
    post: {
      summary: 'Email a post to a segment (scheduled after the undo window, or as a draft)',
      permission: 'sends:write',
      body: sendBody,
      ok: ['201', SendEnvelope],
      errors: ['400', '404', '409'],
    },
  },
  '/api/v1/sends/count': {
    post: {
      summary: 'How many members a send would reach now',
      permission: 'sends:write',
      body: countBody,
      ok: ['200', SendRecipients],
      errors: ['400', '404'],
    },
  },
  '/api/v1/sends/{id}': {
    get: {
      summary: 'One send and its figures; with report=1, its batches and failures too',
      permission: 'sends:write',
      query: z.object({ report: z.enum(['1']).optional() }),
      ok: ['200', z.union([SendEnvelope, SendReport])],
      errors: ['404'],
    },
  },
  ...Object.fromEntries(
    SEND_COMMANDS.map((c) => [
      `/api/v1/sends/{id}/${c}`,
      {
        post: {
          summary:
            c === 'schedule' ? 'Schedule a draft (body optional: send_at, undo_seconds)' : `${c[0]!.toUpperCase()}${c.slice(1)} a send`,
          permission: 'sends:write',
          ...(c === 'schedule' ? { body: scheduleBody } : {}),
          ok: ['200', SendEnvelope],
          errors: ['400', '404', '409'],
        } satisfies Operation,
      },
    ]),
  ),
  '/api/v1/sends/{id}/winner': {
    post: {
      summary: "Pick a subject test's winner by hand, before its wait is over",
      permission: 'sends:write',
      body: winnerBody,
      ok: ['200', SendEnvelope],
      errors: ['400', '404', '409'],
    },
  },
  '/api/v1/newsletters': {
    get: {
      summary: 'Newsletters in their order (archived ones with archived=1)',
      permission: 'newsletters:read',
      query: z.object({ archived: z.enum(['1', '0']).optional() }),
      ok: ['200', NewsletterList],
    },
    post: {
      summary: 'Create a newsletter (the first one becomes the default)',
      permission: 'newsletters:manage',
      body: newNewsletterBody,
      ok: ['201', NewsletterEnvelope],
      errors: ['400', '409'],
    },
  },
  '/api/v1/newsletters/{slug}': {
    get: { summary: 'One newsletter', permission: 'newsletters:read', ok: ['200', NewsletterEnvelope], errors: ['404'] },
    patch: {
      summary: 'Change a newsletter (fields left out keep their value)',
      permission: 'newsletters:manage',
      body: patchNewsletterBody,
      ok: ['200', NewsletterEnvelope],
      errors: ['400', '404', '409'],
    },
    delete: {
      summary: 'Archive a newsletter: members and sends stay, no new subscribers',
      permission: 'newsletters:manage',
      ok: ['200', NewsletterEnvelope],
      errors: ['404'],
    },
  },
  '/api/v1/tiers': {
    get: { summary: 'Active tiers', permission: 'tiers:read', ok: ['200', TierList] },
    post: {
      summary: 'A paid tier, its prices created in Stripe',
      permission: 'settings:manage',
      body: newTierBody,
      ok: ['201', TierEnvelope],
      errors: ['400', '409', '503'],
    },
  },
  '/api/v1/offers': {
    get: { summary: 'Offers (archived ones too with ?archived=1)', permission: 'settings:manage', ok: ['200', OfferList] },
    post: {
      summary: "An offer on a tier: a Stripe coupon and promotion code, then the offer (Stripe's refusal: 400 with its reason)",
      permission: 'settings:manage',
      body: newOfferBody,
      ok: ['201', OfferEnvelope],
      errors: ['400', '404', '409', '503'],
    },
  },
  '/api/v1/offers/{id}': {
    get: { summary: 'An offer', permission: 'settings:manage', ok: ['200', OfferEnvelope], errors: ['404'] },
    patch: {
      summary: 'Rename an offer, or (de)activate its code in Stripe',
      permission: 'settings:manage',
      body: patchOfferBody,
      ok: ['200', OfferEnvelope],
      errors: ['400', '404', '503'],
    },
    delete: {
      summary: 'Archive an offer (its code stops working in Stripe; redemptions stay)',
      permission: 'settings:manage',
      ok: ['200', OfferEnvelope],
      errors: ['404', '503'],
    },
  },
  '/api/v1/site': {
    get: { summary: 'Site settings', permission: 'settings:manage', ok: ['200', SiteEnvelope] },
    patch: {
      summary: 'Change site settings (fields left out keep their value)',
      permission: 'settings:manage',
      body: patchSiteBody,
      ok: ['200', SiteEnvelope],
      errors: ['400'],
    },
  },
  '/api/v1/billing/sync': {
    post: {
      summary: "Adopt the Stripe account's existing subscriptions (queued; poll the run)",
      permission: 'settings:manage',
      ok: ['202', StripeSyncEnvelope],
      errors: ['409'],
    },
  },
  '/api/v1/billing/sync/{id}': {
    get: { summary: 'A Stripe sync run and its report', permission: 'settings:manage', ok: ['200', StripeSyncEnvelope], errors: ['404'] },
  },
  '/api/v1/webhooks': {
    get: { summary: 'Outbound webhook endpoints (never their secrets)', permission: 'settings:manage', ok: ['200', WebhookList] },
    post: {
      summary: 'Register an endpoint; the answer carries its signing secret, shown only this once',
      permission: 'settings:manage',
      body: newWebhookBody,
      ok: ['201', WebhookCreated],
      errors: ['400', '409'],
    },
  },
  '/api/v1/webhooks/{id}': {
    delete: { summary: 'Delete an endpoint and its delivery log', permission: 'settings:manage', ok: ['204', null], errors: ['404'] },
  },
  '/api/v1/webhooks/{id}/deliveries': {
    get: {
      summary: "An endpoint's newest deliveries and their response codes",
      permission: 'settings:manage',
      query: z.object({ limit: z.string().optional().meta({ description: '1 to 200; default 50.' }) }),
      ok: ['200', WebhookDeliveryList],
      errors: ['400', '404'],
    },
  },
  '/api/v1/webhooks/{id}/deliveries/{delivery}/replay': {
    post: {
      summary: 'Send one delivery again (same webhook-id); turns a disabled endpoint back on',
      permission: 'settings:manage',
      ok: ['202', WebhookDeliveryEnvelope],
      errors: ['404'],
    },
  },
  '/api/v1/fediverse': {
    get: {
      summary: 'Followers and their servers, accounts followed, blocked servers, banned accounts',
      permission: 'settings:manage',
      ok: ['200', FediverseOverview],
    },
  },
  '/api/v1/fediverse/following': {
    get: { summary: "Accounts the site's actor follows", permission: 'settings:manage', ok: ['200', FollowingList] },
    post: {
      summary: "The site's actor follows an account (its posts then arrive in received)",
      permission: 'settings:manage',
      body: followBody,
      ok: ['202', FollowingCreated],
      errors: ['400', '404'],
    },
  },
  '/api/v1/fediverse/received': {
    get: {
      summary: 'What arrived from followed accounts and replies to the site, newest first (plain text)',
      permission: 'comments:moderate',
      ok: ['200', ReceivedList],
    },
  },
  '/api/v1/fediverse/replies': {
    post: {
      summary: "A public reply from the site's actor to something received",
      permission: 'comments:moderate',
      body: replyBody,
      ok: ['202', ReplyEnvelope],
      errors: ['400', '404'],
    },
  },
  '/api/v1/fediverse/blocks': {
    get: { summary: 'Blocked servers', permission: 'settings:manage', ok: ['200', BlockList] },
    post: {
      summary: 'Block a server: its activities are refused, its followers dropped, nothing delivered there',
      permission: 'settings:manage',
      body: blockBody,
      ok: ['201', BlockEnvelope],
      errors: ['400'],
    },
  },
  '/api/v1/fediverse/blocks/{domain}': {
    delete: { summary: 'Unblock a server', permission: 'settings:manage', ok: ['204', null], errors: ['404'] },
  },
  '/api/v1/fediverse/bans': {
    get: { summary: 'Banned fediverse accounts', permission: 'comments:moderate', ok: ['200', BanList] },
    post: {
      summary: 'Ban one fediverse account: its replies, likes and follows are refused',
      permission: 'comments:moderate',
      body: banBody,
      ok: ['201', BanEnvelope],
      errors: ['400', '404'],
    },
  },
  '/api/v1/fediverse/bans/{id}': {
    delete: { summary: 'Lift a ban', permission: 'comments:moderate', ok: ['204', null], errors: ['404'] },
  },
  '/api/v1/recommendations': {
    get: {
      summary: 'Newsletters the site recommends, their kind, and readers sent each way',
      permission: 'settings:manage',
      ok: ['200', RecommendationList],
    },
    post: {
      summary: 'Recommend a newsletter (the same address again updates it); its kind is read from the site',
      permission: 'settings:manage',
      body: newRecommendationBody,
      ok: ['201', RecommendationEnvelope],
      errors: ['400'],
    },
  },
  '/api/v1/recommendations/{id}': {
    delete: { summary: 'Stop recommending a newsletter', permission: 'settings:manage', ok: ['204', null], errors: ['404'] },
  },
  '/api/v1/comments': {
    get: {
      summary: 'Comments, newest first',
      permission: 'comments:moderate',
      query: z.object({
        post: text('A post id or slug.'),
        status: z.enum(['published', 'held', 'hidden']).optional(),
        question: z.enum(['1', '0']).optional(),
        ...page,
      }),
      ok: ['200', CommentPage],
      errors: ['400'],
    },
  },
  '/api/v1/comments/{id}': {
    get: { summary: 'One comment', permission: 'comments:moderate', ok: ['200', CommentEnvelope], errors: ['404'] },
    patch: {
      summary: 'Approve/restore (published) or hide (hidden) a comment',
      permission: 'comments:moderate',
      body: patchCommentBody,
      ok: ['200', CommentEnvelope],
      errors: ['400', '404', '409'],
    },
    delete: {
      summary: 'Delete a comment (staff can restore it)',
      permission: 'comments:moderate',
      ok: ['204', null],
      errors: ['404', '409'],
    },
  },
  '/api/v1/automations': {
    get: { summary: 'Every automation', permission: 'sends:write', ok: ['200', AutomationList] },
    post: {
      summary: 'Create an automation (a draft unless status is live); a loop, a wait over a year or an unknown label is refused',
      permission: 'sends:write',
      body: newAutomationBody,
      ok: ['201', AutomationEnvelope],
      errors: ['400'],
    },
  },
  '/api/v1/automations/hold': {
    get: { summary: 'Whether every automation is held (the bad-news-day switch)', permission: 'sends:write', ok: ['200', HoldState] },
    post: {
      summary: 'Hold or release every automation',
      permission: 'sends:write',
      body: holdBody,
      ok: ['200', HoldState],
      errors: ['400'],
    },
  },
  '/api/v1/automations/{id}': {
    get: { summary: 'One automation with its steps', permission: 'sends:write', ok: ['200', AutomationEnvelope], errors: ['404'] },
    patch: {
      summary: 'Change an automation; steps replace the list, a step keeps its place by its id',
      permission: 'sends:write',
      body: automationPatchBody,
      ok: ['200', AutomationEnvelope],
      errors: ['400', '404'],
    },
    delete: { summary: 'Delete an automation; its members leave it', permission: 'sends:write', ok: ['204', null], errors: ['404'] },
  },
  '/api/v1/automations/{id}/pause': {
    post: {
      summary: 'Pause: every member is held where they are',
      permission: 'sends:write',
      ok: ['200', AutomationEnvelope],
      errors: ['404', '409'],
    },
  },
  '/api/v1/automations/{id}/resume': {
    post: {
      summary: "Resume: steps that came due meanwhile are spread over the provider's rate",
      permission: 'sends:write',
      ok: ['200', AutomationEnvelope],
      errors: ['404'],
    },
  },
  '/api/v1/automations/{id}/stats': {
    get: {
      summary: 'Per automation and per step: entered, emailed, human opens and clicks, unsubscribed, exited, conversion, retention',
      permission: 'sends:write',
      ok: ['200', AutomationStatsEnvelope],
      errors: ['404'],
    },
  },
  '/api/v1/automations/{id}/preview': {
    get: {
      summary: 'What a member gets next, and when, rendered as it would be posted; nothing is sent',
      permission: 'sends:write',
      query: previewQuery,
      ok: ['200', AutomationPreviewEnvelope],
      errors: ['400', '404'],
    },
  },
  '/api/v1/stats/overview': {
    get: {
      summary: 'Members, engagement and revenue over time',
      permission: 'stats:read',
      query: z.object({ days: z.string().optional().meta({ description: '7 to 730; default 90.' }) }),
      ok: ['200', StatsOverview],
      errors: ['400'],
    },
  },
  '/api/v1/stats/sources': {
    get: {
      summary: 'Signups, retention, engagement and revenue by platform and campaign',
      permission: 'stats:read',
      ok: ['200', StatsSources],
    },
  },
  '/api/v1/stats/cohorts': {
    get: {
      summary: 'Weekly signup cohorts: who is still subscribed and engaged',
      permission: 'stats:read',
      query: z.object({ platform: text('One platform; all when absent.') }),
      ok: ['200', StatsCohorts],
      errors: ['400'],
    },
  },
  '/api/v1/stats/answers': {
    get: {
      summary: "Time to the first staff answer of members' questions, per week (median, 90th percentile), and the questions still waiting",
      permission: 'stats:read',
      ok: ['200', StatsAnswers],
    },
  },
  '/api/v1/stats/sends/{id}': {
    get: {
      summary: "A send's opens, clicks (human and machine), links and hours",
      permission: 'stats:read',
      ok: ['200', StatsSend],
      errors: ['400', '404'],
    },
  },
  '/api/v1/stats/posts/{id}': {
    get: { summary: "A post's reads and views by day", permission: 'stats:read', ok: ['200', StatsPost], errors: ['400'] },
  },
  '/api/v1/stats/members/{id}': {
    get: {
      summary: "A member's engagement score and its reasons",
      permission: 'stats:read',
      ok: ['200', MemberEngagement],
      errors: ['400', '404'],
    },
  },
  '/api/v1/emails': {
    get: {
      summary: 'The automatic emails, with the languages staff rewrote each in',
      permission: 'emails:write',
      ok: ['200', AutomaticEmailList],
    },
  },
  '/api/v1/emails/{kind}': {
    get: {
      summary: 'An automatic email in a language: what goes out now, the default, and its variables',
      permission: 'emails:write',
      query: languageQuery,
      ok: ['200', AutomaticEmailEnvelope],
      errors: ['400', '404'],
    },
    put: {
      summary: 'Rewrite an automatic email in a language (a new version; refused with the line and reason when it does not check)',
      permission: 'emails:write',
      body: putEmailBody,
      ok: ['200', AutomaticEmailEnvelope],
      errors: ['400', '404'],
    },
  },
  '/api/v1/emails/{kind}/reset': {
    post: {
      summary: 'Put the default text back (recorded as a version)',
      permission: 'emails:write',
      body: languageBody,
      ok: ['200', AutomaticEmailEnvelope],
      errors: ['400', '404'],
    },
  },
  '/api/v1/emails/{kind}/versions': {
    get: {
      summary: "An automatic email's versions in a language, newest first",
      permission: 'emails:write',
      query: languageQuery,
      ok: ['200', AutomaticEmailVersions],
      errors: ['400', '404'],
    },
  },
  '/api/v1/emails/{kind}/test': {
    post: {
      summary: "Send the live text for a sample member to the token owner's own address (through the mail queue)",
      permission: 'emails:write',
      body: languageBody,
      ok: ['202', TestSent],
      errors: ['400', '404'],
    },
  },
};

function build() {
  const paths: ZodOpenApiPathsObject = {};
  for (const [path, methods] of Object.entries(API_OPERATIONS)) {
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    paths[path] = Object.fromEntries(Object.entries(methods).map(([method, op]) => [method, operation(op, params)]));
  }
  paths['/api/v1/openapi.json'] = {
    get: {
      summary: 'This document',
      security: [],
      responses: {
        '200': {
          description: 'The OpenAPI 3.1 document of the admin API.',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
      },
    },
  };
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Hearth admin API',
      version: '1',
      description:
        'JSON admin API of a Hearth site. Authenticate with a staff API token (`npm run hearth -- token:create`, or the admin UI): `Authorization: Bearer <token>`; the token\'s role applies. Errors are `{"error":{"code","message"}}` with a 4xx status. Lists page by cursor: pass a page\'s `next` as `after`.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A staff API token.' } } },
    security: [{ bearer: [] }],
    paths,
  });
}

let cached: ReturnType<typeof createDocument> | undefined;

/** The document, built once per process (the schemas do not change while it runs). */
export function openApiDocument() {
  cached ??= build();
  return cached;
}
