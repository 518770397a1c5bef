import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Who may talk under a post: null follows the site's default (settings key 'conversation').
    alter table posts add column comments_mode text check (comments_mode in ('off', 'members', 'paid'));

    -- One row per comment. A reply names a top-level comment (one level of replies). The author is
    -- a member, or a staff user speaking for the brand. Erasing a member erases their comments
    -- (and the replies under them).
    create table comments (
      id bigint generated always as identity primary key,
      post_id bigint not null references posts (id) on delete cascade,
      parent_id bigint references comments (id) on delete cascade,
      -- The comment the member pressed "reply" on (a reply to a reply still hangs under its top-level comment).
      reply_to_id bigint references comments (id) on delete set null,
      member_id bigint references members (id) on delete cascade,
      staff_user_id bigint references staff_users (id) on delete set null,
      body text not null,
      status text not null default 'published' check (status in ('published', 'held', 'hidden', 'deleted')),
      -- Why a held comment waits: first_comment, link_from_new_member, burst, reported.
      hold_reason text,
      -- Set when the author erased their own comment (the body is emptied, so it cannot be restored).
      erased boolean not null default false,
      question boolean not null default false,
      answered_at timestamptz,
      -- Set once the comment was first published and its events and notifications were made
      -- (a comment approved after a hold gets them then, and only once).
      announced boolean not null default false,
      -- The normalised text the burst check compares (lower case, no punctuation, no invisible characters).
      fingerprint text not null default '',
      created_at timestamptz not null default now(),
      edited_at timestamptz,
      moderated_at timestamptz,
      moderated_by bigint references staff_users (id) on delete set null,
      check (member_id is not null or staff_user_id is not null or status = 'deleted')
    );
    -- A post's conversation, in order.
    create index comments_post_idx on comments (post_id, created_at, id);
    create index comments_parent_idx on comments (parent_id) where parent_id is not null;
    create index comments_member_idx on comments (member_id, created_at) where member_id is not null;
    -- The burst check reads the last few minutes of comments site-wide.
    create index comments_recent_idx on comments (created_at);
    -- The review queue and the API's status filter.
    create index comments_status_idx on comments (status, created_at, id) where status <> 'published';
    -- The questions inbox: unanswered first, oldest first.
    create index comments_questions_idx on comments ((answered_at is not null), created_at, id) where question and status = 'published';

    -- A small fixed set of emoji, one of each kind per member, on a post (comment_id null) or a comment.
    create table reactions (
      id bigint generated always as identity primary key,
      member_id bigint not null references members (id) on delete cascade,
      post_id bigint not null references posts (id) on delete cascade,
      comment_id bigint references comments (id) on delete cascade,
      kind text not null,
      created_at timestamptz not null default now()
    );
    create unique index reactions_post_once on reactions (member_id, post_id, kind) where comment_id is null;
    create unique index reactions_comment_once on reactions (member_id, comment_id, kind) where comment_id is not null;
    create index reactions_post_idx on reactions (post_id);

    create table comment_reports (
      comment_id bigint not null references comments (id) on delete cascade,
      member_id bigint not null references members (id) on delete cascade,
      reason text not null,
      created_at timestamptz not null default now(),
      resolved_at timestamptz,
      primary key (comment_id, member_id)
    );
    create index comment_reports_open_idx on comment_reports (comment_id) where resolved_at is null;

    -- A member banned from commenting and reacting until a date.
    create table comment_bans (
      member_id bigint primary key references members (id) on delete cascade,
      until timestamptz not null,
      reason text not null default '',
      created_by bigint references staff_users (id) on delete set null,
      created_at timestamptz not null default now()
    );

    -- What moderators did, for the record.
    create table moderation_log (
      id bigint generated always as identity primary key,
      comment_id bigint references comments (id) on delete set null,
      member_id bigint references members (id) on delete set null,
      staff_user_id bigint references staff_users (id) on delete set null,
      action text not null,
      note text not null default '',
      created_at timestamptz not null default now()
    );

    -- Emails owed to members about replies and answers; a periodic job sends each member one
    -- email for everything pending, then marks the rows sent.
    create table comment_notifications (
      id bigint generated always as identity primary key,
      member_id bigint not null references members (id) on delete cascade,
      comment_id bigint not null references comments (id) on delete cascade,
      kind text not null check (kind in ('reply', 'answer')),
      created_at timestamptz not null default now(),
      sent_at timestamptz,
      unique (member_id, comment_id)
    );
    create index comment_notifications_pending_idx on comment_notifications (member_id, id) where sent_at is null;
    create index comment_notifications_sent_idx on comment_notifications (member_id, sent_at) where sent_at is not null;

    -- Members who asked for no emails about replies and answers.
    create table comment_notification_optouts (
      member_id bigint primary key references members (id) on delete cascade,
      created_at timestamptz not null default now()
    );

    -- What every view of a post page needs to lay out its conversation, in one call: the post's
    -- rule, both settings rows, the reader's ban, the published count and the post's reactions.
    -- A function because PL/pgSQL keeps its plans per connection: as a plain statement the same
    -- query spends most of its 0.5 ms planning six subqueries; this way it takes about 0.2 ms.
    create function conversation_meta(p_post bigint, p_member bigint)
    returns table (comments_mode text, conversation jsonb, site jsonb, banned_until timestamptz, published int, post_reactions json)
    language plpgsql stable as $$
    begin
      return query
        select p.comments_mode,
          (select s.value from settings s where s.key = 'conversation'),
          (select s.value from settings s where s.key = 'site'),
          (select b.until from comment_bans b where b.member_id = p_member and b.until > now()),
          (select count(*)::int from comments c where c.post_id = p.id and c.status = 'published'),
          (select coalesce(json_agg(json_build_object('kind', r.kind, 'n', r.n, 'mine', r.mine)), '[]'::json)
             from (select x.kind, count(*)::int as n, coalesce(bool_or(x.member_id = p_member), false) as mine
                     from reactions x where x.post_id = p.id and x.comment_id is null group by x.kind) r)
        from posts p where p.id = p_post;
    end $$;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop function conversation_meta(bigint, bigint);
    drop table comment_notification_optouts, comment_notifications, moderation_log, comment_bans, comment_reports, reactions, comments;
    alter table posts drop column comments_mode;
  `.execute(db);
}
