//! Refused requests kept for `/api/refusals/`: capped by count (`--max-refusals`) and in bytes
//! (`--max-refusal-bytes`), in memory and in a file alike (they are diagnostics, not captured
//! data).
//!
//! Each refusal holds a reason (bounded by `--max-error-causes` and `--max-error-cause`), the
//! start of the body (`--refused-body-prefix`) and strings taken from the request's head
//! (method, path, client, key, content type and encoding), which the head size alone would let
//! reach 64 KiB each; [`NewRefusal::bounded`] cuts those to [`MAX_REFUSAL_FIELD`] bytes. The
//! count cap alone let 10,000 refusals of about 27 KiB each (270 MB) pile up; the writer
//! therefore also keeps a running total of their bytes and, once an insert takes it past the
//! cap, evicts the oldest refusals. The newest one is never evicted by bytes: a refusal larger
//! than the whole cap is kept alone rather than recorded and dropped at once.
//!
//! As in [`super::byte_cap`], the total is counted the same way on both sides: in Rust from
//! what is inserted ([`refusal_bytes`]), in SQL (`octet_length`) from what is evicted, so the
//! two cannot drift. It is recounted in full only when the store opens, after a flush and after
//! a failed commit. Only refused requests pay for any of this; envelope ingest does not.

use rusqlite::{Connection, params};

use super::NewRefusal;
use crate::error::truncate_text;

/// Longest a refusal's method, path, client, public key, content type or encoding is stored,
/// in bytes (then cut on a character boundary, saying how long it was).
pub const MAX_REFUSAL_FIELD: usize = 2 * 1024;

/// Bytes counted per refusal besides its strings (SQLite's record, its integer columns).
const ROW_OVERHEAD: usize = 128;

/// The bytes one refusal row holds, in SQL over `refusals`: [`ROW_OVERHEAD`] plus each string
/// and the body prefix (`octet_length` counts a text's UTF-8 bytes, as `str::len` does).
const REFUSAL_BYTES: &str = "(128 + octet_length(method) + octet_length(path)
    + octet_length(reason) + COALESCE(octet_length(client), 0)
    + COALESCE(octet_length(public_key), 0) + COALESCE(octet_length(content_type), 0)
    + COALESCE(octet_length(content_encoding), 0) + octet_length(body_prefix))";

/// How many refused requests, and how many of their bytes, are kept.
#[derive(Debug, Clone, Copy)]
pub(super) struct RefusalCaps {
    pub max_count: i64,
    pub max_bytes: i64,
}

impl RefusalCaps {
    pub fn new(max_count: usize, max_bytes: usize) -> Self {
        let cap = |n: usize| i64::try_from(n).unwrap_or(i64::MAX).max(1);
        Self {
            max_count: cap(max_count),
            max_bytes: cap(max_bytes),
        }
    }
}

impl NewRefusal {
    /// This refusal with each string taken from the request's head cut to
    /// [`MAX_REFUSAL_FIELD`] bytes. The reason and the body prefix are bounded by their own
    /// knobs where the refusal is made.
    pub fn bounded(self) -> Self {
        let cut = |text: String| truncate_text(text, MAX_REFUSAL_FIELD);
        Self {
            method: cut(self.method),
            path: cut(self.path),
            client: self.client.map(cut),
            public_key: self.public_key.map(cut),
            content_type: self.content_type.map(cut),
            content_encoding: self.content_encoding.map(cut),
            ..self
        }
    }
}

/// What a refusal about to be inserted adds to the total, as [`total`] would count it.
pub(super) fn refusal_bytes(r: &NewRefusal) -> i64 {
    let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
    let bytes = ROW_OVERHEAD
        + r.method.len()
        + r.path.len()
        + r.reason.len()
        + text(&r.client)
        + text(&r.public_key)
        + text(&r.content_type)
        + text(&r.content_encoding)
        + r.body_prefix.len();
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// Every byte of every refusal kept, counted in full.
pub(super) fn total(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        &format!("SELECT COALESCE(SUM({REFUSAL_BYTES}), 0) FROM refusals"),
        [],
        |r| r.get(0),
    )
}

