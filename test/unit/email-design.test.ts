import { doIUseEmail } from '@jsx-email/doiuse-email';
import { describe, expect, it } from 'vitest';
import { renderAutomationEmail } from '../../emails/automation.ts';
import { defaultTemplate } from '../../emails/automatic.ts';
import { renderSample } from '../../src/domain/emails/emails.ts';
import {
  giftEmail,
  giftReceiptEmail,
  membershipEndedEmail,
  paidWelcomeEmail,
  paymentFailedEmail,
  trialEndingEmail,
} from '../../emails/billing.ts';
import { commentNotificationsEmail } from '../../emails/comment-notifications.ts';
import { confirmEmailChangeEmail } from '../../emails/confirm-email-change.ts';
import { confirmSubscriptionEmail } from '../../emails/confirm-subscription.ts';
import { button, layout, preheaderHtml, type Brand } from '../../emails/html.ts';
import { installTestEmail } from '../../emails/install-test.ts';
import { personalize, renderPostEmail, type CompiledEmail } from '../../emails/post.ts';
import { referralMilestoneEmail } from '../../emails/referral-milestone.ts';
import { signInEmail } from '../../emails/sign-in.ts';
import { staffAlertEmail } from '../../emails/staff-alert.ts';
import { welcomeEmail } from '../../emails/welcome.ts';
import { renderMarkdown } from '../../src/domain/content/markdown.ts';

const brand: Brand = {
  title: 'Field Notes Coffee',
  accentColor: '#1d4ed8',
  siteUrl: 'https://news.example.com',
  logo: { src: '/uploads/2026-01/abcdefghijklmnop.png', width: 800, height: 200 },
  postalAddress: '12 Roastery Lane\nPortland, OR 97201',
  design: {
    linkColor: '#0f766e',
    backgroundColor: '#fef3c7',
    headingFont: 'trebuchet',
    bodyFont: 'palatino',
    buttonStyle: 'pill',
    logoWidth: 200,
    footerText: 'Roasted and written in Portland.',
  },
};

const slots = {
  name: 'Alice',
  unsubscribe_url: 'https://news.example.com/unsubscribe?token=t',
  preferences_url: 'https://news.example.com/unsubscribe?token=t',
  referral_url: 'https://news.example.com/r/alice',
};
const filled = (c: CompiledEmail) => personalize(c, slots);

const markdown = `The harvest came in early this year, and the first lots are the best we have cupped.

![Drying beds](/uploads/2026-01/bbbbbbbbbbbbbbbb.jpg)

## Tasting notes

- Jasmine
- Bergamot

> A quiet cup.

\`\`\`
ratio 1:16
\`\`\`

| lot | score |
|---|---|
| Guji | 88 |

{{referral}}`;

