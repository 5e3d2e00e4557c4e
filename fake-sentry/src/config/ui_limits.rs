//! How much of a captured value the web UI shows. Payloads are attacker-controlled and can hold
//! megabytes in one field or thousands of frames, so every page is bounded; the bounds are
//! settings (`--ui-limit KEY=N`, `FAKE_SENTRY_UI_LIMITS`) because a deep recursion or a big
//! context is sometimes exactly what a test is about. Whatever a page leaves out, the raw link
//! and the JSON API still have.
//!
//! The settings live here, with the rest of the configuration; the text helpers that cut a
//! value to them are methods too, defined beside the pages in `ui/limits.rs`.

use super::parse_size;

/// The bounds of what the pages show. [`UiLimits::KEYS`] names each for `--ui-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiLimits {
    /// Frames shown per stack trace (a runaway recursion can send thousands).
    pub frames: usize,
    /// Source lines shown before and after a frame's line.
    pub context_lines: usize,
    /// Breadcrumbs shown.
    pub breadcrumbs: usize,
    /// Exceptions (of a chain) or threads shown.
    pub chain: usize,
    /// Threads shown of a native crash (a processed minidump lists every thread of the
    /// process, each with its own stack).
    pub native_threads: usize,
    /// Loaded and unloaded modules listed for a native crash.
    pub native_modules: usize,
    /// Spans shown in a transaction's waterfall.
    pub spans: usize,
    /// Log records shown.
    pub logs: usize,
    /// Rows of a field table (tags, headers, a flattened payload, and the like).
    pub field_rows: usize,
    /// Characters of one value in a table cell.
    pub cell_chars: usize,
    /// Characters of a summary in the list.
    pub summary_chars: usize,
    /// Bytes of pretty-printed JSON a detail page embeds.
    pub pretty_json_bytes: usize,
    /// Largest JSON payload parsed into a value tree to be shown: a detail page lays it out
    /// (exception, frames, fields, pretty JSON), `/compare` compares it, Kent's
    /// `/api/event/{id}` re-serialises it; a larger one is shown (or given) as text.
    pub json_view_bytes: usize,
    /// Bytes of a binary item shown as text, when it reads as text.
    pub text_preview_bytes: usize,
    /// Bytes of a binary item shown as hex.
    pub hex_preview_bytes: usize,
    /// Changes listed when two items are compared.
    pub compare_changes: usize,
    /// Refused requests listed on the refusals page.
    pub refusals: usize,
    /// Items per list page unless `limit` says otherwise.
    pub page: usize,
    /// Most items per list page `limit` may ask for.
    pub max_page: usize,
    /// Distinct values offered per filter field.
    pub suggestions: usize,
    /// Newest items the filter suggestions are read from.
    pub suggestion_window: usize,
}

impl Default for UiLimits {
    fn default() -> Self {
        Self {
            frames: 250,
            context_lines: 50,
            breadcrumbs: 500,
            chain: 50,
            native_threads: 100,
            native_modules: 1000,
            spans: 1000,
            logs: 1000,
            field_rows: 500,
            cell_chars: 2000,
            summary_chars: 300,
            pretty_json_bytes: 1 << 20,
            json_view_bytes: 8 << 20,
            text_preview_bytes: 64 * 1024,
            hex_preview_bytes: 4096,
            compare_changes: 2000,
            refusals: 500,
            page: 50,
            max_page: 500,
            suggestions: 50,
            suggestion_window: 500,
        }
    }
}

/// A `--ui-limit` setting that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadUiLimit {
    #[error("invalid UI limit {0:?}: expected KEY=N, e.g. frames=1000")]
    Syntax(String),
    #[error("unknown UI limit {key:?}: use one of {known}")]
    UnknownKey { key: String, known: String },
    #[error("invalid UI limit {0:?}: N must be a whole number of at least 1")]
    Value(String),
    #[error("UI limit page={page} is above max_page={max_page}")]
    PageAboveMax { page: usize, max_page: usize },
}

/// One `KEY=N` setting of `--ui-limit` (sizes in bytes also take the units of `--max-*` flags).
#[derive(Debug, Clone, Copy)]
pub struct UiLimit {
    field: fn(&mut UiLimits) -> &mut usize,
    value: usize,
}