/// Inserts a refusal, then evicts the oldest ones past `caps`: first by count, then by bytes
/// (never the one just inserted). `stored` is the total before; returns the total after, which
/// the caller keeps only once this has succeeded (it runs in a savepoint).
pub(super) fn insert(
    conn: &Connection,
    r: &NewRefusal,
    caps: RefusalCaps,
    stored: i64,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO refusals (received_at, method, path, project_id, status, reason, client,
         public_key, content_type, content_encoding, body_size, body_prefix)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        r.received_at_ms,
        r.method,
        r.path,
        r.project_id.map(|p| p as i64),
        r.status,
        r.reason,
        r.client,
        r.public_key,
        r.content_type,
        r.content_encoding,
        r.body_size as i64,
        r.body_prefix,
    ])?;
    let newest = conn.last_insert_rowid();
    let mut total = stored.saturating_add(refusal_bytes(r));

    // By count: one row once the table is full (more after opening a file kept with a larger
    // cap).
    let past_count = "id <= ?1 - ?2";
    total -= conn
        .prepare_cached(&format!(
            "SELECT COALESCE(SUM({REFUSAL_BYTES}), 0) FROM refusals WHERE {past_count}"
        ))?
        .query_row([newest, caps.max_count], |row| row.get::<_, i64>(0))?;
    conn.prepare_cached(&format!("DELETE FROM refusals WHERE {past_count}"))?
        .execute([newest, caps.max_count])?;

    // By bytes: the oldest, until enough is freed or only the newest is left.
    if total > caps.max_bytes {
        let excess = total - caps.max_bytes;
        let (mut last, mut freed) = (None, 0i64);
        {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT id, {REFUSAL_BYTES} FROM refusals WHERE id < ?1 ORDER BY id"
            ))?;
            let mut rows = stmt.query([newest])?;
            while freed < excess {
                let Some(row) = rows.next()? else {
                    break;
                };
                last = Some(row.get::<_, i64>(0)?);
                freed += row.get::<_, i64>(1)?;
            }
        }
        if let Some(last) = last {
            conn.prepare_cached("DELETE FROM refusals WHERE id <= ?1")?
                .execute([last])?;
            total -= freed;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::{MAX_REFUSAL_FIELD, refusal_bytes, total};

    fn refusal(n: usize, reason_bytes: usize, prefix_bytes: usize) -> NewRefusal {
        NewRefusal {
            received_at_ms: 1,
            method: "POST".into(),
            path: format!("/api/{n}/envelope/"),
            project_id: Some(n as u64),
            status: 400,
            reason: "r".repeat(reason_bytes),
            client: Some("sentry.rust/1.0".into()),
            public_key: None,
            content_type: Some("application/x-sentry-envelope".into()),
            content_encoding: None,
            body_size: prefix_bytes * 2,
            body_prefix: vec![b'b'; prefix_bytes],
        }
    }

    /// (count, oldest project id kept, bytes kept as SQL counts them)
    fn kept(store: &Store) -> (u64, u64, i64) {
        store
            .read_blocking(|conn| {
                let (count, _) = refusal_counts(conn)?;
                let oldest = list_refusals(conn, usize::MAX)?
                    .last()
                    .and_then(|r| r.project_id)
                    .unwrap_or(0);
                Ok((count, oldest, total(conn)?))
            })
            .expect("read")
    }

    fn memory(max_refusals: usize, max_refusal_bytes: usize) -> Arc<Store> {
        Store::open_capped(
            &Storage::Memory,
            1000,
            max_refusals,
            max_refusal_bytes,
            1 << 20,
            SyncMode::Off,
            usize::MAX,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn rust_and_sql_count_a_refusal_alike() {
        let store = memory(10, usize::MAX);
        let mut odd = refusal(1, 0, 0);
        // Multi-byte text, empty and absent fields, a non-UTF-8 body.
        odd.reason = "é→🦀".into();
        odd.client = None;
        odd.public_key = Some(String::new());
        odd.content_encoding = Some("gzip, 🦀".into());
        odd.body_prefix = vec![0xff, 0, 0xfe];
        let mut expected = 0;
        for r in [refusal(2, 3000, 4096), odd] {
            expected += refusal_bytes(&r);
            store.refuse(r).await.unwrap();
            assert_eq!(kept(&store).2, expected);
        }
    }

    #[tokio::test]
    async fn the_oldest_refusals_go_once_the_bytes_pass_the_cap() {
        // Each refusal counts about 12 KiB: the cap holds three.
        let size = refusal_bytes(&refusal(0, 8 * 1024, 4 * 1024));
        let cap = 3 * size as usize + 100;
        let store = memory(10_000, cap);
        for n in 0..20 {
            store.refuse(refusal(n, 8 * 1024, 4 * 1024)).await.unwrap();
            let (count, oldest, bytes) = kept(&store);
            assert!(bytes <= cap as i64, "{bytes} bytes kept after {n}");
            assert_eq!(count, (n as u64 + 1).min(3), "after {n}");
            assert_eq!(oldest, (n as u64).saturating_sub(2), "the newest stay");
        }
        // One refusal larger than the whole cap is kept alone.
        store.refuse(refusal(99, 64 * 1024, 0)).await.unwrap();
        let (count, oldest, _) = kept(&store);
        assert_eq!((count, oldest), (1, 99));
        // And goes when the next one arrives.
        store.refuse(refusal(100, 10, 10)).await.unwrap();
        let (count, oldest, _) = kept(&store);
        assert_eq!((count, oldest), (1, 100));
    }

    #[tokio::test]
    async fn count_eviction_flush_and_reopening_keep_the_total_right() {
        let dir = std::env::temp_dir().join(format!("fake-sentry-refusals-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let storage = Storage::File(dir.join("refusals.sqlite"));
        let size = refusal_bytes(&refusal(0, 1000, 1000));
        // The count cap keeps two and the byte cap holds two: were the bytes of count-evicted
        // rows not taken off the total, the byte cap would evict one more.
        let open = |max_refusals| {
            Store::open_capped(
                &storage,
                1000,
                max_refusals,
                2 * size as usize,
                1 << 20,
                SyncMode::Off,
                usize::MAX,
            )
            .unwrap()
        };
        let store = open(2);
        for n in 0..5 {
            store.refuse(refusal(n, 1000, 1000)).await.unwrap();
            let (count, _, bytes) = kept(&store);
            assert_eq!(count, (n as u64 + 1).min(2), "after {n}");
            assert_eq!(bytes, size * count as i64);
        }
        // A project's flush keeps refusals; a full one drops them and resets the total.
        store.flush(Some(3)).await.unwrap();
        assert_eq!(kept(&store).0, 2);
        store.flush(None).await.unwrap();
        assert_eq!(kept(&store), (0, 0, 0));
        for n in 0..2 {
            store.refuse(refusal(n, 1000, 1000)).await.unwrap();
        }
        assert_eq!(kept(&store).0, 2, "the flush reset the total");
        drop(store);

        // Reopened with room for more by count, the file's refusals are counted again: one
        // more passes the byte cap and evicts the oldest (had the total started from zero,
        // three would be kept).
        let store = open(10);
        assert_eq!(kept(&store).2, 2 * size);
        store.refuse(refusal(7, 1000, 1000)).await.unwrap();
        let (count, oldest, bytes) = kept(&store);
        assert_eq!((count, oldest, bytes), (2, 1, 2 * size));
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn strings_from_the_head_are_cut_and_say_so() {
        let store = memory(10, usize::MAX);
        let long = "p".repeat(64 * 1024);
        let mut r = refusal(1, 10, 10);
        r.path = format!("/{long}");
        r.client = Some(long.clone());
        r.public_key = Some(long.clone());
        r.content_type = Some(format!("é{long}"));
        r.content_encoding = Some(long.clone());
        r.method = long.clone();
        store.refuse(r).await.unwrap();
        let stored = store
            .read_blocking(|conn| list_refusals(conn, 1))
            .unwrap()
            .remove(0);
        for field in [
            &stored.method,
            &stored.path,
            stored.client.as_ref().unwrap(),
            stored.public_key.as_ref().unwrap(),
            stored.content_type.as_ref().unwrap(),
            stored.content_encoding.as_ref().unwrap(),
        ] {
            assert!(
                field.len() < MAX_REFUSAL_FIELD + 64,
                "{} bytes",
                field.len()
            );
            assert!(
                field.ends_with("bytes in all)"),
                "{}",
                &field[field.len() - 40..]
            );
        }
        assert_eq!(
            stored.reason,
            "r".repeat(10),
            "short strings stay as they are"
        );
    }
}
