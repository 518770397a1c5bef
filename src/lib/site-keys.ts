/**
 * What every signed link needs: the app secret that signs and checks tokens (HMAC) and the site's
 * public address that links are built on. Built once at start (src/boot.ts, on the runtime as
 * `keys`) and passed as one value to the domain functions that sign tokens or write links into
 * emails, instead of a context type per module carrying the same two fields.
 */
export interface SiteKeys {
  readonly secret: string;
  /** SITE_URL without a trailing slash, e.g. https://news.example.com */
  readonly siteUrl: string;
  /** MAIL_FROM: the default sender of email (domain/newsletters/sender.ts). Unset: hearth@<site host>. */
  readonly mailFrom?: string | undefined;
}

export function siteKeys(config: { appSecret: string; siteUrl: string; mailFrom?: string | undefined }): SiteKeys {
  return Object.freeze({
    secret: config.appSecret,
    siteUrl: config.siteUrl,
    ...(config.mailFrom === undefined ? {} : { mailFrom: config.mailFrom }),
  });
}

/** For code that writes links but signs nothing (billing emails, milestone emails, a send's snapshot). */
export type SiteLinks = Pick<SiteKeys, 'siteUrl' | 'mailFrom'>;
