import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/lib/config.ts';

const SECRET = 'x'.repeat(40);

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment (the embedded default)', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      databaseUrl: undefined,
      host: '127.0.0.1',
      port: 4321,
      siteUrl: 'http://localhost:4321',
      sendRateLimit: 2,
      dataDir: '.data',
    });
    expect(c.resend).toBeUndefined();
    expect(c.stripe).toBeUndefined();
    expect(c.mailFrom).toBe('hearth@localhost');
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ DATABASE_URL: 'not a url', APP_SECRET: SECRET }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'mysql://x@y/z', APP_SECRET: SECRET }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres://localhost/hearth' }, 'APP_SECRET'],
    [{ DATABASE_URL: 'postgres://localhost/hearth', APP_SECRET: 'short' }, 'APP_SECRET'],
    [{ SITE_URL: 'ftp://example.com' }, 'SITE_URL'],
    [{ SITE_URL: 'example.com' }, 'SITE_URL'],
    [{ MAIL_FROM: 'Brand <not-an-address>' }, 'MAIL_FROM'],
    [{ SEND_RATE_LIMIT: '0' }, 'SEND_RATE_LIMIT'],
    [{ SEND_RATE_LIMIT: 'fast' }, 'SEND_RATE_LIMIT'],
    [{ RESEND_BASE_URL: 'http://127.0.0.1:9999' }, 'RESEND_API_KEY'],
    [{ RESEND_API_KEY: 're_x', RESEND_BASE_URL: 'nope' }, 'RESEND_BASE_URL'],
    [{ STRIPE_API_BASE: 'http://127.0.0.1:12111' }, 'STRIPE_SECRET_KEY'],
    [{ TRUST_PROXY: 'true' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/40' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'proxy.internal' }, 'TRUST_PROXY'],
  ])('refuses %o naming %s', (env, variable) => {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
    expect((caught as ConfigError).message).toMatch(new RegExp(`^${variable}: `));
    expect((caught as ConfigError).message).not.toContain('\n');
  });

  it('reads a full production environment', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://u:p@db.internal:5432/hearth',
      APP_SECRET: SECRET,
      PORT: '8080',
      SITE_URL: 'https://news.example.com/',
      MAIL_FROM: 'Field Notes <letters@example.com>',
      RESEND_API_KEY: 're_live',
      RESEND_WEBHOOK_SECRET: 'whsec_x',
      SEND_RATE_LIMIT: '10',
      STRIPE_SECRET_KEY: 'sk_live',
      STRIPE_WEBHOOK_SECRET: 'whsec_y',
    });
    expect(c).toMatchObject({ host: '0.0.0.0', port: 8080, siteUrl: 'https://news.example.com', sendRateLimit: 10, appSecret: SECRET });
    expect(c.resend).toEqual({ apiKey: 're_live', baseUrl: undefined, webhookSecret: 'whsec_x' });
    expect(c.stripe).toEqual({ secretKey: 'sk_live', webhookSecret: 'whsec_y', apiBase: undefined });
  });

  it('reads DNS_SERVERS (IPv4 and IPv6, with or without a port) and EMBEDDED_PG_PORT', () => {
    const c = loadConfig({ DNS_SERVERS: ' 127.0.0.1:5353, 1.1.1.1,::1 ,[2606:4700::1111]:53', EMBEDDED_PG_PORT: '54329' });
    expect(c.dnsServers).toEqual(['127.0.0.1:5353', '1.1.1.1', '::1', '[2606:4700::1111]:53']);
    expect(c.embeddedPgPort).toBe(54329);
    expect(loadConfig({})).toMatchObject({ dnsServers: undefined, embeddedPgPort: undefined });
    for (const bad of ['dns.google', '1.1.1.1:0', '1.1.1.1:x', '[1.1.1.1]:53', '300.1.1.1']) {
      expect(() => loadConfig({ DNS_SERVERS: bad })).toThrow(/DNS_SERVERS: must be a comma-separated list of IP addresses/);
    }
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ PORT: '', RESEND_API_KEY: '  ' })).toMatchObject({ port: 4321, resend: undefined });
  });

  it('trusts no proxy unless TRUST_PROXY says so', () => {
    expect(loadConfig({}).trustProxy).toEqual({ kind: 'off' });
    expect(loadConfig({ TRUST_PROXY: '' }).trustProxy).toEqual({ kind: 'off' });
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toEqual({ kind: 'hops', hops: 1 });
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, ::1' }).trustProxy).toMatchObject({ kind: 'list', entries: ['10.0.0.0/8', '::1'] });
  });
});
