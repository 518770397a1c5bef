import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A label added to a member enters them into the live or paused label_added automations for
    -- that label, whichever path added it: the staff API and admin, a bulk action, an import (bulk
    -- or not), an automation's own label step. One statement-level trigger on the one table they
    -- share, so no path can forget it and none can fire it twice: the transition table holds only
    -- the rows the statement really inserted (ON CONFLICT DO NOTHING leaves out a label the member
    -- already had), and automation_members' primary key takes a member into an automation once.
    -- Only active members enter; the first step's counter moves in the same statement.
    create function automation_members_label_added() returns trigger language plpgsql as $$
    begin
      -- Most sites have no label automation: one probe, then nothing.
      if not exists (select 1 from automations where trigger_type = 'label_added' and status in ('live', 'paused')) then
        return null;
      end if;
      with ins as (
        insert into automation_members (automation_id, member_id, step_id, due_at)
        select a.id, n.member_id, s.id, now()
          from added n
          join labels l on l.id = n.label_id
          join automations a on a.trigger_type = 'label_added' and a.status in ('live', 'paused')
                            and lower(a.trigger ->> 'label') = lower(l.name)
          join automation_steps s on s.automation_id = a.id and s.position = 1
          join members m on m.id = n.member_id and m.status = 'active'
        on conflict do nothing
        returning step_id
      )
      update automation_steps s set entered = s.entered + c.n
        from (select step_id, count(*)::int as n from ins group by step_id) c
       where s.id = c.step_id;
      return null;
    end $$;
    create trigger member_labels_enter_automations after insert on member_labels
      referencing new table as added
      for each statement execute function automation_members_label_added();
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop trigger if exists member_labels_enter_automations on member_labels;
    drop function if exists automation_members_label_added();
  `.execute(db);
}