/** Every kind of email Hearth sends, rendered with the brand above; `preheader` is what the inbox shows. */
const kinds: Record<string, { html: string; preheader: string }> = {
  post: {
    html: filled(
      renderPostEmail({
        brand,
        title: 'The washed Ethiopian',
        url: 'https://news.example.com/posts/washed',
        bodyHtml: renderMarkdown(markdown),
        cut: false,
        upgradeUrl: '',
        preheader: 'Jasmine, bergamot and a patient farmer.',
        images: new Map([['/uploads/2026-01/bbbbbbbbbbbbbbbb.jpg', { width: 1600, height: 1000 }]]),
        featureImage: { src: '/uploads/2026-01/cccccccccccccccc.jpg', width: 1200, height: 630, alt: 'Cherries' },
        author: 'Sam Roaster',
      }),
    ).html,
    preheader: 'Jasmine, bergamot and a patient farmer.',
  },
  'post preview': {
    html: filled(
      renderPostEmail({
        brand,
        title: 'Members only',
        url: 'https://news.example.com/posts/m',
        bodyHtml: renderMarkdown('The opening of a members-only post.'),
        cut: true,
        upgradeUrl: 'https://news.example.com/join',
      }),
    ).html,
    preheader: 'The opening of a members-only post.',
  },
  automation: {
    html: filled(
      renderAutomationEmail({
        brand,
        subject: 'Day two',
        preheader: 'What to brew first.',
        bodyHtml: renderMarkdown('Hi {{name}}, start with [the guide]({{site_url}}/guide).'),
      }),
    ).html,
    preheader: 'What to brew first.',
  },
  welcome: {
    html: welcomeEmail({ brand, name: 'Alice', newsletters: ['Field Notes'], preferencesUrl: 'https://news.example.com/u' }).html,
    preheader: 'You are subscribed to Field Notes.',
  },
  'confirm subscription': {
    html: confirmSubscriptionEmail({
      brand,
      name: null,
      newsletters: ['Field Notes'],
      confirmUrl: 'https://news.example.com/c',
      validDays: 7,
    }).html,
    preheader: '',
  },
  'sign in': {
    html: signInEmail({ brand, link: 'https://news.example.com/signin/verify?token=x', code: '123456', newMember: false }).html,
    preheader: 'Your code: 123456',
  },
  'confirm email change': {
    html: confirmEmailChangeEmail({ brand, link: 'https://news.example.com/x', newEmail: 'a@example.com' }).html,
    preheader: 'One click to confirm your new address.',
  },
  'paid welcome': { html: paidWelcomeEmail({ brand, tierName: 'Supporter' }).html, preheader: 'You are now a Supporter member.' },
  'payment failed': {
    html: paymentFailedEmail({ brand, tierName: 'Supporter', graceDays: 7 }).html,
    preheader: 'Update your card to keep your membership.',
  },
  'membership ended': { html: membershipEndedEmail({ brand, tierName: 'Supporter' }).html, preheader: 'Thank you for your support.' },
  'trial ending': {
    html: trialEndingEmail({ brand, tierName: 'Supporter', trialEnd: '1 May', amount: '$5', withCard: true }).html,
    preheader: 'Your trial ends on 1 May.',
  },
  'gift receipt': {
    html: giftReceiptEmail({ brand, tierName: 'Supporter', months: 3, deliverOn: '1 May', recipient: 'b@example.com' }).html,
    preheader: '',
  },
  gift: {
    html: giftEmail({
      brand,
      tierName: 'Supporter',
      months: 3,
      message: 'Enjoy',
      redeemUrl: 'https://news.example.com/gift/redeem?token=x',
      forBuyer: false,
    }).html,
    preheader: '',
  },
  'referral milestone': {
    html: referralMilestoneEmail({
      brand,
      name: 'Alice',
      referrals: 3,
      description: 'a sticker',
      reward: { kind: 'manual' },
      referralUrl: 'https://news.example.com/r/a',
      next: null,
    }).html,
    preheader: '3 friends joined through your link.',
  },
  'comment notifications': {
    html: commentNotificationsEmail({
      brand,
      name: 'Alice',
      notices: [{ kind: 'reply', postTitle: 'Guji', url: 'https://news.example.com/posts/g#c1', author: 'Bob', excerpt: 'Agreed' }],
      optOutUrl: 'https://news.example.com/o',
    }).html,
    preheader: 'Bob replied to you on “Guji”',
  },
  'welcome (staff text)': {
    html: renderSample(
      'welcome',
      'en',
      {
        subject: 'Hello {{member.name}}',
        preheader: 'Your first letter is on its way.',
        markdown: '## Hello **{{member.name}}**\n\nRead [the guide]({{site.url}}/guide).\n\n[Visit {{site.name}}]({{site.url}})',
      },
      brand,
    ).html,
    preheader: 'Your first letter is on its way.',
  },
  'confirmation (staff text)': {
    html: renderSample('confirmation', 'fr', defaultTemplate('confirmation', 'fr'), brand).html,
    preheader: 'Un clic pour confirmer Weekly letter.',
  },
  'install test': {
    html: installTestEmail({ brand, checklistUrl: 'https://news.example.com/admin/checklist', from: 'News <n@example.com>' }).html,
    preheader: '',
  },
  'staff alert': {
    html: staffAlertEmail({
      brand,
      alerts: [{ summary: 'A burst of sign-ups', url: 'https://news.example.com/admin/live' }],
      digest: false,
      settingsUrl: 'https://news.example.com/admin/alerts',
    }).html,
    preheader: '',
  },
};

