//! `report.json`: the [`RunReport`] as pretty JSON. Field names are the schema; consumers
//! should check `schema_version`.

use super::RunReport;

pub fn render(report: &RunReport) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn round_trips_with_the_stable_top_level_fields() {
        let report = sample::report();
        let text = render(&report).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "audit",
                "crashes",
                "duration_ms",
                "expectations",
                "faults",
                "passed",
                "scenario",
                "schema_version",
                "stages",
                "started_at",
                "symbols",
            ]
        );
        // The processed crashes are files of their own, not part of report.json.
        assert!(!text.contains("processed_crashes"));
        let back: RunReport = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back,
            RunReport {
                processed_crashes: Vec::new(),
                ..report
            }
        );
    }
}
