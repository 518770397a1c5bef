import type { APIRoute } from 'astro';
import { openApiDocument } from '../../../web/api/openapi.ts';
import { json } from '../../../web/http.ts';

/**
 * GET /api/v1/openapi.json: the admin API's OpenAPI 3.1 document. Public (listed so in
 * src/web/guard.ts): it holds no site data, only the contract every Hearth install shares, and
 * client generators and API explorers fetch it without a token.
 */
export const GET: APIRoute = () => json(openApiDocument(), 200, { 'cache-control': 'public, max-age=300' });
