import { describe, expect, it } from 'vitest';
import { segmentFromForm } from '../../src/web/send-form.ts';
import { siteKeys } from '../../src/lib/site-keys.ts';
import { postInputFromForm } from '../../src/web/post-form.ts';
import { EDITOR_FORM_BYTES, FORM_BYTES, field, readFields } from '../../src/web/request-data.ts';

/** The pages' one body reader, driven with real Requests. */
const form = (body: string, headers: Record<string, string> = {}) =>
  new Request('http://hearth.test/x', {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });

describe('readFields', () => {
  it('reads a urlencoded form: values as sent, field() trimmed, repeated fields without empties', async () => {
    const fields = await readFields(form('name=+Ada+&password=+secret+&newsletter=weekly&newsletter=&newsletter=digest'));
    expect(fields.json).toBe(false);
    expect(fields.get('password')).toBe(' secret ');
    expect(field(fields, 'name')).toBe('Ada');
    expect(fields.getAll('newsletter')).toEqual(['weekly', 'digest']);
    expect(fields.get('missing')).toBe('');
    expect(fields.has('name')).toBe(true);
    expect(fields.has('missing')).toBe(false);
  });

  it('reads a multipart form the same way', async () => {
    const body = new FormData();
    body.append('title', ' Hello ');
    body.append('tier', 'gold');
    body.append('tier', 'silver');
    const fields = await readFields(new Request('http://hearth.test/x', { method: 'POST', body }));
    expect(field(fields, 'title')).toBe('Hello');
    expect(fields.getAll('tier')).toEqual(['gold', 'silver']);
  });

  it('reads a JSON object: strings and numbers, arrays as repeated fields', async () => {
    const request = new Request('http://hearth.test/x', {
      method: 'POST',
      body: JSON.stringify({ email: 'a@example.com', n: 3, newsletter: ['weekly', 2, null] }),
      headers: { 'content-type': 'application/json' },
    });
    const fields = await readFields(request);
    expect(fields.json).toBe(true);
    expect(fields.get('email')).toBe('a@example.com');
    expect(fields.get('n')).toBe('3');
    expect(fields.getAll('newsletter')).toEqual(['weekly', '2']);
    expect(fields.has('n')).toBe(true);
  });

  it('reads a malformed or foreign body as empty, so validation answers', async () => {
    const badJson = await readFields(
      new Request('http://hearth.test/x', { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } }),
    );
    expect([badJson.json, badJson.get('email'), badJson.has('email')]).toEqual([true, '', false]);
    const text = await readFields(
      new Request('http://hearth.test/x', { method: 'POST', body: 'email=a', headers: { 'content-type': 'text/plain' } }),
    );
    expect(text.get('email')).toBe('');
  });

  it('reads a body declared larger than the bound as empty; the editor has its own, larger bound', async () => {
    const big = `markdown=${'a'.repeat(FORM_BYTES)}`;
    const withLength = () => form(big, { 'content-length': String(big.length) });
    expect((await readFields(withLength())).has('markdown')).toBe(false);
    expect((await readFields(withLength(), { maxBytes: EDITOR_FORM_BYTES })).get('markdown')).toHaveLength(FORM_BYTES);
  });
});

describe('the form handlers on Fields', () => {
  it('reads the post editor: Markdown as typed with LF line ends, tiers, a publish time in the site zone', async () => {
    const fields = await readFields(
      form(
        new URLSearchParams({
          title: ' T ',
          markdown: '    code\r\nline',
          visibility: 'tiers',
          tier: 'gold',
          publish_at: '2026-12-01T09:30',
          tags: 'a, b,,',
        }).toString(),
      ),
    );
    expect(postInputFromForm(fields, 'Europe/Paris').publishAt).toEqual(new Date('2026-12-01T08:30:00Z'));
    expect(postInputFromForm(fields, 'UTC')).toMatchObject({
      title: 'T',
      markdown: '    code\nline',
      visibility: 'tiers',
      tiers: ['gold'],
      tags: ['a', 'b'],
      status: 'draft',
      publishAt: new Date('2026-12-01T09:30:00Z'),
    });
  });

  it('reads the send form segment, with "any" engagement when none is chosen', async () => {
    const fields = await readFields(form('newsletters=weekly&newsletters=+&tiers=+gold+'));
    expect(segmentFromForm(fields)).toEqual({ newsletters: ['weekly'], tiers: ['gold'], labels: [], platforms: [], engagement: 'any' });
  });
});

describe('siteKeys', () => {
  it('is the app secret and the site address as one frozen value', () => {
    const keys = siteKeys({ appSecret: 's3cret', siteUrl: 'https://news.example' });
    expect(keys).toEqual({ secret: 's3cret', siteUrl: 'https://news.example' });
    expect(Object.isFrozen(keys)).toBe(true);
  });
});
