import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- An automation: a trigger plus ordered steps that members move through (domain/automations).
    create table automations (
      id bigserial primary key,
      name text not null,
      trigger jsonb not null,
      trigger_type text not null,
      status text not null default 'draft' check (status in ('draft', 'live', 'paused')),
      -- A ready-made automation ('sunset'), or null for one staff wrote.
      template text,
      created_by bigint references staff_users (id) on delete set null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      -- When it first went live: the welcome sequence's retention compares members before and after.
      live_since timestamptz
    );
    create index automations_live_idx on automations (trigger_type) where status = 'live';

    -- A step keeps its id while staff edit the automation, so members on it stay on it. A removed
    -- step keeps its row (position null): deliveries and stats still point at it.
    create table automation_steps (
      id bigserial primary key,
      automation_id bigint not null references automations (id) on delete cascade,
      position int,
      definition jsonb not null,
      -- Counters moved in the transaction that moves members: reached the step, left by a condition.
      entered int not null default 0,
      exited int not null default 0,
      removed_at timestamptz
    );
    create unique index automation_steps_position_idx on automation_steps (automation_id, position) where position is not null;

    -- One rendering of an email step (a new row each time its content changes). Its id is the
    -- "send" id in tracking tokens, taken from a range of its own (sends never reach 10^12), so an
    -- open or click of an automation email is recorded like a send's and never mistaken for one.
    create sequence automation_emails_id_seq start with 1000000000000;
    create table automation_emails (
      id bigint primary key default nextval('automation_emails_id_seq'),
      step_id bigint not null references automation_steps (id) on delete cascade,
      rendered jsonb not null,
      links text[] not null,
      created_at timestamptz not null default now()
    );
    alter sequence automation_emails_id_seq owned by automation_emails.id;

    -- Each member's progress: the step to run next and when. One row per member and automation,
    -- so a member enters an automation once.
    create table automation_members (
      automation_id bigint not null references automations (id) on delete cascade,
      member_id bigint not null references members (id) on delete cascade,
      step_id bigint references automation_steps (id),
      status text not null default 'active' check (status in ('active', 'done', 'exited', 'left')),
      due_at timestamptz not null default now(),
      entered_at timestamptz not null default now(),
      finished_at timestamptz,
      reason text,
      primary key (automation_id, member_id)
    );
    -- The engine's claim: the due rows of active members, earliest first.
    create index automation_members_due_idx on automation_members (due_at) where status = 'active';
    create index automation_members_member_idx on automation_members (member_id) where status = 'active';

    -- A batch of an email step: up to 100 deliveries posted in one request under one key, fixed
    -- when it is made (like send_batches), so a retry after a crash is the same request.
    create table automation_batches (
      id bigserial primary key,
      automation_id bigint not null references automations (id) on delete cascade,
      step_id bigint not null references automation_steps (id) on delete cascade,
      email_id bigint not null references automation_emails (id) on delete cascade,
      -- Fixed with the batch, so every attempt is the same request.
      from_address text not null,
      reply_to text not null,
      track_members boolean not null,
      size int not null,
      status text not null default 'pending' check (status in ('pending', 'posting', 'posted', 'failed')),
      attempts int not null default 0,
      next_attempt_at timestamptz not null default now(),
      lease_until timestamptz,
      claimed_by text,
      error text,
      posted_at timestamptz
    );
    create index automation_batches_open_idx on automation_batches (next_attempt_at) where status in ('pending', 'posting');

    -- One email of a step to one member: the unit of exactly-once. Its key is
    -- automation-<automation>-step-<step>-member-<member>; the primary key makes a second one impossible.
    create table automation_deliveries (
      step_id bigint not null references automation_steps (id) on delete cascade,
      member_id bigint not null references members (id) on delete cascade,
      automation_id bigint not null references automations (id) on delete cascade,
      batch_id bigint not null references automation_batches (id) on delete cascade,
      email_id bigint not null,
      email text not null,
      name text,
      referral_code text,
      -- The post's whole text ('f') or its preview ('p'), for a gated post (content/access.ts).
      variant "char" not null default 'f',
      status text not null default 'queued' check (status in ('queued', 'posted', 'rejected', 'skipped')),
      provider_id text,
      error text,
      created_at timestamptz not null default now(),
      posted_at timestamptz,
      primary key (step_id, member_id)
    );
    create index automation_deliveries_batch_idx on automation_deliveries (batch_id, member_id);
    create index automation_deliveries_email_idx on automation_deliveries (email_id, member_id);

    -- A member's tier before a billing change (domain/billing calls noteTierBefore): the engine
    -- compares it with the tier after the change committed and enters became_paid / paid_ended.
    create table automation_tier_watch (
      id bigserial primary key,
      member_id bigint not null references members (id) on delete cascade,
      tier_before bigint not null,
      created_at timestamptz not null default now()
    );

    -- Who changed what: every create, edit, pause, resume, delete and the global hold.
    create table automation_changes (
      id bigserial primary key,
      automation_id bigint references automations (id) on delete set null,
      staff_user_id bigint references staff_users (id) on delete set null,
      staff_email text,
      action text not null,
      detail jsonb not null default '{}',
      created_at timestamptz not null default now()
    );
    create index automation_changes_automation_idx on automation_changes (automation_id, id);

    -- A member who stops being active (unsubscribed, bounced, complained) leaves every automation
    -- at once, whichever path changed the status: the status column is the one fact they share.
    create function automation_members_leave() returns trigger language plpgsql as $$
    begin
      update automation_members set status = 'left', reason = new.status, finished_at = now()
       where member_id = new.id and status = 'active';
      return null;
    end $$;
    create trigger members_leave_automations after update of status on members
      for each row when (new.status <> 'active' and old.status is distinct from new.status)
      execute function automation_members_leave();
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop trigger if exists members_leave_automations on members;
    drop function if exists automation_members_leave();
    drop table automation_tier_watch, automation_changes, automation_deliveries, automation_batches, automation_members, automation_emails, automation_steps, automations;
  `.execute(db);
}
