import { createPost, getPostForEdit } from '../../../../domain/content/editor.ts';
import { postBody, postJson, visibilityInput } from '../../../../web/api/post.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

export const POST = apiRoute(async ({ request }, { db, siteUrl, staff }) => {
  const body = await readJson(request, postBody);
  const created = await createPost(
    db,
    {
      ...body,
      visibility: 'public',
      ...visibilityInput(body.visibility),
      emailOnly: body.email_only,
      featureImage: body.feature_image,
      publishAt: body.publish_at ? new Date(body.publish_at) : undefined,
    },
    staff.id,
  );
  return json({ post: postJson(await getPostForEdit(db, created.id), siteUrl) }, 201);
});
