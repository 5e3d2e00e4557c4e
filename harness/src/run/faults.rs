//! The fault stage: each injected symbols fault, a fresh processor and cache, the first N
//! crashes of the corpus, and the checks the scenario expects (symbolicated or not, request
//! counts from fake-symbols' log, time taken).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::corpus::GeneratedCrash;
use super::symbols_server::{SymbolsServer, traffic};
use super::{RunError, Submitted};
use crate::processor::to_json;
use crate::report::{Check, FaultOutcome};
use crate::scenario::{FaultScenario, Symbolicated};

pub(crate) async fn run_fault(
    fault: &FaultScenario,
    server: &SymbolsServer,
    submitted: &[Submitted],
    generated: &[GeneratedCrash],
    work: &Path,
    default_timeout: Duration,
    concurrency: usize,
) -> Result<FaultOutcome, RunError> {
    let count = (fault.crashes as usize).min(submitted.len());
    let timeout = fault
        .symbols_download_timeout_secs
        .map(Duration::from_secs)
        .unwrap_or(default_timeout);
    server.set_faults(&fault.rules).await?;
    server.clear_requests().await?;
    let processor = crate::processor::in_process(vec![server.url.clone()], work, timeout);
    let started = Instant::now();
    let dumps: Vec<&[u8]> = submitted[..count]
        .iter()
        .map(|s| s.dump.as_slice())
        .collect();
    processor.prefetch(&dumps, concurrency).await;
    let mut results = Vec::with_capacity(count);
    for s in &submitted[..count] {
        results.push(
            processor
                .process(&s.dump)
                .await
                .map(|state| to_json(&state)),
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    let requests = server.downloads().await?;
    server.clear_faults().await?;
    server.clear_requests().await?;
    let seen = traffic(&requests);

    let mut checks = Vec::new();
    let failed: Vec<String> = results
        .iter()
        .zip(&submitted[..count])
        .filter_map(|(r, s)| r.as_ref().err().map(|e| format!("{}: {}", s.name, e.name)))
        .collect();
    checks.push(Check {
        name: "crashes processed".into(),
        expected: format!("{count} of {count}"),
        actual: if failed.is_empty() {
            format!("{count} of {count}")
        } else {
            format!(
                "{} of {count} ({})",
                count - failed.len(),
                failed.join(", ")
            )
        },
        passed: failed.is_empty(),
    });
    match fault.expect.symbolicated {
        Symbolicated::Any => {}
        Symbolicated::All => {
            let mismatched: usize = results
                .iter()
                .zip(&generated[..count])
                .map(|(r, g)| match r {
                    Ok(json) => g.truth.compare_json(json).len(),
                    Err(_) => 1,
                })
                .sum();
            checks.push(Check {
                name: "frames matching ground truth".into(),
                expected: "all (0 mismatches)".into(),
                actual: format!("{mismatched} mismatches"),
                passed: mismatched == 0,
            });
        }
        Symbolicated::None => {
            let (mut with_symbols, mut loaded) = (0, 0);
            for (r, g) in results.iter().zip(&generated[..count]) {
                let Ok(json) = r else { continue };
                for m in g.truth.modules.iter().filter(|m| m.loaded_symbols) {
                    with_symbols += 1;
                    if module_loaded(json, &m.filename) {
                        loaded += 1;
                    }
                }
            }
            checks.push(Check {
                name: "modules symbolicated".into(),
                expected: format!("0 of {with_symbols}"),
                actual: format!("{loaded} of {with_symbols}"),
                passed: loaded == 0,
            });
        }
    }
    if let Some(max) = fault.expect.max_requests_per_module {
        checks.push(Check {
            name: "requests per sym file".into(),
            expected: format!("<= {max}"),
            actual: seen.max_requests_per_module.to_string(),
            passed: seen.max_requests_per_module <= max,
        });
    }
    if let Some(min) = fault.expect.min_requests {
        checks.push(Check {
            name: "requests reaching the symbols server".into(),
            expected: format!(">= {min}"),
            actual: seen.requests.to_string(),
            passed: seen.requests >= min,
        });
    }
    if let Some(max) = fault.expect.max_seconds {
        checks.push(Check {
            name: "processing time (s)".into(),
            expected: format!("<= {max}"),
            actual: format!("{elapsed:.2}"),
            passed: elapsed <= max,
        });
    }
    Ok(FaultOutcome {
        name: fault.name.clone(),
        description: fault.description.clone(),
        passed: checks.iter().all(|c| c.passed),
        checks,
        millis: elapsed * 1000.0,
    })
}

fn module_loaded(json: &Value, filename: &str) -> bool {
    json.get("modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|m| {
            m.get("filename").and_then(Value::as_str) == Some(filename)
                && m.get("loaded_symbols").and_then(Value::as_bool) == Some(true)
        })
}
