// Artifacts owned by transcript rows. Like every migration, frozen once released.
//
// A part or a message whose content is too large to keep inline keeps a preview, and the rest
// goes to an artifact the row names (`parts.artifact_id`, since 0001; `messages.artifact_id`,
// new). Such an artifact belongs to its row: when the row names another artifact or none, or is
// deleted, the artifact it named goes too (its content is then unreferenced, for gc). 0001 left
// them behind.
// biome-ignore-all lint/suspicious/noExplicitAny: migrations run against whatever schema exists.
import { type Kysely, sql } from 'kysely'

const release = (table: 'parts' | 'messages') => [
  `CREATE TRIGGER ${table}_artifact_replaced AFTER UPDATE OF artifact_id ON ${table}
    WHEN old.artifact_id IS NOT NULL AND old.artifact_id IS NOT new.artifact_id BEGIN
    DELETE FROM artifacts WHERE id = old.artifact_id;
  END`,
  `CREATE TRIGGER ${table}_artifact_deleted AFTER DELETE ON ${table}
    WHEN old.artifact_id IS NOT NULL BEGIN
    DELETE FROM artifacts WHERE id = old.artifact_id;
  END`,
]

const UP = [
  'ALTER TABLE messages ADD COLUMN artifact_id TEXT REFERENCES artifacts (id) ON DELETE SET NULL',
  // Deleting an artifact looks for the rows that name it: without this, a scan of all messages.
  'CREATE INDEX messages_artifact ON messages (artifact_id) WHERE artifact_id IS NOT NULL',
  ...release('parts'),
  ...release('messages'),
]

const DOWN = [
  'DROP TRIGGER messages_artifact_deleted',
  'DROP TRIGGER messages_artifact_replaced',
  'DROP TRIGGER parts_artifact_deleted',
  'DROP TRIGGER parts_artifact_replaced',
  'DROP INDEX messages_artifact',
  'ALTER TABLE messages DROP COLUMN artifact_id',
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of UP) await sql.raw(statement).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const statement of DOWN) await sql.raw(statement).execute(db)
}
