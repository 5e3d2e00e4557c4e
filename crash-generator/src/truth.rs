//! Ground truth: what a correct processor must report for a generated crash. Serialized as JSON
//! (addresses as `0x`-prefixed hex strings, so JavaScript consumers keep all 64 bits).

use serde::{Deserialize, Serialize};

use crate::socorro::SocorroSignature;
use crate::stack::Trust;

/// Serde helpers for `0x…` hex addresses.
pub mod hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{value:#018x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).ok_or_else(|| serde::de::Error::custom(format!("not a hex address: {text}")))
    }

    /// Parses `0x…` (or bare) hex.
    pub fn parse(text: &str) -> Option<u64> {
        let digits = text.strip_prefix("0x").unwrap_or(text);
        u64::from_str_radix(digits, 16).ok()
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => super::serialize(v, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|t| {
                super::parse(&t)
                    .ok_or_else(|| serde::de::Error::custom(format!("not a hex address: {t}")))
            })
            .transpose()
        }
    }

    pub mod list {
        use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

        pub fn serialize<S: Serializer>(values: &[u64], s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(values.len()))?;
            for v in values {
                seq.serialize_element(&format!("{v:#018x}"))?;
            }
            seq.end()
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
            Vec::<String>::deserialize(d)?
                .iter()
                .map(|t| {
                    super::parse(t)
                        .ok_or_else(|| serde::de::Error::custom(format!("not a hex address: {t}")))
                })
                .collect()
        }
    }
}

/// One inline frame, innermost first within its physical frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineTruth {
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// A frame's address inside an unloaded module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnloadedHit {
    pub module: String,
    #[serde(with = "hex::list")]
    pub offsets: Vec<u64>,
}

/// One physical frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameTruth {
    pub trust: Trust,
    /// The instruction address the processor reports (`offset`): the pc for frame 0, the return
    /// address minus one for callers.
    #[serde(with = "hex")]
    pub offset: u64,
    /// Module basename, `None` outside loaded modules.
    pub module: Option<String>,
    #[serde(with = "hex::option")]
    pub module_offset: Option<u64>,
    pub function: Option<String>,
    #[serde(with = "hex::option")]
    pub function_offset: Option<u64>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub inlines: Vec<InlineTruth>,
    pub unloaded_modules: Vec<UnloadedHit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadTruth {
    pub thread_id: u32,
    pub thread_name: Option<String>,
    pub frames: Vec<FrameTruth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleTruth {
    /// Basename of the code file.
    pub filename: String,
    pub debug_file: Option<String>,
    pub debug_id: Option<String>,
    /// Lower-case.
    pub code_id: Option<String>,
    #[serde(with = "hex")]
    pub base_addr: u64,
    #[serde(with = "hex")]
    pub end_addr: u64,
    pub loaded_symbols: bool,
    pub corrupt_symbols: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnloadedModuleTruth {
    pub filename: String,
    /// Lower-case.
    pub code_id: Option<String>,
    #[serde(with = "hex")]
    pub base_addr: u64,
    #[serde(with = "hex")]
    pub end_addr: u64,
}

/// The whole expected processing result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// `Ok` for a processable dump, else the processor's error name (e.g. `MissingThreadList`).
    pub status: String,
    pub os: Option<String>,
    pub cpu_arch: Option<String>,
    pub pid: Option<u32>,
    pub crash_reason: Option<String>,
    #[serde(with = "hex::option")]
    pub crash_address: Option<u64>,
    /// Index into `threads`.
    pub crashing_thread: Option<usize>,
    pub threads: Vec<ThreadTruth>,
    pub modules: Vec<ModuleTruth>,
    pub unloaded_modules: Vec<UnloadedModuleTruth>,
    /// The signature Socorro gives the crash (profiles with `socorro_signature = true` only, so
    /// other truth files stay as they were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socorro: Option<SocorroSignature>,
}

impl GroundTruth {
    /// A truth for a dump the processor must refuse with `status`.
    pub fn unprocessable(status: &str) -> Self {
        GroundTruth {
            status: status.to_string(),
            os: None,
            cpu_arch: None,
            pid: None,
            crash_reason: None,
            crash_address: None,
            crashing_thread: None,
            threads: Vec::new(),
            modules: Vec::new(),
            unloaded_modules: Vec::new(),
            socorro: None,
        }
    }

    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("truth serializes")
    }
}
