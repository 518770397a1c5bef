import type { APIRoute } from 'astro';
import { referrerOf } from '../../domain/referrals/referrals.ts';

/** A member's referral link: to the subscribe page, carrying their code (an unknown code carries none). */
export const GET: APIRoute = async ({ params, locals, redirect }) => {
  const code = (params.code ?? '').toLowerCase();
  const known = await referrerOf(locals.runtime.db, code);
  return redirect(known ? `/join?ref=${code}&utm_source=referral&utm_medium=member` : '/join', 303);
};
