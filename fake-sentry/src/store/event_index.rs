//! Where the items with a given Sentry event id are, kept in memory instead of in a SQLite index.
//!
//! Event ids are random UUIDs, so a SQLite index on them takes each insert to a random leaf:
//! on a file every commit rewrote one index page per envelope, as many WAL bytes as the
//! payloads themselves (the file-backed storage stage ran 28-76% faster and the whole server
//! 25-35% faster without that index, measured side by side). This map holds a 64-bit hash of
//! each item's event id with its `seq`, about 40 bytes an item. It is rebuilt at start from
//! `items_seq_event`, an index on `(seq, event_id)` that only ever grows at its end, and the
//! writer keeps it in step: additions go in before their transaction commits, removals after,
//! so the map always covers every committed item. Queries reach it through the SQL function
//! `event_seqs(event_id)`, registered on every connection, and recheck `event_id = ?` on the
//! rows it names, so a hash collision or a not yet committed row only costs a lookup.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, RwLock};

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

/// The SQL function that lists the candidate `seq`s of an event id as a JSON array.
pub const SQL_FUNCTION: &str = "event_seqs";

/// The hash of each stored item's event id, with the item's `seq`.
#[derive(Debug, Default)]
pub struct EventIndex {
    entries: RwLock<BTreeSet<(u64, i64)>>,
}

/// One change a transaction made to the items with event ids.
#[derive(Debug, Clone, Copy)]
enum Change {
    Add(u64, i64),
    Remove(u64, i64),
    /// Every item went (a flush of all projects).
    Clear,
}

/// What one transaction did to the items with event ids, in the order it did it (a `seq` can
/// come back after the items with the highest ones were deleted).
#[derive(Debug, Default)]
pub struct IndexChanges {
    changes: Vec<Change>,
}

impl IndexChanges {
    pub fn add(&mut self, event_id: &str, seq: i64) {
        self.changes.push(Change::Add(key(event_id), seq));
    }

    /// Records the removal of the items `rows` yields as `(seq, event_id)`.
    pub fn remove_rows(
        &mut self,
        rows: impl Iterator<Item = rusqlite::Result<(i64, String)>>,
    ) -> rusqlite::Result<()> {
        for row in rows {
            let (seq, event_id) = row?;
            self.changes.push(Change::Remove(key(&event_id), seq));
        }
        Ok(())
    }

