import type { SendCommand } from '../../../../../domain/sending/lifecycle.ts';
import { commandSend, scheduleSend } from '../../../../../domain/sending/sends.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { scheduleBody, sendJson } from '../../../../../web/api/send.ts';
import { json, readJson } from '../../../../../web/http.ts';

/** POST /api/v1/sends/:id/{schedule|cancel|undo|pause|resume|retry} → {"send": Send}; one file per command. */
export const commandRoute = (command: SendCommand) =>
  apiRoute(async ({ params, request }, { db }) => {
    if (command === 'schedule') {
      const text = await request.clone().text();
      const body = text.trim() === '' ? {} : await readJson(request, scheduleBody);
      return json({
        send: sendJson(
          await scheduleSend(db, params.id!, { sendAt: body.send_at ? new Date(body.send_at) : undefined, undoSeconds: body.undo_seconds }),
        ),
      });
    }
    return json({ send: sendJson(await commandSend(db, params.id!, command)) });
  });
