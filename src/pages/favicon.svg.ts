import type { APIRoute } from 'astro';
import { getSiteSettings } from '../domain/site/settings.ts';

/**
 * The default favicon, served from our own origin: the site's initial on its accent colour.
 * Pages link the logo instead when the site has one (layouts/Site.astro, layouts/Admin.astro).
 */
export const GET: APIRoute = async ({ locals }) => {
  const site = await getSiteSettings(locals.runtime.db);
  const initial = (site.title.trim()[0] ?? 'H').toUpperCase();
  const accent = /^#[0-9a-fA-F]{3,8}$/.test(site.accentColor) ? site.accentColor : '#9a3412';
  const letter = initial.replace(/[&<>"]/g, '');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="${accent}"/><text x="32" y="44" font-family="system-ui, sans-serif" font-size="36" font-weight="700" text-anchor="middle" fill="#fff">${letter}</text></svg>`;
  return new Response(svg, { headers: { 'content-type': 'image/svg+xml', 'cache-control': 'public, max-age=3600' } });
};