    pub fn clear(&mut self) {
        self.changes.push(Change::Clear);
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// How many changes are recorded, for [`IndexChanges::truncate`].
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Forgets the changes recorded after the first `len` (those of a write whose savepoint
    /// was rolled back).
    pub fn truncate(&mut self, len: usize) {
        self.changes.truncate(len);
    }
}

/// The map key of an event id. The map lives as long as the process, so the hash only needs
/// to be stable within it.
fn key(event_id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    event_id.hash(&mut hasher);
    hasher.finish()
}

impl EventIndex {
    /// Reads every stored item's event id (from the `(seq, event_id)` index, not the table).
    pub fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let mut entries = BTreeSet::new();
        let mut stmt = conn.prepare(
            "SELECT seq, event_id FROM items INDEXED BY items_seq_event WHERE event_id IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (seq, event_id) = row?;
            entries.insert((key(&event_id), seq));
        }
        Ok(Self {
            entries: RwLock::new(entries),
        })
    }

    /// The `seq`s of the items that may have `event_id`, oldest first.
    pub fn candidates(&self, event_id: &str) -> Vec<i64> {
        let k = key(event_id);
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .range((k, i64::MIN)..=(k, i64::MAX))
            .map(|&(_, seq)| seq)
            .collect()
    }

    /// Takes in the additions of a transaction about to commit, so that its items can be
    /// found the moment it has; returns the entries that were new, for [`EventIndex::undo`].
    pub fn publish_additions(&self, changes: &IndexChanges) -> Vec<(u64, i64)> {
        let mut inserted = Vec::new();
        let mut entries = None;
        for change in &changes.changes {
            if let Change::Add(k, seq) = *change {
                let entries = entries
                    .get_or_insert_with(|| self.entries.write().unwrap_or_else(|e| e.into_inner()));
                if entries.insert((k, seq)) {
                    inserted.push((k, seq));
                }
            }
        }
        inserted
    }

    /// Brings the map to what a committed transaction left: its changes replayed in order.
    pub fn commit(&self, changes: &IndexChanges) {
        if changes.is_empty() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        for change in &changes.changes {
            match *change {
                Change::Add(k, seq) => {
                    entries.insert((k, seq));
                }
                Change::Remove(k, seq) => {
                    entries.remove(&(k, seq));
                }
                Change::Clear => entries.clear(),
            }
        }
    }

    /// Takes back what [`EventIndex::publish_additions`] put in for a transaction that failed.
    pub fn undo(&self, inserted: &[(u64, i64)]) {
        if inserted.is_empty() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        for entry in inserted {
            entries.remove(entry);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes `event_seqs(event_id)` available on `conn`: the JSON array of the candidate
    /// `seq`s, for `seq IN (SELECT value FROM json_each(event_seqs(?)))`.
    pub fn register(self: &Arc<Self>, conn: &Connection) -> rusqlite::Result<()> {
        let index = self.clone();
        conn.create_scalar_function(SQL_FUNCTION, 1, FunctionFlags::SQLITE_UTF8, move |ctx| {
            let event_id: Option<String> = ctx.get(0)?;
            let seqs = event_id.map(|id| index.candidates(&id)).unwrap_or_default();
            let mut json = String::with_capacity(2 + seqs.len() * 8);
            json.push('[');
            for (n, seq) in seqs.iter().enumerate() {
                if n > 0 {
                    json.push(',');
                }
                json.push_str(&seq.to_string());
            }
            json.push(']');
            Ok(json)
        })
    }
}

/// The SQL condition "the item's event id is the text bound at `placeholder`", answered from
/// the map (the `event_id` comparison rechecks what the hash found).
pub fn sql_condition(placeholder: &str) -> String {
    format!(
        "(seq IN (SELECT value FROM json_each({SQL_FUNCTION}({placeholder}))) AND event_id = {placeholder})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_with(entries: &[(&str, i64)]) -> EventIndex {
        let index = EventIndex::default();
        let mut changes = IndexChanges::default();
        for (id, seq) in entries {
            changes.add(id, *seq);
        }
        index.publish_additions(&changes);
        index.commit(&changes);
        index
    }

    fn removal(rows: &[(i64, &str)]) -> IndexChanges {
        let mut changes = IndexChanges::default();
        changes
            .remove_rows(rows.iter().map(|(seq, id)| Ok((*seq, id.to_string()))))
            .unwrap();
        changes
    }

    #[test]
    fn candidates_are_the_seqs_of_one_event_id() {
        let index = index_with(&[("a", 1), ("b", 2), ("a", 3)]);
        assert_eq!(index.candidates("a"), vec![1, 3]);
        assert_eq!(index.candidates("b"), vec![2]);
        assert!(index.candidates("c").is_empty());
    }

    #[test]
    fn additions_show_before_the_commit_and_removals_after_it() {
        let index = index_with(&[("a", 1), ("b", 2)]);
        let mut changes = removal(&[(1, "a")]);
        changes.add("c", 3);
        index.publish_additions(&changes);
        assert_eq!(
            index.candidates("a"),
            vec![1],
            "removed only once committed"
        );
        assert_eq!(index.candidates("c"), vec![3], "added before the commit");
        index.commit(&changes);
        assert!(index.candidates("a").is_empty());
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn a_failed_transaction_takes_back_only_what_it_added() {
        let index = index_with(&[("a", 1)]);
        // The transaction deletes item 1 and stores the same event again under the same seq.
        let mut changes = removal(&[(1, "a")]);
        changes.add("a", 1);
        changes.add("b", 2);
        let inserted = index.publish_additions(&changes);
        index.undo(&inserted);
        assert_eq!(index.candidates("a"), vec![1], "item 1 was never deleted");
        assert!(index.candidates("b").is_empty());
    }

    #[test]
    fn changes_replay_in_order() {
        let index = index_with(&[("a", 1), ("b", 2)]);
        let mut changes = IndexChanges::default();
        changes.add("c", 3);
        changes.clear();
        changes.add("a", 1);
        changes
            .remove_rows([Ok((9, "x".to_string()))].into_iter())
            .unwrap();
        index.publish_additions(&changes);
        index.commit(&changes);
        assert_eq!(index.candidates("a"), vec![1]);
        assert!(index.candidates("b").is_empty());
        assert!(index.candidates("c").is_empty(), "added before the flush");
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn the_sql_function_lists_candidates_as_json() {
        let index = Arc::new(index_with(&[("a", 1), ("a", 7)]));
        let conn = Connection::open_in_memory().unwrap();
        index.register(&conn).unwrap();
        let listed: String = conn
            .query_row("SELECT event_seqs('a')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(listed, "[1,7]");
        let none: String = conn
            .query_row("SELECT event_seqs(NULL)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(none, "[]");
    }
}
