import { apiRoute } from '../../../web/api/route.ts';
import { staffJson } from '../../../web/api/staff.ts';
import { json } from '../../../web/http.ts';

export const GET = apiRoute((_, { staff }) => json({ staff: staffJson(staff) }));
