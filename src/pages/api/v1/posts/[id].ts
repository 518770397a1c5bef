import type { APIRoute } from 'astro';
import { patchPostBody, visibilityInput } from '../../../../domain/content/api-schemas.ts';
import { getPostForEdit, updatePost } from '../../../../domain/content/editor.ts';
import { json, jsonErrorFrom, readJson } from '../../../../web/http.ts';
import { postJson } from '../../../../web/post-json.ts';

export const GET: APIRoute = async ({ params, locals }) => {
  try {
    return json({ post: postJson(await getPostForEdit(locals.runtime.db, params.id!), locals.runtime.config.siteUrl) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};

/** A partial update: fields left out keep their value; `revision` (from the last read) is required. */
export const PATCH: APIRoute = async ({ params, request, locals }) => {
  try {
    const { db } = locals.runtime;
    const body = await readJson(request, patchPostBody);
    const current = await getPostForEdit(db, params.id!);
    await updatePost(
      db,
      current.id,
      {
        title: body.title ?? current.title,
        slug: body.slug ?? current.slug,
        markdown: body.markdown ?? current.markdown,
        excerpt: body.excerpt ?? current.excerpt,
        visibility: current.visibility,
        tiers: current.tier_slugs,
        ...visibilityInput(body.visibility),
        status: body.status ?? (current.status === 'draft' ? 'draft' : 'published'),
        publishAt: body.publish_at ? new Date(body.publish_at) : undefined,
        tags: body.tags ?? current.tags,
        emailOnly: body.email_only ?? current.email_only,
        featureImage: body.feature_image === undefined ? current.feature_image : body.feature_image,
      },
      body.revision,
    );
    return json({ post: postJson(await getPostForEdit(db, current.id), locals.runtime.config.siteUrl) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
