// Version 2 of the search index. Like every migration, frozen once released.
//
// Filters: 0001 indexed the filter values (cell_id, workspace_id, cell_type, kind) as text, so
// unicode61 split `ws_01jd…` into `ws` + `01jd…` and folded case. `ws` and `cell` were tokens of
// every document, so a filter read the doclist of the whole index; kinds and cell types shared
// theirs with the same words in bodies (`text`, `tool`, `planning`); and `cell_ABC` matched
// `cell_abc`. Now every filter value is one token in the indexed column `filters`: a letter for
// the field (k kind, c cell, w workspace, t cell type), then the value's UTF-8 bytes in lower-case
// hex (`hex()` renders a text's bytes in the database's encoding, UTF-8 in every Hive database).
// Hex survives the tokenizer whole and case folding cannot merge two values, so a filter's
// doclist is the documents it selects (and a body word spelled like a token would cost a skipped
// entry, never a wrong hit: filters stay column filters). The values themselves stay readable in
// UNINDEXED columns. `kind` stays indexed as in 0001 for queries written against it
// (`kind : "cell"`); new queries filter through `filters`.
//
// Triggers: 0001 re-indexed a part only when its text changed, so a part whose type changed kept
// its old kind. Each update trigger now follows every column its document is made of, and moving
// a message to another session, or a session to another cell, re-indexes their parts. (A cell's
// workspace and type stay fixed by 0001's cells_fixed_columns; an id that children reference
// cannot change while foreign keys are on.)
//
// The index is rebuilt from the source tables; down rebuilds 0001's exactly.
// biome-ignore-all lint/suspicious/noExplicitAny: migrations run against whatever schema exists.
import { type Kysely, sql } from 'kysely'

const TRIGGERS_V1 = ['cells', 'plans', 'parts', 'artifacts'].flatMap((table) =>
  ['insert', 'update', 'delete'].map((event) => `${table}_search_${event}`),
)
const TRIGGERS_V2 = [...TRIGGERS_V1, 'messages_search_move', 'sessions_search_move']

// ---- version 2 ----

const COLUMNS =
  'rowid, title, body, kind, filters, cell_id, workspace_id, cell_type, session_id, ref_id, created_at'

/** The `filters` text of a document, from SQL expressions for its kind, cell, workspace and cell type. */
const filters = (kind: string, cell: string, workspace: string, cellType: string) =>
  `'k' || lower(hex(${kind})) || ' c' || lower(hex(${cell})) || ' w' || lower(hex(${workspace})) || ' t' || lower(hex(${cellType}))`

/** A part's kind: its type for text, reasoning and tool, `other` for the rest. */
const partKind = (part: string) =>
  `CASE WHEN ${part}.type IN ('text', 'reasoning', 'tool') THEN ${part}.type ELSE 'other' END`

// The documents of each source row, as a SELECT list; `c` is the row's cell.
const cellDocument = (r: string) =>
  `${r}.rid * 8 + 1, ${r}.name, ${r}.description, 'cell', ${filters("'cell'", `${r}.id`, `${r}.workspace_id`, `${r}.type`)},
      ${r}.id, ${r}.workspace_id, ${r}.type, NULL, ${r}.id, ${r}.created_at`
const planDocument = (r: string) =>
  `${r}.rid * 8 + 2, 'Plan v' || ${r}.version, ${r}.content, 'plan', ${filters("'plan'", 'c.id', 'c.workspace_id', 'c.type')},
      c.id, c.workspace_id, c.type, NULL, ${r}.id, ${r}.created_at`
const partDocument = (r: string, session: string) =>
  `${r}.rid * 8 + 3, NULL, ${r}.text, ${partKind(r)}, ${filters(partKind(r), 'c.id', 'c.workspace_id', 'c.type')},
      c.id, c.workspace_id, c.type, ${session}, ${r}.id, ${r}.created_at`
const artifactDocument = (r: string) =>
  `${r}.rid * 8 + 4, ${r}.name, ${r}.summary, 'artifact', ${filters("'artifact'", 'c.id', 'c.workspace_id', 'c.type')},
      c.id, c.workspace_id, c.type, ${r}.session_id, ${r}.id, ${r}.created_at`
