/**
 * Reading a reader's POST: an HTML form or a JSON body, into plain string fields. A body that is
 * neither (or is malformed) reads as empty, so validation answers with a clear 400.
 */
export type Fields = { get(name: string): string; getAll(name: string): string[]; json: boolean };

const MAX_BODY = 64 * 1024;

export async function readFields(request: Request): Promise<Fields> {
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  const length = Number(request.headers.get('content-length') ?? 0);
  if (length > MAX_BODY) return empty(type.includes('json'));
  if (type.includes('application/json')) {
    let body: unknown;
    try {
      body = JSON.parse(await request.text());
    } catch {
      body = {};
    }
    const obj = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
    return {
      json: true,
      get: (name) => str(obj[name]),
      getAll: (name) => {
        const v = obj[name];
        return Array.isArray(v) ? v.map(str).filter(Boolean) : str(v) ? [str(v)] : [];
      },
    };
  }
  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    return empty(false);
  }
  const str = (v: FormDataEntryValue | null) => (typeof v === 'string' ? v : '');
  return { json: false, get: (name) => str(form.get(name)), getAll: (name) => form.getAll(name).map(str).filter(Boolean) };
}

function empty(json: boolean): Fields {
  return { json, get: () => '', getAll: () => [] };
}
