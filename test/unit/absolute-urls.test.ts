import { describe, expect, it } from 'vitest';
import { absoluteUrls } from '../../src/lib/absolute-urls.ts';

describe('absoluteUrls', () => {
  const origin = 'https://news.example.com/';

  it('makes root- and protocol-relative src, href, poster and srcset absolute', () => {
    const html = `<p><img src="/uploads/a.png" srcset="/uploads/a.png 1x, /uploads/a@2x.png 2x"><a href='/posts/x'>x</a><video poster="//cdn.example.com/p.jpg"></video></p>`;
    expect(absoluteUrls(html, origin)).toBe(
      `<p><img src="https://news.example.com/uploads/a.png" srcset="https://news.example.com/uploads/a.png 1x, https://news.example.com/uploads/a@2x.png 2x"><a href='https://news.example.com/posts/x'>x</a><video poster="https://cdn.example.com/p.jpg"></video></p>`,
    );
  });

  it('leaves absolute, mailto, fragment and data addresses and text alone', () => {
    const html = `<a href="https://other.example/x">/not-a-link</a><a href="mailto:a@b.c">m</a><a href="#top">t</a><img src="data:image/png;base64,AA==">`;
    expect(absoluteUrls(html, origin)).toBe(html);
  });
});