const HAS_TEXT = (part: string) => `${part}.text IS NOT NULL AND ${part}.text <> ''`

const UP = [
  ...TRIGGERS_V1.map((name) => `DROP TRIGGER ${name}`),
  'DROP TABLE search',
  `CREATE VIRTUAL TABLE search USING fts5 (
    title, body, kind, filters,
    cell_id UNINDEXED, workspace_id UNINDEXED, cell_type UNINDEXED,
    session_id UNINDEXED, ref_id UNINDEXED, created_at UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
  )`,

  // In rowid order per source: FTS5 flushes its pending terms whenever a rowid goes backwards.
  `INSERT INTO search (${COLUMNS})
   SELECT ${cellDocument('r')}
   FROM cells r ORDER BY r.rid`,
  `INSERT INTO search (${COLUMNS})
   SELECT ${planDocument('r')}
   FROM plans r JOIN cells c ON c.id = r.cell_id ORDER BY r.rid`,
  `INSERT INTO search (${COLUMNS})
   SELECT ${partDocument('r', 's.id')}
   FROM parts r JOIN messages m ON m.id = r.message_id JOIN sessions s ON s.id = m.session_id
     JOIN cells c ON c.id = s.cell_id
   WHERE ${HAS_TEXT('r')} ORDER BY r.rid`,
  `INSERT INTO search (${COLUMNS})
   SELECT ${artifactDocument('r')}
   FROM artifacts r JOIN cells c ON c.id = r.cell_id ORDER BY r.rid`,
  `INSERT INTO search (search) VALUES ('optimize')`,

  // Insert triggers clear their rowid first, as in 0001 (REPLACE without recursive_triggers).
  `CREATE TRIGGER cells_search_insert AFTER INSERT ON cells BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 1;
    INSERT INTO search (${COLUMNS}) SELECT ${cellDocument('new')};
  END`,
  `CREATE TRIGGER cells_search_update AFTER UPDATE OF rid, id, name, description, created_at ON cells
   WHEN new.rid IS NOT old.rid OR new.id IS NOT old.id OR new.name IS NOT old.name
     OR new.description IS NOT old.description OR new.created_at IS NOT old.created_at BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 1;
    INSERT INTO search (${COLUMNS}) SELECT ${cellDocument('new')};
  END`,
  `CREATE TRIGGER cells_search_delete AFTER DELETE ON cells BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 1;
  END`,

  `CREATE TRIGGER plans_search_insert AFTER INSERT ON plans BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 2;
    INSERT INTO search (${COLUMNS})
    SELECT ${planDocument('new')}
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER plans_search_update AFTER UPDATE OF rid, id, cell_id, version, content, created_at ON plans
   WHEN new.rid IS NOT old.rid OR new.id IS NOT old.id OR new.cell_id IS NOT old.cell_id
     OR new.version IS NOT old.version OR new.content IS NOT old.content
     OR new.created_at IS NOT old.created_at BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 2;
    INSERT INTO search (${COLUMNS})
    SELECT ${planDocument('new')}
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER plans_search_delete AFTER DELETE ON plans BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 2;
  END`,

  `CREATE TRIGGER parts_search_insert AFTER INSERT ON parts WHEN ${HAS_TEXT('new')} BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 3;
    INSERT INTO search (${COLUMNS})
    SELECT ${partDocument('new', 's.id')}
    FROM messages m JOIN sessions s ON s.id = m.session_id JOIN cells c ON c.id = s.cell_id
    WHERE m.id = new.message_id;
  END`,
  `CREATE TRIGGER parts_search_update AFTER UPDATE OF rid, id, message_id, type, text, created_at ON parts
   WHEN new.rid IS NOT old.rid OR new.id IS NOT old.id OR new.message_id IS NOT old.message_id
     OR new.type IS NOT old.type OR new.text IS NOT old.text OR new.created_at IS NOT old.created_at BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 3;
    INSERT INTO search (${COLUMNS})
    SELECT ${partDocument('new', 's.id')}
    FROM messages m JOIN sessions s ON s.id = m.session_id JOIN cells c ON c.id = s.cell_id
    WHERE m.id = new.message_id AND ${HAS_TEXT('new')};
  END`,
  `CREATE TRIGGER parts_search_delete AFTER DELETE ON parts WHEN ${HAS_TEXT('old')} BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 3;
  END`,

  `CREATE TRIGGER artifacts_search_insert AFTER INSERT ON artifacts BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 4;
    INSERT INTO search (${COLUMNS})
    SELECT ${artifactDocument('new')}
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER artifacts_search_update
   AFTER UPDATE OF rid, id, cell_id, session_id, name, summary, created_at ON artifacts
   WHEN new.rid IS NOT old.rid OR new.id IS NOT old.id OR new.cell_id IS NOT old.cell_id
     OR new.session_id IS NOT old.session_id OR new.name IS NOT old.name
     OR new.summary IS NOT old.summary OR new.created_at IS NOT old.created_at BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 4;
    INSERT INTO search (${COLUMNS})
    SELECT ${artifactDocument('new')}
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER artifacts_search_delete AFTER DELETE ON artifacts BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 4;
  END`,

  // A part's document also holds its message's session and that session's cell.
  `CREATE TRIGGER messages_search_move AFTER UPDATE OF session_id ON messages
   WHEN new.session_id IS NOT old.session_id BEGIN
    DELETE FROM search WHERE rowid IN (SELECT r.rid * 8 + 3 FROM parts r WHERE r.message_id = new.id);
    INSERT INTO search (${COLUMNS})
    SELECT ${partDocument('r', 's.id')}
    FROM parts r JOIN sessions s ON s.id = new.session_id JOIN cells c ON c.id = s.cell_id
    WHERE r.message_id = new.id AND ${HAS_TEXT('r')};
  END`,
  `CREATE TRIGGER sessions_search_move AFTER UPDATE OF cell_id ON sessions
   WHEN new.cell_id IS NOT old.cell_id BEGIN
    DELETE FROM search WHERE rowid IN (
      SELECT r.rid * 8 + 3 FROM messages m JOIN parts r ON r.message_id = m.id WHERE m.session_id = new.id
    );
    INSERT INTO search (${COLUMNS})
    SELECT ${partDocument('r', 'new.id')}
    FROM messages m JOIN parts r ON r.message_id = m.id JOIN cells c ON c.id = new.cell_id
    WHERE m.session_id = new.id AND ${HAS_TEXT('r')};
  END`,
]

