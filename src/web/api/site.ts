import { z } from 'zod';
import { BUTTON_STYLES, FONT_NAMES } from '../../../emails/design.ts';
import type { SiteSettings, SiteSettingsChange } from '../../domain/site/settings.ts';
import { availableLanguages } from '../../lib/i18n.ts';

const fontHelp = { description: `A system or web-safe font stack: ${FONT_NAMES.join(', ')}. Nothing is loaded from elsewhere.` };

/** The brand's design (emails and reader pages), in snake_case. */
const SiteDesign = z
  .strictObject({
    link_color: z.string().meta({ example: '#9a3412', description: 'Links in emails and pages (#rrggbb).' }),
    background_color: z
      .string()
      .meta({ example: '#f5f5f4', description: "The page around the email's card, and the site's page (#rrggbb)." }),
    heading_font: z.string().meta(fontHelp),
    body_font: z.string().meta(fontHelp),
    button_style: z.enum(BUTTON_STYLES),
    logo_width: z.number().int().meta({ description: "The logo's width in the email header, 24 to 536 pixels." }),
    show_title: z.boolean().meta({ description: "The site's name beside the logo." }),
    footer_text: z.string().meta({ description: "A line of the brand's own words in every email's footer." }),
    show_view_in_browser: z.boolean(),
    show_feature_image: z.boolean().meta({ description: "A post's feature image at the top of its email." }),
    show_author: z.boolean().meta({ description: "The author's name under a post's title in its email." }),
  })
  .meta({ id: 'SiteDesign' });

/**
 * The site settings API's contract (DESIGN.md "Admin API v1": `GET/PATCH /api/v1/site`): the
 * settings the admin's settings page edits, in snake_case. Later issues add theirs to the same
 * object. The values' rules (a known time zone, an address that is an address) are the domain's
 * (src/domain/site/settings.ts); here only the shape and the lengths.
 */

export const Site = z
  .strictObject({
    name: z.string().meta({ description: "The brand's name, on every page and email." }),
    description: z.string(),
    accent_color: z.string().meta({ example: '#c2410c' }),
    logo: z.string().nullable().meta({ description: 'An image uploaded to this site (/uploads/…), or null.' }),
    share_image: z
      .string()
      .nullable()
      .meta({ description: 'The picture of links to pages without one of their own (og:image); an upload, or null.' }),
    design: SiteDesign,
    time_zone: z.string().meta({
      description: 'IANA time zone: scheduling forms and stats days use it. The API itself speaks ISO 8601 with offsets.',
      example: 'Europe/Paris',
    }),
    language: z.string().meta({
      description: 'ISO 639-1 code: reader pages, and emails to members who chose no language of their own.',
      example: 'fr',
    }),
    languages: z
      .array(
        z.strictObject({
          code: z.string().meta({ example: 'fr' }),
          name: z.string().meta({ example: 'Français' }),
          dir: z.enum(['ltr', 'rtl']),
        }),
      )
      .meta({ description: 'The languages this install has catalogues for (locales/<code>/): the values `language` may take.' }),
    reply_to: z.string().nullable().meta({ description: 'Replies go here when a newsletter names no reply-to of its own; null: none.' }),
    postal_address: z.string().meta({ description: 'Printed in email footers; empty: none.' }),
    track_per_member: z.boolean().meta({ description: 'Per-member engagement tracking (off: anonymous counts only).' }),
    fediverse: z
      .strictObject({
        enabled: z.boolean().meta({ description: 'The site is followable on the open social web (ActivityPub). Off by default.' }),
        handle: z.string().meta({ description: 'The account is @<handle>@<site host>.', example: 'news' }),
        hold_replies: z.boolean().meta({ description: 'Replies from the fediverse wait for review (default true).' }),
      })
      .meta({ id: 'SiteFediverse' }),
  })
  .meta({ id: 'Site' });

export type SiteJson = z.infer<typeof Site>;

export const SiteEnvelope = z.strictObject({ site: Site });

