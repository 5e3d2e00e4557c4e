//! The UI's static files, embedded in the binary so that `cargo run` (or a copied binary) serves
//! the whole UI with no files beside it.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::UiError;

/// `(name, content type, bytes)` of every static file.
const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    ),
    (
        "logs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/logs.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../static/favicon.svg"),
    ),
];

/// The embedded file called `name`.
pub fn lookup(name: &str) -> Option<(&'static str, &'static str)> {
    FILES
        .iter()
        .find(|(file, _, _)| *file == name)
        .map(|(_, content_type, body)| (*content_type, *body))
}

pub async fn serve(Path(file): Path<String>) -> Result<Response, UiError> {
    let (content_type, body) =
        lookup(&file).ok_or_else(|| UiError::NotFound(format!("no static file {file:?}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // Embedded files change only with the binary; a short cache keeps reloads cheap
            // without serving stale scripts after an upgrade.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=300"),
            ),
        ],
        body,
    )
        .into_response())
}
