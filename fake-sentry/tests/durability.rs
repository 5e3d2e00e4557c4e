//! Durability and retention: an envelope acknowledged with a 200 survives `kill -9` of the real
//! binary (the answer comes only after the SQLite commit), nothing unacknowledged appears, and
//! `max_items` keeps exactly the newest items, also once a file restarted with a lower cap has
//! caught up.

mod support;

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use fake_sentry::Config;
use fake_sentry::config::{Storage, SyncMode};
use fake_sentry::testing::FakeSentry;
use serde_json::{Value, json};
use support::binary::Binary;
use support::http::{Reply, get_json, items_with_event_id, send};
use support::{event_envelope, new_event_id};

async fn post_envelope(addr: SocketAddr, project: u64, body: &[u8]) -> Reply {
    let target = format!("/api/{project}/envelope/");
    send(
        addr,
        "POST",
        &target,
        &[("Content-Type", "application/x-sentry-envelope")],
        body,
    )
    .await
}

/// Event ids of every stored item, oldest first (at most 1000).
async fn stored_event_ids(addr: SocketAddr) -> Vec<String> {
    let list = get_json(addr, "/api/items/?order=asc&limit=1000").await;
    assert_eq!(
        list["next_cursor"],
        Value::Null,
        "more than one page stored"
    );
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items list without items: {list}"))
        .iter()
        .map(|i| i["event_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A directory under the system temp dir, removed when dropped (also when a test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "fake-sentry-{label}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every sync mode keeps what was acknowledged when the process is killed, also while the
/// WAL is being checkpointed and rewound many times over (the 64 KiB limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_envelopes_survive_kill_9() {
    for (sync, max_wal) in [("off", "256MiB"), ("off", "64KiB"), ("normal", "64KiB")] {
        survive_kill_9(sync, max_wal).await;
    }
}

async fn survive_kill_9(sync: &str, max_wal: &str) {
    const TASKS: usize = 10;
    const PER_TASK: usize = 30;
    let dir = TempDir::new("durability");
    let db = dir.path().join("x.sqlite");
    let args = [
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("--sync"),
        OsStr::new(sync),
        OsStr::new("--max-wal"),
        OsStr::new(max_wal),
    ];

    let first = Binary::start(args).await;
    let addr = first.addr;
    let senders: Vec<_> = (0..TASKS)
        .map(|task| {
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let mut refused = Vec::new();
                for n in 0..PER_TASK {
                    let id = new_event_id();
                    let reply = post_envelope(
                        addr,
                        1 + (task % 3) as u64,
                        &event_envelope(&id, &format!("task {task} envelope {n}")),
                    )
                    .await;
                    if reply.status == 200 {
                        assert_eq!(reply.header("content-type"), Some("application/json"));
                        assert_eq!(reply.json(), json!({"id": id}), "answer names the event");
                        acknowledged.push(id);
                    } else {
                        refused.push((reply.status, reply.text()));
                    }
                }
                (acknowledged, refused)
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    for sender in senders {
        let (acked, failed) = sender.await.expect("sender task");
        acknowledged.extend(acked);
        refused.extend(failed);
    }
    // Killed at once after the last 200: whatever was acknowledged must already be on disk.
    let stderr = first.stderr();
    first.kill_9().await;
    assert!(
        refused.is_empty(),
        "sync {sync}, max WAL {max_wal}: a healthy server refused envelopes: {refused:?}; stderr: {stderr}"
    );
    assert_eq!(acknowledged.len(), TASKS * PER_TASK);

    let second = Binary::start(args).await;
    let addr = second.addr;
    for id in &acknowledged {
        let items = items_with_event_id(addr, id).await;
        assert_eq!(
            items.len(),
            1,
            "sync {sync}, max WAL {max_wal}: acknowledged event {id} lost after kill -9; stderr: {}",
            second.stderr()
        );
        assert_eq!(items[0]["type"], json!("event"));
    }
    let mut stored = stored_event_ids(addr).await;
    let mut expected = acknowledged.clone();
    stored.sort();
    expected.sort();
    assert_eq!(
        stored, expected,
        "exactly the acknowledged events are stored"
    );
    let stats = get_json(addr, "/api/stats/").await;
    assert_eq!(stats["items"], json!(acknowledged.len()), "{stats}");

    // The reopened database takes new writes, and a long-poll wait sees them.
    let id = new_event_id();
    let reply = post_envelope(addr, 1, &event_envelope(&id, "after the restart")).await;
    assert_eq!(reply.status, 200, "after restart: {}", reply.text());
    let waited = get_json(addr, &format!("/api/wait/?event_id={id}&timeout=10")).await;
    assert_eq!(waited["satisfied"], json!(true), "{waited}");
    assert_eq!(
        get_json(addr, "/api/stats/").await["items"],
        json!(acknowledged.len() + 1)
    );
    second.kill_9().await;
}

#[tokio::test]
async fn max_items_keeps_exactly_the_newest() {
    const KEEP: usize = 50;
    const SENT: usize = 80;
    let sentry = FakeSentry::start_with(Config {
        max_items: KEEP,
        ..Config::ephemeral()
    })
    .await
    .expect("start fake-sentry");
    let addr = sentry.addr();
    let mut ids = Vec::new();
    for n in 0..SENT {
        let id = new_event_id();
        let reply = post_envelope(addr, 1, &event_envelope(&id, &format!("envelope {n}"))).await;
        assert_eq!(reply.status, 200, "envelope {n}: {}", reply.text());
        ids.push(id);
    }
    let newest = &ids[SENT - KEEP..];
    assert_eq!(
        stored_event_ids(addr).await,
        newest,
        "the newest {KEEP}, oldest first"
    );
    assert_eq!(get_json(addr, "/api/stats/").await["items"], json!(KEEP));
    for evicted in [&ids[0], &ids[SENT - KEEP - 1]] {
        assert!(
            items_with_event_id(addr, evicted).await.is_empty(),
            "{evicted} should be evicted"
        );
        let reply = send(addr, "GET", &format!("/api/event/{evicted}"), &[], b"").await;
        assert_eq!(reply.status, 404, "{evicted} still resolves");
    }
    for kept in [&ids[SENT - KEEP], &ids[SENT - 1]] {
        assert_eq!(
            items_with_event_id(addr, kept).await.len(),
            1,
            "{kept} should be kept"
        );
    }
    let list = get_json(addr, "/api/eventlist/").await;
    assert_eq!(
        list["events"].as_array().map(Vec::len),
        Some(KEEP),
        "Kent's list agrees"
    );
}

/// A file restarted with caps ten times lower than it holds keeps the newest items once it
/// has caught up (in bounded steps, see `store/retention.rs`), taking writes meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_with_lower_caps_keeps_the_newest() {
    const TASKS: usize = 10;
    const PER_TASK: usize = 60;
    const KEEP: usize = TASKS * PER_TASK / 10;
    let dir = TempDir::new("lower-caps");
    let db = dir.path().join("x.sqlite");
    let first = Binary::start([OsStr::new("--db"), db.as_os_str()]).await;
    let addr = first.addr;
    let senders: Vec<_> = (0..TASKS)
        .map(|task| {
            tokio::spawn(async move {
                for n in 0..PER_TASK {
                    let id = new_event_id();
                    let body = event_envelope(&id, &format!("task {task} envelope {n}"));
                    let reply = post_envelope(addr, 1, &body).await;
                    assert_eq!(reply.status, 200, "{}", reply.text());
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender task");
    }
    first.kill_9().await;

    let keep = KEEP.to_string();
    let second = Binary::start([
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("--max-events"),
        OsStr::new(&keep),
        OsStr::new("--max-db-size"),
        OsStr::new("64MiB"),
    ])
    .await;
    let addr = second.addr;
    let mut newest = Vec::new();
    for n in 0..KEEP {
        let id = new_event_id();
        let reply = post_envelope(addr, 1, &event_envelope(&id, &format!("after {n}"))).await;
        assert_eq!(reply.status, 200, "after the restart: {}", reply.text());
        newest.push(id);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let stats = loop {
        let stats = get_json(addr, "/api/stats/").await;
        if stats["items"] == json!(KEEP) {
            break stats;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never caught up: {stats}; stderr: {}",
            second.stderr()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(stats["max_db_bytes"], json!(64 << 20), "{stats}");
    assert_eq!(
        stats["evicted"]["items"],
        json!(TASKS * PER_TASK),
        "{stats}"
    );
    assert_eq!(
        stored_event_ids(addr).await,
        newest,
        "exactly what was sent after the restart, oldest first"
    );
    second.kill_9().await;
}

/// Under sustained writes a background checkpoint never catches up, so without a bound the
/// WAL file only grows; past `max_wal_bytes` it is checkpointed and rewound (sync off: by the
/// writer) or truncated (sync normal: by the checkpointer), and nothing is lost.
#[tokio::test]
async fn the_wal_stays_within_its_limit() {
    for sync in [SyncMode::Off, SyncMode::Normal] {
        wal_stays_within_its_limit(sync).await;
    }
}

async fn wal_stays_within_its_limit(sync: SyncMode) {
    const LIMIT: u64 = 64 * 1024;
    // One envelope writes about 40 KB of WAL; the check runs after each batch is answered,
    // and is skipped while the background checkpointer holds its lock, so the file may pass
    // the limit by a few batches. Unbounded, it reaches several MB here.
    const SLACK: u64 = 1024 * 1024;
    const SENT: usize = 300;
    let dir = TempDir::new("wal-limit");
    let db = dir.path().join("events.sqlite");
    let sentry = FakeSentry::start_with(Config {
        storage: fake_sentry::config::Storage::File(db.clone()),
        max_wal_bytes: LIMIT,
        sync,
        // The search index reads what was stored, and any reader holds the WAL back while it
        // reads: at the rate this test sends (50 MB of WAL per second), one read that waits
        // 20 ms for the CPU outgrows the slack. The bound is the writer's to keep.
        search_index_max_bytes: 0,
        ..Config::ephemeral()
    })
    .await
    .expect("start fake-sentry");
    let addr = sentry.addr();
    let wal = dir.path().join("events.sqlite-wal");
    let padding = "x".repeat(16 * 1024);
    let mut largest = 0;
    for n in 0..SENT {
        let id = new_event_id();
        let body = event_envelope(&id, &format!("envelope {n} {padding}"));
        let reply = post_envelope(addr, 1, &body).await;
        assert_eq!(
            reply.status,
            200,
            "{sync:?}, envelope {n}: {}",
            reply.text()
        );
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    assert!(
        largest <= LIMIT + SLACK,
        "{sync:?}: the WAL grew to {largest} bytes (limit {LIMIT})"
    );
    assert_eq!(get_json(addr, "/api/stats/").await["items"], json!(SENT));
    sentry.shutdown().await;
}

/// An empty `--db` (as an image's environment can set it, `FAKE_SENTRY_DB=`) or SQLite's
/// `:memory:` keeps everything in memory instead of failing to start or creating a file.
#[tokio::test]
async fn an_empty_db_flag_means_in_memory() {
    for value in ["", ":memory:"] {
        let server = Binary::start([OsStr::new("--db"), OsStr::new(value)]).await;
        let stats = get_json(server.addr, "/api/stats/").await;
        assert_eq!(stats["storage"], json!("memory"), "--db {value:?}: {stats}");
        server.kill_9().await;
    }
}

/// `/api/stats/` says how far the search index has got: `null` in memory; with a file, its
/// watermark reaches the newest item once the indexer has caught up.
#[tokio::test]
async fn stats_show_the_search_index_catching_up() {
    let memory = FakeSentry::start_with(Config::ephemeral())
        .await
        .expect("start fake-sentry");
    let stats = get_json(memory.addr(), "/api/stats/").await;
    assert_eq!(stats["search_index"], Value::Null, "{stats}");

    let dir = TempDir::new("search-stats");
    let sentry = FakeSentry::start_with(Config {
        storage: Storage::File(dir.path().join("db.sqlite")),
        ..Config::ephemeral()
    })
    .await
    .expect("start fake-sentry");
    let addr = sentry.addr();
    for n in 0..20 {
        let reply =
            post_envelope(addr, 1, &event_envelope(&new_event_id(), &format!("n {n}"))).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let stats = get_json(addr, "/api/stats/").await;
        let last = stats["last_seq"].as_i64().expect("last_seq");
        let through = stats["search_index"]["indexed_through"]
            .as_i64()
            .unwrap_or_else(|| panic!("no watermark: {stats}"));
        assert!(through <= last, "{stats}");
        if through == last && last == 20 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never caught up: {stats}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