/** PATCH /api/v1/site: fields left out keep their value; `null` clears the optional ones. */
export const patchSiteBody = z
  .strictObject({
    name: z.string().max(120).optional(),
    description: z.string().max(500).optional(),
    accent_color: z.string().max(7).optional(),
    logo: z.string().max(200).nullable().optional(),
    share_image: z.string().max(200).nullable().optional(),
    design: z
      .strictObject({
        link_color: z.string().max(20).optional(),
        background_color: z.string().max(20).optional(),
        heading_font: z.string().max(40).optional(),
        body_font: z.string().max(40).optional(),
        button_style: z.string().max(20).optional(),
        logo_width: z.number().optional(),
        show_title: z.boolean().optional(),
        footer_text: z.string().max(500).optional(),
        show_view_in_browser: z.boolean().optional(),
        show_feature_image: z.boolean().optional(),
        show_author: z.boolean().optional(),
      })
      .optional(),
    time_zone: z.string().max(64).optional(),
    language: z.string().max(20).optional(),
    reply_to: z.string().max(254).nullable().optional(),
    postal_address: z.string().max(500).optional(),
    track_per_member: z.boolean().optional(),
    fediverse: z
      .strictObject({
        enabled: z.boolean().optional(),
        handle: z.string().max(30).optional(),
        hold_replies: z.boolean().optional(),
      })
      .optional(),
  })
  .meta({ id: 'SitePatch' });

export function siteJson(s: SiteSettings): SiteJson {
  return {
    name: s.title,
    description: s.description,
    accent_color: s.accentColor,
    logo: s.logo ?? null,
    share_image: s.shareImage ?? null,
    design: {
      link_color: s.design.linkColor,
      background_color: s.design.backgroundColor,
      heading_font: s.design.headingFont,
      body_font: s.design.bodyFont,
      button_style: s.design.buttonStyle,
      logo_width: s.design.logoWidth,
      show_title: s.design.showTitle,
      footer_text: s.design.footerText,
      show_view_in_browser: s.design.showViewInBrowser,
      show_feature_image: s.design.showFeatureImage,
      show_author: s.design.showAuthor,
    },
    time_zone: s.timeZone,
    language: s.language,
    languages: availableLanguages(),
    reply_to: s.reply_to ?? null,
    postal_address: s.postalAddress,
    track_per_member: s.trackPerMember,
    fediverse: { enabled: s.fediverse.enabled, handle: s.fediverse.handle, hold_replies: s.fediverse.holdReplies },
  };
}

/** The body as a change to the stored settings: only the fields it names (a key set to undefined would reset one). */
export function siteChange(body: z.infer<typeof patchSiteBody>): SiteSettingsChange {
  const change: SiteSettingsChange = {};
  if (body.name !== undefined) change.title = body.name;
  if (body.description !== undefined) change.description = body.description;
  if (body.accent_color !== undefined) change.accentColor = body.accent_color;
  if (body.logo !== undefined) change.logo = body.logo ?? undefined;
  if (body.share_image !== undefined) change.shareImage = body.share_image ?? undefined;
  if (body.design !== undefined) change.design = designChange(body.design);
  if (body.time_zone !== undefined) change.timeZone = body.time_zone;
  if (body.language !== undefined) change.language = body.language;
  if (body.reply_to !== undefined) change.reply_to = body.reply_to ?? undefined;
  if (body.postal_address !== undefined) change.postalAddress = body.postal_address;
  if (body.track_per_member !== undefined) change.trackPerMember = body.track_per_member;
  if (body.fediverse !== undefined) {
    const f = body.fediverse;
    change.fediverse = {};
    if (f.enabled !== undefined) change.fediverse.enabled = f.enabled;
    if (f.handle !== undefined) change.fediverse.handle = f.handle;
    if (f.hold_replies !== undefined) change.fediverse.holdReplies = f.hold_replies;
  }
  return change;
}

/** The design fields the body names; their values are checked by the domain (a bad colour is a 400 with its reason). */
function designChange(d: NonNullable<z.infer<typeof patchSiteBody>['design']>): Record<string, unknown> {
  const pairs: Array<[string, unknown]> = [
    ['linkColor', d.link_color],
    ['backgroundColor', d.background_color],
    ['headingFont', d.heading_font],
    ['bodyFont', d.body_font],
    ['buttonStyle', d.button_style],
    ['logoWidth', d.logo_width],
    ['showTitle', d.show_title],
    ['footerText', d.footer_text],
    ['showViewInBrowser', d.show_view_in_browser],
    ['showFeatureImage', d.show_feature_image],
    ['showAuthor', d.show_author],
  ];
  return Object.fromEntries(pairs.filter(([, v]) => v !== undefined));
}
