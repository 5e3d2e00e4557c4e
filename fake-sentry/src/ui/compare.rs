//! Compare two items: their structural difference (keys added, removed, changed, with values),
//! computed by `event_filter::shape::diff_values`, the way a developer checks that an SDK
//! upgrade changed nothing but what it should.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use event_filter::shape::{ValueChange, diff_values};
use serde_json::Value;

use super::limits::UiLimits;
use super::list::Row;
use super::{UiError, render};
use crate::server::AppState;
use crate::store::{self, ItemRecord};

/// The two ids to compare, from `?a=&b=` (the detail page's form) or two `?pick=` values (the
/// list's checkboxes). `None` when the page should ask for them.
pub fn picked_ids(query: Option<&str>) -> Result<Option<(String, String)>, UiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| UiError::BadRequest(format!("invalid query: {e}")))?;
    let mut a = None;
    let mut b = None;
    let mut picks = Vec::new();
    for (name, value) in pairs {
        let value = value.trim().to_string();
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "a" => a = Some(value),
            "b" => b = Some(value),
            "pick" => picks.push(value),
            _ => {}
        }
    }
    match (a, b, picks.as_slice()) {
        (Some(a), Some(b), _) => Ok(Some((a, b))),
        (None, None, []) => Ok(None),
        // The list is newest first; compare the older one against the newer one.
        (None, None, [newer, older]) => Ok(Some((older.clone(), newer.clone()))),
        (_, _, picks) => Err(UiError::BadRequest(format!(
            "pick exactly two items to compare ({} picked)",
            picks.len().max(1)
        ))),
    }
}

/// One row of the difference.
pub struct ChangeRow {
    pub kind: &'static str,
    pub path: String,
    pub before: String,
    pub after: String,
}

impl ChangeRow {
    fn new(l: &UiLimits, change: ValueChange) -> Self {
        let text = |v: &Value| l.value_text(v);
        match change {
            ValueChange::Added { path, value } => Self {
                kind: "added",
                path: l.cell(&path),
                before: String::new(),
                after: text(&value),
            },
            ValueChange::Removed { path, value } => Self {
                kind: "removed",
                path: l.cell(&path),
                before: text(&value),
                after: String::new(),
            },
            ValueChange::Changed {
                path,
                before,
                after,
            } => Self {
                kind: "changed",
                path: l.cell(&path),
                before: text(&before),
                after: text(&after),
            },
        }
    }
}

pub struct Compared {
    pub a: Row,
    pub b: Row,
    pub changes: Vec<ChangeRow>,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub omitted: usize,
}

#[derive(Template)]
#[template(path = "compare.html")]
pub struct ComparePage {
    pub compared: Option<Compared>,
    pub a: String,
    pub b: String,
}

fn json_payload(l: &UiLimits, record: &ItemRecord) -> Result<Value, UiError> {
    if record.is_json && record.payload.len() > l.json_view_bytes {
        return Err(UiError::BadRequest(format!(
            "item {} is {} bytes of JSON, more than the UI lays out (ui-limit json_view_bytes={}); \
             download both and compare them locally",
            record.summary.id,
            record.payload.len(),
            l.json_view_bytes
        )));
    }
    if !record.is_json {
        return Err(UiError::BadRequest(format!(
            "item {} is a {} with a binary payload; only JSON items can be compared",
            record.summary.id, record.summary.item_type
        )));
    }
    serde_json::from_slice(&record.payload).map_err(|e| {
        UiError::BadRequest(format!(
            "item {} is not valid JSON ({e}); only JSON items can be compared",
            record.summary.id
        ))
    })
}

/// The difference from item `a` to item `b`.
pub fn compare(l: &UiLimits, a: &ItemRecord, b: &ItemRecord) -> Result<Compared, UiError> {
    let changes = diff_values(&json_payload(l, a)?, &json_payload(l, b)?, &[]);
    let count = |kind: &str| changes.iter().filter(|c| change_kind(c) == kind).count();
    let (added, removed, changed) = (count("added"), count("removed"), count("changed"));
    let omitted = changes.len().saturating_sub(l.compare_changes);
    Ok(Compared {
        a: Row::new(l, &a.summary),
        b: Row::new(l, &b.summary),
        changes: changes
            .into_iter()
            .take(l.compare_changes)
            .map(|c| ChangeRow::new(l, c))
            .collect(),
        added,
        removed,
        changed,
        omitted,
    })
}

fn change_kind(change: &ValueChange) -> &'static str {
    match change {
        ValueChange::Added { .. } => "added",
        ValueChange::Removed { .. } => "removed",
        ValueChange::Changed { .. } => "changed",
    }
}

/// `GET /compare?a=ID&b=ID` or `?pick=ID&pick=ID`
pub async fn page(State(state): State<Arc<AppState>>, uri: Uri) -> Result<Response, UiError> {
    let Some((a, b)) = picked_ids(uri.query())? else {
        return render(&ComparePage {
            compared: None,
            a: String::new(),
            b: String::new(),
        });
    };
    let (ids_a, ids_b) = (a.clone(), b.clone());
    let (record_a, record_b) = state
        .store
        .read(move |conn| {
            Ok((
                store::get_item(conn, &ids_a)?,
                store::get_item(conn, &ids_b)?,
            ))
        })
        .await?;
    let record_a = record_a.ok_or_else(|| UiError::NotFound(format!("no item {a:?}")))?;
    let record_b = record_b.ok_or_else(|| UiError::NotFound(format!("no item {b:?}")))?;
    let compared = compare(&state.config.ui, &record_a, &record_b)?;
    render(&ComparePage {
        compared: Some(compared),
        a,
        b,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_a_and_b_or_two_picks() {
        assert_eq!(picked_ids(None).unwrap(), None);
        assert_eq!(
            picked_ids(Some("a=x&b=y")).unwrap(),
            Some(("x".into(), "y".into()))
        );
        assert_eq!(
            picked_ids(Some("pick=new&pick=old")).unwrap(),
            Some(("old".into(), "new".into()))
        );
        assert!(matches!(
            picked_ids(Some("pick=one")),
            Err(UiError::BadRequest(_))
        ));
        assert!(matches!(
            picked_ids(Some("pick=1&pick=2&pick=3")),
            Err(UiError::BadRequest(_))
        ));
    }
}
