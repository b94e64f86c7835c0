/** The repository's migrations, in order: what a fresh database applies (one list for every test that names them). */
export const MIGRATIONS = [
  '001_queue',
  '002_dead_letter_index',
  '003_drain_activity',
  '004_payload_parts',
  '005_dead_letter_key',
  '006_groups_and_permits',
  '007_group_leases',
  '008_recurring_purges',
  '009_wake_at',
  '010_trace_context',
  '011_message_outputs',
  '012_cancel_requests',
  '013_group_limits',
  '014_fair_rounds',
] as const;
