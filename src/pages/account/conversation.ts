import type { APIRoute } from 'astro';
import { setConversationEmails } from '../../domain/community/notifications.ts';
import { field, readFields } from '../../web/request-data.ts';
import { signedInMember } from '../../web/identity.ts';

/** POST /account/conversation: the signed-in member turns emails about replies and answers on or off. */
export const POST: APIRoute = async ({ request, cookies, locals, redirect }) => {
  const { db, config } = locals.runtime;
  const member = await signedInMember(db, cookies, config.siteUrl);
  if (!member) return redirect('/signin?return=/account', 303);
  const form = await readFields(request);
  await setConversationEmails(db, member.id, field(form, 'emails') === 'on');
  return redirect('/account?conversation_emails=saved', 303);
};
