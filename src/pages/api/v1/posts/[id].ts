import { getPostForEdit, updatePost } from '../../../../domain/content/editor.ts';
import { patchPostBody, postJson, visibilityInput } from '../../../../web/api/post.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

export const GET = apiRoute(async ({ params }, { db, siteUrl }) => json({ post: postJson(await getPostForEdit(db, params.id!), siteUrl) }));

/** A partial update: fields left out keep their value; `revision` (from the last read) is required. */
export const PATCH = apiRoute(async ({ params, request }, { db, siteUrl }) => {
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
      language: body.language,
      translationOf: body.translation_of,
    },
    body.revision,
  );
  return json({ post: postJson(await getPostForEdit(db, current.id), siteUrl) });
});
