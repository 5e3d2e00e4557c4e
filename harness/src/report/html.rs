//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external
//! requests) with the failing frames highlighted and bar charts of the time per stage and the
//! symbol bytes fetched per module. askama escapes every value.

use askama::Template;

use super::{CrashOutcome, RunReport};

/// One horizontal bar of an inline SVG chart.
pub struct Bar {
    pub label: String,
    pub value: String,
    pub y: u32,
    pub width: u32,
}

pub struct Chart {
    pub title: String,
    pub height: u32,
    pub bars: Vec<Bar>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    report: &'a RunReport,
    charts: Vec<Chart>,
    failing: Vec<&'a CrashOutcome>,
    passing: usize,
}

const BAR_AREA: f64 = 420.0;
const ROW: u32 = 22;
const MAX_BARS: usize = 30;

fn chart(title: &str, rows: Vec<(String, f64, String)>) -> Chart {
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max);
    let bars: Vec<Bar> = rows
        .into_iter()
        .take(MAX_BARS)
        .enumerate()
        .map(|(i, (label, value, text))| Bar {
            label,
            value: text,
            y: i as u32 * ROW,
            width: if max > 0.0 {
                ((value / max) * BAR_AREA).round().max(1.0) as u32
            } else {
                1
            },
        })
        .collect();
    Chart {
        title: title.to_string(),
        height: bars.len() as u32 * ROW + 4,
        bars,
    }
}

pub fn render(report: &RunReport) -> Result<String, askama::Error> {
    let stages = chart(
        "Time per stage",
        report
            .stages
            .iter()
            .map(|s| (s.stage.clone(), s.millis, format!("{:.0} ms", s.millis)))
            .collect(),
    );
    let mut modules: Vec<_> = report.symbols.per_module.iter().collect();
    modules.sort_by_key(|m| std::cmp::Reverse(m.bytes));
    let symbols = chart(
        "Symbol bytes fetched per sym file",
        modules
            .into_iter()
            .map(|m| {
                let leaf = m
                    .path
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or("");
                (
                    leaf.to_string(),
                    m.bytes as f64,
                    format!("{:.1} KiB x{}", m.bytes as f64 / 1024.0, m.requests),
                )
            })
            .collect(),
    );
    let failing: Vec<&CrashOutcome> = report.crashes.iter().filter(|c| !c.passed).collect();
    Page {
        report,
        charts: vec![stages, symbols],
        passing: report.crashes.len() - failing.len(),
        failing,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn self_contained_escaped_and_highlighted() {
        let html = render(&sample::report()).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("<script"), "values must be escaped");
        assert!(
            html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("src=\"http"), "no external resources");
        assert!(html.contains("<svg"), "charts are inline SVG");
        assert!(
            html.contains("class=\"bad\""),
            "mismatched frames are highlighted"
        );
        assert!(html.contains("user.email"));
    }
}
