import { createPost, getPostForEdit, listPosts } from '../../../../domain/content/editor.ts';
import { parsePostListQuery, postBody, postJson, visibilityInput } from '../../../../web/api/post.ts';
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
      language: body.language,
      translationOf: body.translation_of,
      publishAt: body.publish_at ? new Date(body.publish_at) : undefined,
    },
    staff.id,
  );
  return json({ post: postJson(await getPostForEdit(db, created.id), siteUrl) }, 201);
});

/** GET /api/v1/posts?status=&visibility=&tag=&limit=&after= (newest first, by cursor). */
export const GET = apiRoute(async ({ url }, { db, siteUrl }) => {
  const page = await listPosts(db, parsePostListQuery(url.searchParams));
  return json({ posts: page.posts.map((p) => postJson(p, siteUrl)), next: page.next });
});
