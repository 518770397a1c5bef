import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startupBanner, type BannerInput } from '../../src/cli/banner.ts';

const local: BannerInput['config'] = {
  siteUrl: 'http://localhost:4321',
  host: '127.0.0.1',
  port: 4321,
  mailProvider: 'outbox',
  smtp: undefined,
  databaseUrl: undefined,
  dataDir: './.data',
  uploadsDir: './.data/uploads',
};

describe('startupBanner', () => {
  it('on a local trial: one host (SITE_URL), the owner hint, the outbox and the data folder', () => {
    const text = startupBanner({ config: local, listening: '127.0.0.1:4321', hasStaff: false, worker: true });
    expect(text).toContain('Hearth is running at http://localhost:4321\n');
    expect(text).toContain('Admin     http://localhost:4321/admin  (the first visit creates the owner account)');
    expect(text).toContain(
      'Email     no mail provider set: every email stays in the local outbox, read it at http://localhost:4321/admin/outbox',
    );
    expect(text).toContain(`Data      ${resolve('./.data')}  (embedded PostgreSQL, uploads, the app secret)`);
    expect(text).not.toContain('127.0.0.1');
    expect(text).not.toContain('Listening');
  });

  it('names providers and databases without their secrets', () => {
    const text = startupBanner({
      config: {
        ...local,
        siteUrl: 'https://news.example.com',
        host: '0.0.0.0',
        mailProvider: 'smtp',
        smtp: { url: 'smtp://user:s3cret@smtp.example.net:587', maxConnections: 5 },
        databaseUrl: 'postgres://hearth:pa55@db.internal:5432/hearth',
      },
      listening: '0.0.0.0:4321',
      hasStaff: true,
      worker: false,
    });
    expect(text).toContain('Email     sent through the SMTP relay smtp.example.net:587 (SMTP_URL)');
    expect(text).toContain('Data      PostgreSQL at db.internal:5432/hearth; uploads in ');
    expect(text).toContain('Listening 0.0.0.0:4321 (SITE_URL is the public address)');
    expect(text).toContain('Admin     https://news.example.com/admin\n');
    expect(text).not.toMatch(/s3cret|pa55/);
    expect(text).toContain('--no-worker');
    expect(
      startupBanner({ config: { ...local, mailProvider: 'resend' }, listening: '127.0.0.1:4321', hasStaff: true, worker: true }),
    ).toContain('Email     sent through Resend');
  });
});
