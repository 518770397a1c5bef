import type { APIRoute } from 'astro';
import { databaseIsUp } from '../lib/db.ts';
import { json } from '../web/http.ts';
import { workerIsUp } from '../lib/queue.ts';

/** 200 {"ok":true,"db":"up","worker":"up"|"down"}; 503 with db "down" when Postgres does not answer. */
export const GET: APIRoute = async ({ locals }) => {
  const { db } = locals.runtime;
  if (!(await databaseIsUp(db))) return json({ ok: false, db: 'down', worker: 'down' }, 503);
  const worker = (await workerIsUp(db).catch(() => false)) ? 'up' : 'down';
  return json({ ok: true, db: 'up', worker });
};
