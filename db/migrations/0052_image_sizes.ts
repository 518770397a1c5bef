import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- The real size of each image uploaded to this site (domain/content/images.ts): emails need
    -- width and height attributes (Outlook for Windows shows an image without them at its natural
    -- size) and link previews name og:image:width/height. Files never change (random names), so a
    -- row is written once: at upload, or the first time an older image is looked at.
    create table image_sizes (
      path text primary key,
      width int not null check (width > 0),
      height int not null check (height > 0),
      created_at timestamptz not null default now()
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table image_sizes`.execute(db);
}
