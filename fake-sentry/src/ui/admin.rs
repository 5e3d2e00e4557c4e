//! The flush page (everything or one project, after a confirmation) and the page of refused
//! requests.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::limits::UiLimits;
use super::text::short_time;
use super::{UiError, queries, render};
use crate::server::AppState;
use crate::store::{self, RefusalRecord};

#[derive(Template)]
#[template(path = "flush.html")]
pub struct FlushPage {
    pub total: u64,
    pub projects: Vec<(u64, u64)>,
}

/// `GET /flush`: what a flush would delete, and the buttons that do it.
pub async fn flush_form(State(state): State<Arc<AppState>>) -> Result<Response, UiError> {
    let projects = state.store.read(queries::counts_by_project).await?;
    render(&FlushPage {
        total: projects.iter().map(|(_, n)| n).sum(),
        projects,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FlushForm {
    /// Empty for everything.
    pub project: String,
    /// The confirmation box; a flush without it is refused.
    pub confirm: String,
}

/// Refuses a form posted from another site: a page elsewhere must not be able to wipe what a
/// developer is looking at.
pub fn check_same_origin(headers: &HeaderMap) -> Result<(), UiError> {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site")
    {
        return Err(UiError::Forbidden("cross-site flush refused".into()));
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) if origin != "null" => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            if origin_host == host {
                Ok(())
            } else {
                Err(UiError::Forbidden(format!(
                    "flush from origin {origin} refused: the form must come from this server"
                )))
            }
        }
        _ => Ok(()),
    }
}

/// `POST /flush`: deletes, then shows the list with how many items went.
pub async fn flush(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<FlushForm>,
) -> Result<Response, UiError> {
    check_same_origin(&headers)?;
    if form.confirm != "yes" {
        return Err(UiError::BadRequest(
            "tick the confirmation box to flush".into(),
        ));
    }
    let project = match form.project.trim() {
        "" => None,
        p => Some(
            p.parse::<u64>()
                .map_err(|_| UiError::BadRequest(format!("project must be a number, not {p:?}")))?,
        ),
    };
    let removed = state.store.flush(project).await?;
    tracing::info!(?project, removed, "flushed from the web UI");
    Ok(Redirect::to(&format!("/?flushed={removed}")).into_response())
}

/// One refused request as the page shows it.
pub struct RefusalRow {
    pub time: String,
    pub time_full: String,
    pub status: u16,
    pub reason: String,
    pub request: String,
    pub project: String,
    pub client: String,
    pub content: String,
    pub body_size: i64,
    pub body_prefix: String,
}

impl RefusalRow {
    fn new(l: &UiLimits, r: RefusalRecord) -> Self {
        let content = [r.content_type, r.content_encoding]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            time: short_time(&r.received_at),
            time_full: r.received_at,
            status: r.status,
            reason: l.cell(&r.reason),
            request: l.cell(&format!("{} {}", r.method, r.path)),
            project: r.project_id.map(|p| p.to_string()).unwrap_or_default(),
            client: r.client.or(r.public_key).unwrap_or_default(),
            content,
            body_size: r.body_size,
            body_prefix: r.body_prefix,
        }
    }
}

#[derive(Template)]
#[template(path = "refusals.html")]
pub struct RefusalsPage {
    pub total: u64,
    pub by_status: Vec<(u16, u64)>,
    pub rows: Vec<RefusalRow>,
}

/// `GET /refusals`
pub async fn refusals(State(state): State<Arc<AppState>>) -> Result<Response, UiError> {
    let shown = state.config.ui.refusals;
    let (list, (total, by_status)) = state
        .store
        .read(move |conn| {
            Ok((
                store::list_refusals(conn, shown)?,
                store::refusal_counts(conn)?,
            ))
        })
        .await?;
    render(&RefusalsPage {
        total,
        by_status,
        rows: list
            .into_iter()
            .map(|r| RefusalRow::new(&state.config.ui, r))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn flush_accepts_same_origin_and_refuses_others() {
        assert!(check_same_origin(&headers(&[])).is_ok());
        assert!(
            check_same_origin(&headers(&[
                ("origin", "http://127.0.0.1:8000"),
                ("host", "127.0.0.1:8000")
            ]))
            .is_ok()
        );
        assert!(matches!(
            check_same_origin(&headers(&[
                ("origin", "http://evil.example"),
                ("host", "127.0.0.1:8000")
            ])),
            Err(UiError::Forbidden(_))
        ));
        assert!(matches!(
            check_same_origin(&headers(&[("sec-fetch-site", "cross-site")])),
            Err(UiError::Forbidden(_))
        ));
    }
}
