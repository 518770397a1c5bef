import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/lib/config.ts';
import { classifySmtpError, messageIdFor, parseSmtpUrl, tagHeaders } from '../../src/lib/mailer/smtp.ts';

describe('MAIL_PROVIDER and SMTP_URL', () => {
  it('picks the provider whose settings are given, and SMTP counts its rate in messages', () => {
    expect(loadConfig({}).mailProvider).toBe('outbox');
    expect(loadConfig({ RESEND_API_KEY: 're_x' }).mailProvider).toBe('resend');
    const smtp = loadConfig({ SMTP_URL: 'smtp://u:p@relay.example.com:587' });
    expect(smtp).toMatchObject({
      mailProvider: 'smtp',
      smtp: { url: 'smtp://u:p@relay.example.com:587', maxConnections: 5 },
      sendRateLimit: 10,
    });
    expect(loadConfig({ RESEND_API_KEY: 're_x', SMTP_URL: 'smtp://relay.example.com', MAIL_PROVIDER: 'smtp' }).mailProvider).toBe('smtp');
    expect(loadConfig({ RESEND_API_KEY: 're_x' }).sendRateLimit).toBe(2);
  });

  it.each([
    [{ MAIL_PROVIDER: 'mailchimp' }, 'MAIL_PROVIDER'],
    [{ MAIL_PROVIDER: 'smtp' }, 'SMTP_URL'],
    [{ MAIL_PROVIDER: 'resend' }, 'RESEND_API_KEY'],
    [{ SMTP_URL: 'http://relay.example.com' }, 'SMTP_URL'],
    [{ SMTP_URL: 'relay.example.com:587' }, 'SMTP_URL'],
    [{ SMTP_MAX_CONNECTIONS: '0' }, 'SMTP_MAX_CONNECTIONS'],
    [{ SES_SNS_TOPIC_ARN: 'my-topic' }, 'SES_SNS_TOPIC_ARN'],
    [{ POSTMARK_WEBHOOK_TOKEN: 'short' }, 'POSTMARK_WEBHOOK_TOKEN'],
  ])('refuses %o naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as ConfigError).variable).toBe(variable);
    }
  });

  it('reads user, password, TLS and port from the URL', () => {
    expect(parseSmtpUrl('smtps://AKIA%2Fx:p%40ss@email-smtp.eu-west-1.amazonaws.com')).toEqual({
      host: 'email-smtp.eu-west-1.amazonaws.com',
      port: 465,
      secure: true,
      auth: { user: 'AKIA/x', pass: 'p@ss' },
    });
    expect(parseSmtpUrl('smtp://127.0.0.1:2525')).toEqual({ host: '127.0.0.1', port: 2525, secure: false, auth: undefined });
  });
});

describe('the SMTP adapter, without a relay', () => {
  it('a 5xx to the recipient or the data is final; a 4xx, a lost connection or a refused login is retried', () => {
    expect(classifySmtpError({ responseCode: 550, command: 'RCPT TO', response: '550 5.1.1 no such user' }).kind).toBe('invalid');
    expect(classifySmtpError({ responseCode: 554, command: 'DATA', response: '554 rejected' }).kind).toBe('invalid');
    expect(classifySmtpError({ responseCode: 451, command: 'DATA', response: '451 later' }).kind).toBe('unavailable');
    expect(classifySmtpError({ responseCode: 421, command: 'RCPT TO' }).kind).toBe('unavailable');
    expect(classifySmtpError({ responseCode: 535, command: 'AUTH PLAIN' }).kind).toBe('unavailable');
    expect(classifySmtpError({ responseCode: 550, command: 'MAIL FROM' }).kind).toBe('unavailable');
    expect(classifySmtpError({ code: 'ECONNECTION', message: 'Connection closed' }).kind).toBe('unavailable');
    expect(classifySmtpError({ code: 'ETIMEDOUT', message: 'Timeout' }).kind).toBe('unavailable');
  });

  it('gives a delivery the same Message-ID on every attempt, and another delivery another', () => {
    const a = messageIdFor('send-1-batch-0', 3, ['a@example.com'], 'News <letters@news.example.com>');
    expect(a).toBe(messageIdFor('send-1-batch-0', 3, ['a@example.com'], 'News <letters@news.example.com>'));
    expect(a).toMatch(/^<[0-9a-f]{40}\.hearth@news\.example\.com>$/);
    expect(messageIdFor('send-1-batch-0', 4, ['a@example.com'], 'letters@news.example.com')).not.toBe(a);
    expect(messageIdFor('send-1-batch-1', 3, ['a@example.com'], 'letters@news.example.com')).not.toBe(a);
  });

  it('carries only well-formed tags into headers (no header injection)', () => {
    expect(
      tagHeaders([
        { name: 'hearth_send', value: '12' },
        { name: 'bad', value: 'x\r\nBcc: evil@example.com' },
      ]),
    ).toEqual({
      'X-SES-MESSAGE-TAGS': 'hearth_send=12',
      'X-Mailgun-Variables': '{"hearth_send":"12"}',
      'X-PM-Metadata-hearth_send': '12',
    });
  });
});
