//! The built-in demo scenario (`harness demo`), embedded from `scenarios/demo.toml`.

use std::path::{Path, PathBuf};

use crate::scenario::Scenario;

/// The demo scenario's text.
pub const DEMO_TOML: &str = include_str!("../scenarios/demo.toml");

/// The demo scenario, parsed.
pub fn scenario() -> Scenario {
    // The embedded file is checked by the tests; it cannot fail to parse at run time.
    Scenario::from_toml(
        DEMO_TOML,
        Path::new("scenarios/demo.toml"),
        PathBuf::from("."),
    )
    .unwrap_or_else(|e| panic!("the embedded demo scenario is invalid: {e}"))
}
