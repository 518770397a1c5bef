import { describe, expect, it } from 'vitest';
import { referralMilestoneEmail } from '../../emails/referral-milestone.ts';
import { shareLinks } from '../../src/domain/referrals/referrals.ts';
import { canonicalMailbox, deviceClass, networkOf } from '../../src/domain/referrals/signals.ts';

describe('networkOf', () => {
  it('reduces IPv4 to its /24 and IPv6 to its /48', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('::ffff:203.0.113.9')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:1:2::5')).toBe('2001:db8:1::/48');
    expect(networkOf('2001:0DB8:0001:ffff:0:0:0:1')).toBe('2001:db8:1::/48');
    expect(networkOf('[2001:db8::1]')).toBe('2001:db8:0::/48');
    expect(networkOf('fe80::1%eth0')).toBe('fe80:0:0::/48');
    expect(networkOf('64:ff9b::198.51.100.1')).toBe('64:ff9b:0::/48');
    expect(networkOf('::1')).toBe('0:0:0::/48');
  });

  it('gives null for anything that is not an address', () => {
    for (const bad of ['unknown', '', '1.2.3', '999.1.1.1', 'gggg::1', '1::2::3']) expect(networkOf(bad)).toBeNull();
  });
});

describe('deviceClass', () => {
  it('keeps a browser family, its major version and the system', () => {
    expect(
      deviceClass('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.91 Safari/537.36'),
    ).toBe('chrome/124 windows');
    expect(
      deviceClass(
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51',
      ),
    ).toBe('edge/124 windows');
    expect(
      deviceClass(
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
      ),
    ).toBe('safari/17 ios');
    expect(
      deviceClass('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15'),
    ).toBe('safari/17 macos');
    expect(deviceClass('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0')).toBe('firefox/128 linux');
    expect(
      deviceClass(
        'Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36',
      ),
    ).toBe('samsung/24 android');
    expect(
      deviceClass('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36'),
    ).toBe('headless-chrome/131 linux');
  });

  it('groups scripts and missing agents', () => {
    expect(deviceClass('curl/8.5.0')).toBe('script');
    expect(deviceClass('python-requests/2.31')).toBe('script');
    expect(deviceClass('node')).toBe('script');
    expect(deviceClass('')).toBe('none');
    expect(deviceClass(null)).toBe('none');
    expect(deviceClass('SomethingElse/1.0')).toBe('other other');
  });
});

describe('canonicalMailbox', () => {
  it('finds one mailbox behind +tags, case and Gmail dots', () => {
    expect(canonicalMailbox('Jo.Ann+news@GoogleMail.com')).toBe('joann@gmail.com');
    expect(canonicalMailbox('jo.ann+x@example.com')).toBe('jo.ann@example.com');
    expect(canonicalMailbox('JOANN@example.com')).toBe('joann@example.com');
    expect(canonicalMailbox('jo.ann@example.com')).not.toBe(canonicalMailbox('joann@example.com'));
  });
});

describe('the milestone email', () => {
  const brand = { title: 'Field <Notes>', accentColor: '#c2410c', siteUrl: 'https://news.example.com' };
  it('says what was earned, escapes what staff and members wrote, and names the next milestone', () => {
    const until = new Date('2027-01-31T12:00:00Z');
    const mail = referralMilestoneEmail({
      brand,
      name: 'Ana <b>',
      referrals: 10,
      description: 'a month of <Supporter>',
      reward: { kind: 'comp', tierName: 'Supporter', days: 30, until },
      referralUrl: 'https://news.example.com/r/abcdefgh23',
      next: { threshold: 25, description: 'a call' },
    });
    expect(mail.subject).toBe('You reached a milestone: a month of <Supporter>');
    expect(mail.html).toContain('a month of &lt;Supporter&gt;');
    expect(mail.html).toContain('Hello Ana &lt;b&gt;,');
    expect(mail.html).not.toContain('<Supporter>');
    expect(mail.text).toContain('10 friends joined Field <Notes> through your link');
    expect(mail.text).toContain('on us until January 31, 2027');
    expect(mail.text).toContain('Next: at 25 friends, a call.');
    expect(mail.text).toContain('https://news.example.com/r/abcdefgh23');
    expect(mail.html).not.toMatch(/src="http/);
  });

  it('explains banked days and manual rewards', () => {
    const banked = referralMilestoneEmail({
      brand,
      name: null,
      referrals: 1,
      description: 'a month',
      reward: { kind: 'comp_banked', tierName: 'Supporter', days: 30 },
      referralUrl: 'https://x/r/abcdefgh23',
      next: null,
    });
    expect(banked.text).toContain('1 friend joined');
    expect(banked.text).toContain('30 days of Supporter membership are yours: they start when your current membership ends');
    expect(banked.text).not.toContain('Next:');
    const manual = referralMilestoneEmail({
      brand,
      name: null,
      referrals: 3,
      description: 'a sticker',
      reward: { kind: 'manual' },
      referralUrl: 'https://x/r/abcdefgh23',
      next: null,
    });
    expect(manual.text).toContain('We will be in touch about your reward.');
  });
});

describe('share links', () => {
  it('are plain links with the referral URL encoded, no platform script', () => {
    const links = shareLinks('https://news.example.com/r/abcdefgh23', 'I read Field Notes & more:');
    expect(links.map((l) => l.platform)).toEqual(['x', 'bluesky', 'threads', 'linkedin', 'facebook', 'reddit', 'email']);
    for (const l of links) expect(l.href).toContain(encodeURIComponent('https://news.example.com/r/abcdefgh23').slice(0, 20));
    expect(links[0]!.href).toContain('text=I%20read%20Field%20Notes%20%26%20more%3A');
  });
});
