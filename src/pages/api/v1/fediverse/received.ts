import { listReceived } from '../../../../domain/fediverse/social.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json } from '../../../../web/http.ts';

/** What arrived from followed accounts and replies to the site's notes, newest first (content as plain text). */
export const GET = apiRoute(async (_, { db }) =>
  json({
    received: (await listReceived(db)).map((r) => ({
      id: r.object_id,
      type: r.type,
      actor: r.actor_uri,
      handle: r.handle,
      in_reply_to: r.in_reply_to,
      name: r.name,
      summary: r.summary,
      content: r.content,
      url: r.url,
      received_at: r.received_at.toISOString(),
    })),
  }),
);