/** The preheader's text as the inbox reads it: the hidden block's content, filler removed. */
function preheaderOf(html: string): string | null {
  const m = /<div class="hb-preheader" style="([^"]*)">([\s\S]*?)<\/div>/.exec(html);
  if (!m) return null;
  expect(m[1]).toContain('display:none');
  expect(m[1]).toContain('mso-hide:all');
  expect(m[1]).toContain('max-height:0px');
  expect(m[2]).toMatch(/(&zwnj;&nbsp;){20,}$/);
  return m[2]!
    .replace(/(&zwnj;&nbsp;)+$/, '')
    .replace(/&#(\d+);/g, (_e, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, '&');
}

describe('every email kind in the brand design', () => {
  for (const [kind, email] of Object.entries(kinds)) {
    describe(kind, () => {
      const html = email.html;

      it('is in the brand: logo at its size, fonts, colours, footer text and postal address', () => {
        expect(html).toContain('src="https://news.example.com/uploads/2026-01/abcdefghijklmnop.png" width="200" height="50"');
        expect(html).toContain("'Trebuchet MS'"); // heading font
        expect(html).toContain("'Palatino Linotype'"); // body font
        expect(html).toContain('bgcolor="#fef3c7"'); // background
        expect(html).toContain('Roasted and written in Portland.');
        expect(html).toContain('12 Roastery Lane, Portland, OR 97201');
      });

      it('holds in Outlook for Windows: a 600-wide table with width attributes inside an MSO ghost table', () => {
        expect(html).toContain('<!--[if mso]><table role="presentation" width="600"');
        expect(html).toMatch(/<table role="presentation" class="hb-card" width="600"[^>]*style="width:100%;max-width:600px;/);
        for (const img of html.match(/<img [^>]*>/g) ?? []) expect(img).toMatch(/ width="\d+" height="\d+"/);
        expect(html).not.toContain('loading=');
      });

      it('has both colour schemes: the meta, the CSS property and a dark block', () => {
        expect(html).toContain('<meta name="color-scheme" content="light dark">');
        expect(html).toContain('<meta name="supported-color-schemes" content="light dark">');
        expect(html).toContain(':root{color-scheme:light dark;supported-color-schemes:light dark}');
        const dark = /@media \(prefers-color-scheme:dark\)\{(.*?)\}\}/.exec(html)?.[1] ?? '';
        expect(dark).toContain('.hb-page{background-color:#0c0a09 !important}');
        expect(dark).toContain('.hb-card{background-color:#1c1917 !important}');
        expect(dark).toContain('color:#e7e5e4 !important');
        expect(dark).toContain('.hb-logo{background-color:#ffffff !important'); // the logo keeps its light plate
        expect(html).toContain('[data-ogsc] .hb-card'); // Outlook.com's dark mode
        // Light scheme: what the inline styles say.
        expect(html).toMatch(/class="hb-card"[^>]*bgcolor="#ffffff"/);
        expect(html).toMatch(/class="hb-pad hb-text" style="[^"]*color:#1c1917;/);
      });

      it('has its preheader, padded and hidden in every client', () => {
        const shown = preheaderOf(html);
        if (email.preheader) expect(shown).toBe(email.preheader);
        else expect(shown === null || shown.length > 0).toBe(true);
      });

      it('passes the caniemail check for Gmail, Outlook and Apple Mail', () => {
        expect(caniemailProblems(html)).toEqual([]);
      });
    });
  }
});

/**
 * What the layout may use though caniemail marks it unsupported in one of these clients, and why
 * it is harmless (README, "Email that renders everywhere"). Everything else fails the test.
 */
const HARMLESS: Array<[RegExp, string]> = [
  [/^`role attribute`/, 'accessibility hint for screen readers; ignored where unsupported'],
  [/^`<body> element` .*`outlook\.(macos|ios|android)`/, 'the body is replaced by a div; the outer table carries the background'],
  [/^`border-radius` .*`outlook\.windows(-mail)?`/, 'square corners in Outlook for Windows; VML rounds the button'],
  [
    /^`(display:none|opacity|overflow)` .*`(outlook\.(windows|windows-mail|android)|gmail\.mobile-webmail)`/,
    'the preheader: mso-hide:all and max-height:0 hide it',
  ],
  [/^`white-space` .*`outlook\.windows(-mail)?`/, 'long code lines do not wrap in Outlook for Windows'],
  [/^`word-break` .*`outlook\.windows-mail`/, 'a long link in the confirmation email does not wrap in Windows Mail'],
];
/** Caniemail features of the <style> block only: dark mode and narrow-screen padding are extras. */
const STYLE_BLOCK = /^`(@media|Attribute selector|Class selector|Descendant combinator|Type selector|:root|prefers-color-scheme)`/;

