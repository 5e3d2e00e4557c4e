//! Built-in policies, written in the same TOML as user policies (see `presets/`), so a policy
//! file can `extends = "strict"` and `--preset NAME` works wherever `--policy` does.

use crate::policy::{Policy, PolicyError};

/// The names of the built-in presets.
pub const NAMES: &[&str] = &["python-sdk", "fillmore", "strict"];

/// The TOML source of a preset.
pub fn source(name: &str) -> Option<&'static str> {
    match name {
        "python-sdk" => Some(include_str!("../presets/python-sdk.toml")),
        "fillmore" => Some(include_str!("../presets/fillmore.toml")),
        "strict" => Some(include_str!("../presets/strict.toml")),
        _ => None,
    }
}

/// Parses a preset; `None` when there is no preset of that name.
pub fn load(name: &str) -> Option<Result<Policy, PolicyError>> {
    source(name).map(|text| Policy::from_toml(text, &format!("preset {name}")))
}
