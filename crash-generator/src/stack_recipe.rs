//! A profile's recipe for the top of the crashing thread's stack: which kinds of frames it starts
//! with (named from Socorro's signature lists, C++ templates, Rust symbols in both manglings,
//! deep inline chains, code in a module without symbols) and, optionally, the exception. The
//! recipe is what makes a generated crash sign the way production crashes do, where the
//! synthetic names of an ordinary profile never meet a list and every signature is the top
//! frame alone.
//!
//! In TOML:
//!
//! ```toml
//! [crashing_stack]
//! top = ["irrelevant", "prefix", "unsymbolized", "unsymbolized", "cpp", "inlined-prefix:6"]
//! exception = "in_page_device_error"
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::profile::ProfileError;

/// Deepest inline chain a recipe may ask for.
pub const MAX_INLINE_DEPTH: u32 = 32;

/// One frame of the recipe, from the top of the stack down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameKind {
    /// A function named from siggen's irrelevant list (`KiFastSystemCallRet`, `__GI_raise`):
    /// skipped by the signature.
    Irrelevant,
    /// A function named from siggen's prefix list (`memcpy`, `moz_xmalloc`, `je_malloc`):
    /// kept, and the signature goes on to the next frame.
    Prefix,
    /// A function named from siggen's sentinel list (`_purecall`): the signature starts there.
    Sentinel,
    /// A C++ function with templates and an argument list (`std::vector<int,
    /// std::allocator<int> >::push_back(int const&)`, anonymous namespaces, `operator()`).
    Cpp,
    /// A Rust function with a legacy-mangling name as demangled with its hash
    /// (`app::module::Type::run::h0123456789abcdef`), in a `.rs` file.
    RustLegacy,
    /// A Rust function with a v0-mangling name as rustc-demangle prints it (generics, crate
    /// disambiguators: `<app[1a2b…]::Type<u8> as core[…]::ops::drop::Drop>::drop`), in a `.rs`
    /// file.
    RustV0,
    /// Code in a library without symbols, the library named from siggen's lists for the OS
    /// (`libc.so`, `vcruntime140.dll`, `libobjc.A.dylib`): the frame is its module name.
    Unsymbolized,
    /// A C++ function whose code at the frame is a chain of this many inlined functions, each
    /// named from the prefix list (so every inline frame joins the signature).
    InlinedPrefix(u32),
    /// A function with exactly this name.
    Literal(String),
}

impl FrameKind {
    /// Whether the frame is a named function (as opposed to bare module code).
    pub fn is_function(&self) -> bool {
        !matches!(self, FrameKind::Unsymbolized)
    }
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameKind::Irrelevant => f.write_str("irrelevant"),
            FrameKind::Prefix => f.write_str("prefix"),
            FrameKind::Sentinel => f.write_str("sentinel"),
            FrameKind::Cpp => f.write_str("cpp"),
            FrameKind::RustLegacy => f.write_str("rust-legacy"),
            FrameKind::RustV0 => f.write_str("rust-v0"),
            FrameKind::Unsymbolized => f.write_str("unsymbolized"),
            FrameKind::InlinedPrefix(depth) => write!(f, "inlined-prefix:{depth}"),
            FrameKind::Literal(name) => write!(f, "literal:{name}"),
        }
    }
}

impl FromStr for FrameKind {
    type Err = ProfileError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |why: String| ProfileError::Invalid(format!("crashing_stack frame: {why}"));
        Ok(match text {
            "irrelevant" => FrameKind::Irrelevant,
            "prefix" => FrameKind::Prefix,
            "sentinel" => FrameKind::Sentinel,
            "cpp" => FrameKind::Cpp,
            "rust-legacy" => FrameKind::RustLegacy,
            "rust-v0" => FrameKind::RustV0,
            "unsymbolized" => FrameKind::Unsymbolized,
            other => {
                if let Some(depth) = other.strip_prefix("inlined-prefix:") {
                    let depth: u32 = depth
                        .parse()
                        .map_err(|_| invalid(format!("{other:?}: depth is not a number")))?;
                    if !(1..=MAX_INLINE_DEPTH).contains(&depth) {
                        return Err(invalid(format!(
                            "{other:?}: depth must be 1..={MAX_INLINE_DEPTH}"
                        )));
                    }
                    FrameKind::InlinedPrefix(depth)
                } else if let Some(name) = other.strip_prefix("literal:") {
                    // A name is one line of a .sym file.
                    if name.trim().is_empty() || name.contains(['\n', '\r']) {
                        return Err(invalid(format!("{other:?}: empty or multi-line name")));
                    }
                    FrameKind::Literal(name.to_string())
                } else {
                    return Err(invalid(format!(
                        "unknown kind {other:?} (expected irrelevant, prefix, sentinel, cpp, \
                         rust-legacy, rust-v0, unsymbolized, inlined-prefix:<depth> or \
                         literal:<name>)"
                    )));
                }
            }
        })
    }
}

impl Serialize for FrameKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FrameKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An exception a recipe can ask for instead of the randomly picked one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipeException {
    /// Windows `EXCEPTION_IN_PAGE_ERROR` reading a page the disk failed to deliver
    /// (`STATUS_DEVICE_DATA_ERROR`): the processor's `EXCEPTION_IN_PAGE_ERROR_READ /
    /// STATUS_DEVICE_DATA_ERROR`, which siggen signs as `bad hardware | …`.
    InPageDeviceError,
}

/// The recipe for the top of the crashing thread's stack.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrashingStack {
    /// The first frames of the crashing thread, from the top; ordinary frames follow up to
    /// the profile's `frames_per_thread`.
    pub top: Vec<FrameKind>,
    /// Overrides the randomly picked exception.
    pub exception: Option<RecipeException>,
    /// Crash a thread other than the main one (thread 0) when there are several, as a
    /// watchdog or IPC I/O thread does.
    pub off_main_thread: bool,
}

impl CrashingStack {
    /// Whether the recipe needs a library without symbols.
    pub fn needs_unsymbolized_module(&self) -> bool {
        self.top.contains(&FrameKind::Unsymbolized)
    }

    /// Frames the recipe names as functions: each needs a function of its own.
    pub fn named_frames(&self) -> usize {
        self.top.iter().filter(|k| k.is_function()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_and_print_the_same() {
        for text in [
            "irrelevant",
            "prefix",
            "sentinel",
            "cpp",
            "rust-legacy",
            "rust-v0",
            "unsymbolized",
            "inlined-prefix:6",
            "literal:mozilla::(anonymous namespace)::RunWatchdog(void*)",
        ] {
            assert_eq!(text.parse::<FrameKind>().unwrap().to_string(), text);
        }
        for bad in ["inlined-prefix:0", "inlined-prefix:x", "literal: ", "jit"] {
            assert!(bad.parse::<FrameKind>().is_err(), "{bad} must be refused");
        }
    }
}