impl UiLimits {
    /// Every setting's key (as `--ui-limit` spells it) and where it is kept.
    #[allow(clippy::type_complexity)]
    pub const KEYS: &'static [(&'static str, fn(&mut UiLimits) -> &mut usize)] = &[
        ("frames", |l| &mut l.frames),
        ("context_lines", |l| &mut l.context_lines),
        ("breadcrumbs", |l| &mut l.breadcrumbs),
        ("chain", |l| &mut l.chain),
        ("native_threads", |l| &mut l.native_threads),
        ("native_modules", |l| &mut l.native_modules),
        ("spans", |l| &mut l.spans),
        ("logs", |l| &mut l.logs),
        ("field_rows", |l| &mut l.field_rows),
        ("cell_chars", |l| &mut l.cell_chars),
        ("summary_chars", |l| &mut l.summary_chars),
        ("pretty_json_bytes", |l| &mut l.pretty_json_bytes),
        ("json_view_bytes", |l| &mut l.json_view_bytes),
        ("text_preview_bytes", |l| &mut l.text_preview_bytes),
        ("hex_preview_bytes", |l| &mut l.hex_preview_bytes),
        ("compare_changes", |l| &mut l.compare_changes),
        ("refusals", |l| &mut l.refusals),
        ("page", |l| &mut l.page),
        ("max_page", |l| &mut l.max_page),
        ("suggestions", |l| &mut l.suggestions),
        ("suggestion_window", |l| &mut l.suggestion_window),
    ];

    /// The defaults with `settings` applied in order (a later one wins).
    pub fn with(settings: &[UiLimit]) -> Result<Self, BadUiLimit> {
        let mut limits = Self::default();
        for setting in settings {
            *(setting.field)(&mut limits) = setting.value;
        }
        if limits.page > limits.max_page {
            return Err(BadUiLimit::PageAboveMax {
                page: limits.page,
                max_page: limits.max_page,
            });
        }
        Ok(limits)
    }
}

impl std::str::FromStr for UiLimit {
    type Err = BadUiLimit;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| BadUiLimit::Syntax(text.to_string()))?;
        let key = key.trim().replace('-', "_");
        let field = UiLimits::KEYS
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, field)| *field)
            .ok_or_else(|| BadUiLimit::UnknownKey {
                key: key.clone(),
                known: UiLimits::KEYS
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let value = parse_size(value)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| BadUiLimit::Value(text.to_string()))?;
        Ok(Self { field, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(settings: &[&str]) -> Result<UiLimits, BadUiLimit> {
        let parsed: Vec<UiLimit> = settings
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()?;
        UiLimits::with(&parsed)
    }

    #[test]
    fn settings_override_their_own_default_only() {
        let set = limits(&[
            "frames=1000",
            "cell-chars=5",
            "pretty_json_bytes=2MiB",
            "frames=7",
        ])
        .unwrap();
        assert_eq!(set.frames, 7, "a later setting wins");
        assert_eq!(set.cell_chars, 5, "dashes spell the same key");
        assert_eq!(set.pretty_json_bytes, 2 << 20);
        assert_eq!(
            UiLimits {
                frames: 250,
                cell_chars: 2000,
                pretty_json_bytes: 1 << 20,
                ..set
            },
            UiLimits::default()
        );
        // Every key reaches a field of its own.
        for (i, (name, _)) in UiLimits::KEYS.iter().enumerate() {
            // A page may not exceed max_page, so that is raised first (to a value no key gets).
            let set = limits(&["max_page=9999999", &format!("{name}={}", 100_000 + i)]).unwrap();
            let changed = UiLimits::KEYS
                .iter()
                .filter(|(_, field)| *field(&mut set.clone()) == 100_000 + i)
                .count();
            assert_eq!(changed, 1, "{name}");
        }
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        assert_eq!(
            limits(&["frames"]),
            Err(BadUiLimit::Syntax("frames".into()))
        );
        assert!(matches!(
            limits(&["stack=3"]),
            Err(BadUiLimit::UnknownKey { key, known }) if key == "stack" && known.contains("frames")
        ));
        for bad in ["frames=0", "frames=-1", "frames=many", "frames="] {
            assert_eq!(limits(&[bad]), Err(BadUiLimit::Value(bad.into())), "{bad}");
        }
        assert_eq!(
            limits(&["page=600"]),
            Err(BadUiLimit::PageAboveMax {
                page: 600,
                max_page: 500
            })
        );
        assert!(limits(&["page=600", "max_page=1000"]).is_ok());
    }
}
