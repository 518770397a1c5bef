import { describe, expect, it } from 'vitest';
import { htmlToText, inlineStyles, personalize, renderPostEmail } from '../../emails/post.ts';
import { renderMarkdown } from '../../src/domain/content/markdown.ts';
import { variantFor } from '../../src/domain/content/email.ts';

const brand = { title: 'Field Notes', accentColor: '#9a3412', siteUrl: 'https://news.example.com' };
const values = {
  name: 'Ana',
  unsubscribe_url: 'https://news.example.com/unsubscribe?token=abc',
  preferences_url: 'https://news.example.com/unsubscribe?token=abc',
};

describe('the post email', () => {
  const body = renderMarkdown('Hello **there**, see [the guide](/posts/guide).\n\n![beans](/uploads/b.jpg)\n\n> Quote');
  const compiled = renderPostEmail({
    brand,
    title: 'Espresso at home',
    url: 'https://news.example.com/posts/espresso',
    bodyHtml: body,
    cut: false,
    upgradeUrl: '',
  });

  it('inlines the style of every body element and makes site links absolute', () => {
    const { html } = personalize(compiled, values);
    expect(html).toContain('<p style="margin:0 0 16px 0;">Hello <strong>there</strong>');
    expect(html).toContain(
      '<a class="hb-link" style="color:#9a3412;text-decoration:underline;" href="https://news.example.com/posts/guide">the guide</a>',
    );
    expect(html).toContain('src="https://news.example.com/uploads/b.jpg"');
    // The one <style> block is dark mode and narrow screens only; the layout itself is inline.
    expect(html.match(/<style>/g)).toHaveLength(1);
    expect(html).not.toMatch(/(src|href)="\/(?!\/)/);
  });

  it('fills the slots per member, escaping them in HTML', () => {
    const { html, text, subject } = personalize(compiled, { ...values, name: '<b>Bob</b> & co' });
    expect(subject).toBe('Espresso at home');
    expect(html).toContain('Hi &lt;b&gt;Bob&lt;/b&gt; &amp; co,');
    expect(html).toContain('href="https://news.example.com/unsubscribe?token=abc"');
    expect(text).toContain('Hi <b>Bob</b> & co,');
    expect(text).toContain('Unsubscribe: https://news.example.com/unsubscribe?token=abc');
    expect(html).not.toContain('\u0001');
  });

  it('has a readable text part with links written out', () => {
    const { text } = personalize(compiled, values);
    expect(text).toContain('Hello there, see the guide (/posts/guide).');
    expect(text).toContain('[beans]');
    expect(text).toContain('https://news.example.com/posts/espresso');
  });

  it('cannot be made to forge a slot from the post itself', () => {
    const forged = renderPostEmail({
      brand,
      title: 'x\u0001unsubscribe_url\u0001',
      url: 'https://news.example.com/posts/x',
      bodyHtml: '<p>\u0001name\u0001</p>',
      cut: false,
      upgradeUrl: '',
    });
    const { html } = personalize(forged, values);
    expect(html).toContain('<p style="margin:0 0 16px 0;">name</p>');
    expect(html.match(/token=abc/g)).toHaveLength(2); // only the footer's two links
  });

  it('cuts the preview variant with an upgrade link', () => {
    const preview = personalize(
      renderPostEmail({
        brand,
        title: 'Paid',
        url: 'https://news.example.com/posts/p',
        bodyHtml: '<p>Above the cut</p>',
        cut: true,
        upgradeUrl: 'https://news.example.com/join',
      }),
      values,
    );
    expect(preview.html).toContain('Read the whole post');
    expect(preview.text).toContain('The rest of this post is for members: https://news.example.com/join');
  });

  it('sends free members the preview of a paid post only', () => {
    expect(variantFor({ visibility: 'paid' }, { paid: false })).toBe('preview');
    expect(variantFor({ visibility: 'paid' }, { paid: true })).toBe('full');
    expect(variantFor({ visibility: 'members' }, { paid: false })).toBe('full');
    expect(variantFor({ visibility: 'public' }, { paid: false })).toBe('full');
  });

  it('keeps helpers honest on their own', () => {
    expect(inlineStyles('<ul><li>x</li></ul>', '#000000', 'https://a.example')).toBe(
      '<ul style="margin:0 0 16px 0;padding-left:24px;"><li style="margin:0 0 6px 0;">x</li></ul>',
    );
    expect(htmlToText('<p>a &amp; b</p><p>c</p>')).toBe('a & b\n\nc');
  });
});

describe('the {{referral}} block', () => {
  const brand = { title: 'Field $& Notes', accentColor: '#b45309', siteUrl: 'https://news.example.com' };
  const compiled = renderPostEmail({
    brand,
    title: 'Harvest',
    url: 'https://news.example.com/posts/harvest',
    bodyHtml: '<p>Before.</p>\n<p>{{referral}}</p>\n<p>After.</p>',
    cut: false,
    upgradeUrl: 'https://news.example.com/join',
  });

  it('becomes each reader’s own referral link, in the HTML and the text part', () => {
    const email = personalize(compiled, {
      name: 'Ana',
      unsubscribe_url: 'u',
      preferences_url: 'p',
      referral_url: 'https://news.example.com/r/ana12345',
    });
    expect(email.html).toContain('href="https://news.example.com/r/ana12345"');
    expect(email.html).toContain('Know someone who would enjoy Field $&amp; Notes?');
    expect(email.html).not.toContain('{{referral}}');
    expect(email.text).toContain('Share your own link: https://news.example.com/r/ana12345');
    expect(email.text).not.toContain('{{referral}}');
    const other = personalize(compiled, {
      name: 'Ben',
      unsubscribe_url: 'u',
      preferences_url: 'p',
      referral_url: 'https://news.example.com/r/ben67890',
    });
    expect(other.html).toContain('/r/ben67890');
    expect(other.html).not.toContain('/r/ana12345');
  });
});
