import { createPoll, isOpen, listPolls } from '../../../../domain/polls/polls.ts';
import { newPollBody, pollJson } from '../../../../web/api/poll.ts';
import { apiRoute, limitParam } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

/** GET /api/v1/polls?limit=&after=: newest first. */
export const GET = apiRoute(async ({ url }, { db }) => {
  const page = await listPolls(db, { limit: limitParam(url), after: url.searchParams.get('after') ?? undefined });
  return json({ polls: page.polls.map((p) => pollJson(p, isOpen(p))), next: page.next });
});

export const POST = apiRoute(async ({ request }, { db, staff }) => {
  const body = await readJson(request, newPollBody);
  const poll = await createPoll(
    db,
    {
      question: body.question,
      answers: body.answers,
      status: body.status,
      closesAt: body.closes_at ? new Date(body.closes_at) : null,
    },
    staff.id,
  );
  return json({ poll: pollJson(poll, isOpen(poll)) }, 201);
});
