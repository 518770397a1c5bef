import type { APIRoute } from 'astro';
import { json } from '../../../web/http.ts';

export const GET: APIRoute = ({ locals }) => {
  const staff = locals.staff!;
  return json({ staff: { id: staff.id, email: staff.email, name: staff.name, role: staff.role } });
};
