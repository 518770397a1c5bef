/**
 * The one reader of a page's POST: an HTML form (urlencoded or multipart text fields) or a JSON
 * body, into plain string fields. A body that is neither, is malformed, or declares more than
 * `maxBytes` reads as empty, so the page's validation answers with a clear 4xx. (The API reads
 * JSON against its zod schemas instead; file uploads go through multipart.ts.)
 */
export interface Fields {
  /** Whether the body was JSON (a page may answer JSON to JSON). */
  json: boolean;
  /** The value as sent, untrimmed ('' when absent or not text): passwords and Markdown stay as typed. */
  get(name: string): string;
  /** Every non-empty value of a repeated field (checkboxes, multi-selects). */
  getAll(name: string): string[];
  has(name: string): boolean;
}

/** Enough for any reader or admin form but the post editor. */
export const FORM_BYTES = 64 * 1024;
/** The post editor: MAX_MARKDOWN characters, percent-encoded, and the rest of the form. */
export const EDITOR_FORM_BYTES = 8 * 1024 * 1024;

export async function readFields(request: Request, options: { maxBytes?: number } = {}): Promise<Fields> {
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  const length = Number(request.headers.get('content-length') ?? 0);
  if (length > (options.maxBytes ?? FORM_BYTES)) return empty(type.includes('json'));
  return type.includes('application/json') ? jsonFields(request) : formFields(request);
}

/** A field trimmed: what a name, an email address, a choice or an id means. */
export function field(fields: Fields, name: string): string {
  return fields.get(name).trim();
}

async function jsonFields(request: Request): Promise<Fields> {
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    body = {};
  }
  const obj = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const str = (v: unknown) => (typeof v === 'string' ? withoutNul(v) : typeof v === 'number' ? String(v) : '');
  return {
    json: true,
    get: (name) => str(obj[name]),
    getAll: (name) => {
      const v = obj[name];
      return Array.isArray(v) ? v.map(str).filter(Boolean) : str(v) ? [str(v)] : [];
    },
    has: (name) => Object.hasOwn(obj, name),
  };
}

async function formFields(request: Request): Promise<Fields> {
  let form: FormData;
  try {
    form = await request.formData();
  } catch {
    return empty(false);
  }
  const str = (v: FormDataEntryValue | null) => (typeof v === 'string' ? withoutNul(v) : '');
  return {
    json: false,
    get: (name) => str(form.get(name)),
    getAll: (name) => form.getAll(name).map(str).filter(Boolean),
    has: (name) => typeof form.get(name) === 'string',
  };
}

/**
 * PostgreSQL text cannot hold U+0000: a field carrying one would fail its query with a 500. No
 * form means it, so it is dropped here, once, for every page.
 */
export function withoutNul(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
}

function empty(json: boolean): Fields {
  return { json, get: () => '', getAll: () => [], has: () => false };
}
