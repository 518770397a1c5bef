import type { APIRoute } from 'astro';
import { scheduleBody } from '../../../../../domain/sending/api-schemas.ts';
import { commandSend, scheduleSend } from '../../../../../domain/sending/sends.ts';
import { json, jsonError, jsonErrorFrom, readJson } from '../../../../../lib/http.ts';

const COMMANDS = ['cancel', 'undo', 'pause', 'resume', 'retry'] as const;

/** POST /api/v1/sends/:id/{schedule|cancel|undo|pause|resume|retry} → {"send": Send}. */
export const POST: APIRoute = async ({ params, request, locals }) => {
  try {
    const { db } = locals.runtime;
    const command = params.command!;
    if (command === 'schedule') {
      const text = await request.clone().text();
      const body = text.trim() === '' ? {} : await readJson(request, scheduleBody);
      return json({ send: await scheduleSend(db, params.id!, { sendAt: body.send_at ? new Date(body.send_at) : undefined, undoSeconds: body.undo_seconds }) });
    }
    if (!(COMMANDS as readonly string[]).includes(command)) return jsonError(404, 'not_found', 'No such command.');
    return json({ send: await commandSend(db, params.id!, command as (typeof COMMANDS)[number]) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
