import type { APIRoute } from 'astro';
import { postBody, visibilityInput } from '../../../../domain/content/api-schemas.ts';
import { createPost, getPostForEdit } from '../../../../domain/content/editor.ts';
import { json, jsonErrorFrom, readJson } from '../../../../web/http.ts';
import { postJson } from '../../../../web/post-json.ts';

export const POST: APIRoute = async ({ request, locals }) => {
  try {
    const body = await readJson(request, postBody);
    const created = await createPost(locals.runtime.db, { ...body, visibility: 'public', ...visibilityInput(body.visibility), emailOnly: body.email_only, featureImage: body.feature_image, publishAt: body.publish_at ? new Date(body.publish_at) : undefined }, locals.staff!.id);
    return json({ post: postJson(await getPostForEdit(locals.runtime.db, created.id), locals.runtime.config.siteUrl) }, 201);
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