function caniemailProblems(html: string): string[] {
  const clients = ['gmail.*', 'outlook.*', 'apple-mail.*'];
  // The layout itself, without the <style> block: nothing it depends on may be unsupported.
  const inline = html.replace(/<style>[\s\S]*?<\/style>/, '');
  const inlineErrors = (doIUseEmail(inline, { emailClients: clients }) as { errors?: string[] }).errors ?? [];
  // The whole email: the <style> block may only add what the clients that drop it can do without.
  const allErrors = (doIUseEmail(html, { emailClients: clients }) as { errors?: string[] }).errors ?? [];
  return [
    ...inlineErrors.filter((e) => !HARMLESS.some(([re]) => re.test(e))),
    ...allErrors.filter((e) => !HARMLESS.some(([re]) => re.test(e)) && !STYLE_BLOCK.test(e)),
  ];
}

describe('the frame', () => {
  it('compiles the design once: the same brand gives the same frame, another design another', () => {
    const a = layout(brand, { preheader: 'x', bodyHtml: 'B' });
    const b = layout({ ...brand, design: { ...brand.design, buttonStyle: 'square' } }, { preheader: 'x', bodyHtml: 'B' });
    expect(a).toBe(layout({ ...brand }, { preheader: 'x', bodyHtml: 'B' }));
    expect(a).toBe(b); // no button in the body: the button style changes nothing
    const c = layout({ ...brand, design: { ...brand.design, backgroundColor: '#000000' } }, { preheader: 'x', bodyHtml: 'B' });
    expect(c).not.toBe(a);
  });

  it('draws bulletproof buttons: VML for Outlook, a padded link elsewhere, in the design style', () => {
    const html = layout(brand, { preheader: 'x', bodyHtml: button('https://news.example.com/a?b=1&c=2', 'Go', '#1d4ed8') });
    expect(html).toContain('<!--[if mso]><v:roundrect');
    expect(html).toContain('href="https://news.example.com/a?b=1&amp;c=2"');
    expect(html).toContain('arcsize="50%"'); // pill
    expect(html).toContain('border-radius:22px');
    const outline = layout(
      { ...brand, design: { buttonStyle: 'outline' } },
      { preheader: 'x', bodyHtml: button('https://x.example', 'Go', '#1d4ed8') },
    );
    expect(outline).toContain('background-color:#ffffff;border:1px solid #1d4ed8;');
  });

  it('does not let text from a member forge a button', () => {
    const forged = `\u0002abc["https://evil.example","Click","#000000"]\u0002`;
    const html = layout(brand, { preheader: 'x', bodyHtml: forged });
    expect(html).not.toContain('href="https://evil.example"');
    expect(html).not.toContain('\u0002');
  });

  it('shows "View in your browser" for a post unless the design hides it', () => {
    const post = (design: Brand['design']) =>
      filled(
        renderPostEmail({
          brand: { ...brand, design },
          title: 'T',
          url: 'https://news.example.com/posts/t',
          bodyHtml: '<p>x</p>',
          cut: false,
          upgradeUrl: '',
        }),
      ).html;
    expect(post({})).toContain('>View in your browser</a>');
    expect(post({ showViewInBrowser: false })).not.toContain('View in your browser');
  });

  it('takes the post preheader from the opening words when none is given, never the subject', () => {
    const { html } = filled(
      renderPostEmail({
        brand,
        title: 'A subject',
        url: 'https://news.example.com/posts/t',
        bodyHtml: renderMarkdown(`${'word '.repeat(60)}end`),
        cut: false,
        upgradeUrl: '',
      }),
    );
    const shown = preheaderOf(html)!;
    expect(shown.startsWith('word word')).toBe(true);
    expect(shown.length).toBeLessThanOrEqual(151);
    expect(shown.endsWith('…')).toBe(true);
  });

  it('writes nothing for an empty preheader', () => {
    expect(preheaderHtml('  ')).toBe('');
  });
});
