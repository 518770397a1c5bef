import { blockDomain, listDomainBlocks, normaliseDomain } from '../../../../../domain/fediverse/followers.ts';
import { ValidationError } from '../../../../../lib/errors.ts';
import { blockBody } from '../../../../../web/api/fediverse.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json, readJson } from '../../../../../web/http.ts';

export const GET = apiRoute(async (_, { db }) =>
  json({ blocks: (await listDomainBlocks(db)).map((b) => ({ domain: b.domain, reason: b.reason })) }),
);

/** Blocks a server: its activities are refused, its followers dropped, nothing is delivered there. */
export const POST = apiRoute(async ({ request }, { db }) => {
  const body = await readJson(request, blockBody);
  const domain = normaliseDomain(body.domain);
  if (!domain) throw new ValidationError('Name a server such as example.social.', 'invalid_domain');
  await blockDomain(db, domain, body.reason ?? '');
  return json({ block: { domain, reason: body.reason ?? '' } }, 201);
});