// ---- version 1, exactly as 0001 created it ----

const SEARCH_COLUMNS =
  'rowid, title, body, kind, cell_id, workspace_id, cell_type, session_id, ref_id, created_at'

const DOWN = [
  ...TRIGGERS_V2.map((name) => `DROP TRIGGER ${name}`),
  'DROP TABLE search',
  `CREATE VIRTUAL TABLE search USING fts5 (
    title, body, kind, cell_id, workspace_id, cell_type,
    session_id UNINDEXED, ref_id UNINDEXED, created_at UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
  )`,

  `INSERT INTO search (${SEARCH_COLUMNS})
   SELECT r.rid * 8 + 1, r.name, r.description, 'cell', r.id, r.workspace_id, r.type, NULL, r.id, r.created_at
   FROM cells r ORDER BY r.rid`,
  `INSERT INTO search (${SEARCH_COLUMNS})
   SELECT r.rid * 8 + 2, 'Plan v' || r.version, r.content, 'plan', c.id, c.workspace_id, c.type, NULL, r.id, r.created_at
   FROM plans r JOIN cells c ON c.id = r.cell_id ORDER BY r.rid`,
  `INSERT INTO search (${SEARCH_COLUMNS})
   SELECT r.rid * 8 + 3, NULL, r.text,
     CASE WHEN r.type IN ('text', 'reasoning', 'tool') THEN r.type ELSE 'other' END,
     c.id, c.workspace_id, c.type, s.id, r.id, r.created_at
   FROM parts r JOIN messages m ON m.id = r.message_id JOIN sessions s ON s.id = m.session_id
     JOIN cells c ON c.id = s.cell_id
   WHERE r.text IS NOT NULL AND r.text <> '' ORDER BY r.rid`,
  `INSERT INTO search (${SEARCH_COLUMNS})
   SELECT r.rid * 8 + 4, r.name, r.summary, 'artifact', c.id, c.workspace_id, c.type, r.session_id, r.id, r.created_at
   FROM artifacts r JOIN cells c ON c.id = r.cell_id ORDER BY r.rid`,
  `INSERT INTO search (search) VALUES ('optimize')`,

  `CREATE TRIGGER cells_search_insert AFTER INSERT ON cells BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 1;
    INSERT INTO search (${SEARCH_COLUMNS})
    VALUES (new.rid * 8 + 1, new.name, new.description, 'cell', new.id, new.workspace_id, new.type, NULL, new.id, new.created_at);
  END`,
  `CREATE TRIGGER cells_search_update AFTER UPDATE OF name, description ON cells
   WHEN new.name IS NOT old.name OR new.description IS NOT old.description BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 1;
    INSERT INTO search (${SEARCH_COLUMNS})
    VALUES (new.rid * 8 + 1, new.name, new.description, 'cell', new.id, new.workspace_id, new.type, NULL, new.id, new.created_at);
  END`,
  `CREATE TRIGGER cells_search_delete AFTER DELETE ON cells BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 1;
  END`,

  `CREATE TRIGGER plans_search_insert AFTER INSERT ON plans BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 2;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 2, 'Plan v' || new.version, new.content, 'plan', c.id, c.workspace_id, c.type, NULL, new.id, new.created_at
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER plans_search_update AFTER UPDATE OF content, version ON plans
   WHEN new.content IS NOT old.content OR new.version IS NOT old.version BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 2;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 2, 'Plan v' || new.version, new.content, 'plan', c.id, c.workspace_id, c.type, NULL, new.id, new.created_at
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER plans_search_delete AFTER DELETE ON plans BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 2;
  END`,

  `CREATE TRIGGER parts_search_insert AFTER INSERT ON parts WHEN new.text IS NOT NULL AND new.text <> '' BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 3;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 3, NULL, new.text,
      CASE WHEN new.type IN ('text', 'reasoning', 'tool') THEN new.type ELSE 'other' END,
      c.id, c.workspace_id, c.type, s.id, new.id, new.created_at
    FROM messages m JOIN sessions s ON s.id = m.session_id JOIN cells c ON c.id = s.cell_id
    WHERE m.id = new.message_id;
  END`,
  `CREATE TRIGGER parts_search_update AFTER UPDATE OF text ON parts WHEN new.text IS NOT old.text BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 3;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 3, NULL, new.text,
      CASE WHEN new.type IN ('text', 'reasoning', 'tool') THEN new.type ELSE 'other' END,
      c.id, c.workspace_id, c.type, s.id, new.id, new.created_at
    FROM messages m JOIN sessions s ON s.id = m.session_id JOIN cells c ON c.id = s.cell_id
    WHERE m.id = new.message_id AND new.text IS NOT NULL AND new.text <> '';
  END`,
  `CREATE TRIGGER parts_search_delete AFTER DELETE ON parts WHEN old.text IS NOT NULL AND old.text <> '' BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 3;
  END`,

  `CREATE TRIGGER artifacts_search_insert AFTER INSERT ON artifacts BEGIN
    DELETE FROM search WHERE rowid = new.rid * 8 + 4;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 4, new.name, new.summary, 'artifact', c.id, c.workspace_id, c.type, new.session_id, new.id, new.created_at
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER artifacts_search_update AFTER UPDATE OF name, summary, session_id ON artifacts
   WHEN new.name IS NOT old.name OR new.summary IS NOT old.summary OR new.session_id IS NOT old.session_id BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 4;
    INSERT INTO search (${SEARCH_COLUMNS})
    SELECT new.rid * 8 + 4, new.name, new.summary, 'artifact', c.id, c.workspace_id, c.type, new.session_id, new.id, new.created_at
    FROM cells c WHERE c.id = new.cell_id;
  END`,
  `CREATE TRIGGER artifacts_search_delete AFTER DELETE ON artifacts BEGIN
    DELETE FROM search WHERE rowid = old.rid * 8 + 4;
  END`,
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of UP) await sql.raw(statement).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const statement of DOWN) await sql.raw(statement).execute(db)
}
