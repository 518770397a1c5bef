import { getPoll, isOpen, updatePoll } from '../../../../domain/polls/polls.ts';
import { pollResults } from '../../../../domain/polls/votes.ts';
import { patchPollBody, pollJson, pollPatch } from '../../../../web/api/poll.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

/** GET /api/v1/polls/:id: the poll with its results per answer, platform and tier. */
export const GET = apiRoute(async ({ params }, { db }) => {
  const poll = await getPoll(db, params.id!);
  return json({ poll: pollJson(poll, isOpen(poll), await pollResults(db, poll, { breakdown: true })) });
});

export const PATCH = apiRoute(async ({ params, request }, { db }) => {
  const poll = await updatePoll(db, params.id!, pollPatch(await readJson(request, patchPollBody)));
  return json({ poll: pollJson(poll, isOpen(poll), await pollResults(db, poll, { breakdown: true })) });
});
