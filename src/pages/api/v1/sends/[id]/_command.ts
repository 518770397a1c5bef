import type { APIRoute } from 'astro';
import { scheduleBody } from '../../../../../domain/sending/api-schemas.ts';
import { commandSend, scheduleSend } from '../../../../../domain/sending/sends.ts';
import { json, jsonErrorFrom, readJson } from '../../../../../web/http.ts';

/** POST /api/v1/sends/:id/{schedule|cancel|undo|pause|resume|retry} → {"send": Send}; one file per command. */
export const commandRoute = (command: 'schedule' | 'cancel' | 'undo' | 'pause' | 'resume' | 'retry'): APIRoute => async ({ params, request, locals }) => {
  try {
    const { db } = locals.runtime;
    if (command === 'schedule') {
      const text = await request.clone().text();
      const body = text.trim() === '' ? {} : await readJson(request, scheduleBody);
      return json({ send: await scheduleSend(db, params.id!, { sendAt: body.send_at ? new Date(body.send_at) : undefined, undoSeconds: body.undo_seconds }) });
    }
    return json({ send: await commandSend(db, params.id!, command) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
