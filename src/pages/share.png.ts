import type { APIRoute } from 'astro';
import { getSiteSettings } from '../domain/site/settings.ts';
import { solidPng } from '../lib/png.ts';
import { DEFAULT_SHARE } from '../web/site-design.ts';

const drawn = new Map<string, Buffer>();

/** The default link-preview picture: a card in the accent colour, for a site with no share image or logo. */
export const GET: APIRoute = async ({ locals }) => {
  const { accentColor } = await getSiteSettings(locals.runtime.db);
  let png = drawn.get(accentColor);
  if (!png) {
    png = solidPng(DEFAULT_SHARE.width, DEFAULT_SHARE.height, accentColor);
    drawn.clear();
    drawn.set(accentColor, png);
  }
  return new Response(new Uint8Array(png), { headers: { 'content-type': 'image/png', 'cache-control': 'public, max-age=3600' } });
};
