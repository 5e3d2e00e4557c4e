//! Function names shaped like production symbols, as the processor shows them from `.sym`
//! files: C++ with templates, argument lists, anonymous namespaces and lambdas (dump_syms
//! writes demangled names), and Rust in both manglings as demangled: legacy names keep their
//! `::h<16 hex>` hash, v0 names have generics and crate disambiguators the way rustc-demangle's
//! plain `Display` prints them (`core[5f1d7b2a3c9e8d40]::ptr::drop_in_place::<…>`).

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::names::{TYPES, VERBS, WORDS, pick};

/// Element types for containers and template arguments.
const CPP_TYPES: &[&str] = &["int", "unsigned int", "char16_t", "double", "void*", "bool"];
/// Rust crates that are neither `core`/`std` nor on siggen's lists.
const RUST_CRATES: &[&str] = &[
    "webrender",
    "style",
    "neqo_transport",
    "wgpu_core",
    "glean_core",
    "cubeb_pulse",
    "fluent_bundle",
    "audioipc2",
];
const RUST_TYPES: &[&str] = &["u8", "u32", "usize", "alloc::string::String", "bool"];
const RUST_TRAITS: &[&str] = &["Iterator", "Visitor", "Handler", "Service"];

fn cpp_namespace(rng: &mut ChaCha8Rng) -> String {
    format!("mozilla::{}", pick(rng, WORDS))
}

fn type_name(rng: &mut ChaCha8Rng) -> String {
    format!("{}{}", capitalised(pick(rng, WORDS)), pick(rng, TYPES))
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn verb(rng: &mut ChaCha8Rng) -> String {
    capitalised(pick(rng, VERBS))
}

/// A C++ function name in one of the shapes Firefox's symbols have.
pub fn cpp_function(rng: &mut ChaCha8Rng) -> String {
    let ns = cpp_namespace(rng);
    let ty = type_name(rng);
    let verb = verb(rng);
    let arg = pick(rng, CPP_TYPES);
    match rng.random_range(0u32..7) {
        0 => format!(
            "mozilla::detail::RunnableFunction<{ns}::{ty}::{verb}()::$_{}>::Run()",
            rng.random_range(0u32..40)
        ),
        1 => format!("std::vector<{arg}, std::allocator<{arg}> >::push_back({arg} const&)"),
        2 => format!("{ns}::(anonymous namespace)::{ty}::{verb}({arg}, {ty} const*)"),
        3 => format!(
            "{ns}::{ty}::{verb}(bool)::$_{}::operator()({arg}) const",
            rng.random_range(0u32..40)
        ),
        4 => format!("{ns}::{ty}<{arg}>::{verb}({ty}<{arg}>&&)"),
        5 => format!("void {ns}::{ty}::{verb}<{ns}::{ty}>({ns}::{ty}*, unsigned long)"),
        _ => format!("`anonymous namespace'::{ty}::{verb}({arg})"),
    }
}

fn rust_path(rng: &mut ChaCha8Rng) -> (String, String, String) {
    let krate = pick(rng, RUST_CRATES).to_string();
    let module = pick(rng, WORDS).to_string();
    let ty = type_name(rng);
    (krate, module, ty)
}

/// A legacy-mangled Rust symbol, demangled with its hash.
pub fn rust_legacy_function(rng: &mut ChaCha8Rng) -> String {
    let (krate, module, ty) = rust_path(rng);
    let verb = pick(rng, VERBS);
    let hash: u64 = rng.random();
    match rng.random_range(0u32..4) {
        0 => format!("{krate}::{module}::{ty}::{verb}::h{hash:016x}"),
        1 => format!("<{krate}::{module}::{ty} as core::ops::drop::Drop>::drop::h{hash:016x}"),
        2 => format!("{krate}::{module}::{verb}::{{{{closure}}}}::h{hash:016x}"),
        _ => format!(
            "<{krate}::{module}::{ty}<T> as {krate}::{}>::{verb}::h{hash:016x}",
            pick(rng, RUST_TRAITS)
        ),
    }
}

/// A v0-mangled Rust symbol as rustc-demangle prints it (with crate disambiguators).
pub fn rust_v0_function(rng: &mut ChaCha8Rng) -> String {
    let (krate, module, ty) = rust_path(rng);
    let verb = pick(rng, VERBS);
    let disambiguator: u64 = rng.random();
    let core: u64 = rng.random();
    let arg = pick(rng, RUST_TYPES);
    let krate = format!("{krate}[{disambiguator:x}]");
    match rng.random_range(0u32..4) {
        0 => format!("<{krate}::{module}::{ty}<{arg}> as core[{core:x}]::ops::drop::Drop>::drop"),
        1 => format!("{krate}::{module}::{verb}::<{arg}>"),
        2 => format!(
            "{krate}::{module}::{ty}::{verb}::{{closure#{}}}",
            rng.random_range(0u32..3)
        ),
        _ => format!(
            "<{krate}::{module}::{ty} as {krate}::{}>::{verb}",
            pick(rng, RUST_TRAITS)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng_for;

    #[test]
    fn names_have_the_production_shapes() {
        let mut rng = rng_for(1, b"symbol-names");
        let cpp: Vec<String> = (0..200).map(|_| cpp_function(&mut rng)).collect();
        for needle in [
            "<",
            "(anonymous namespace)",
            "operator()",
            "::Run()",
            " const&",
        ] {
            assert!(cpp.iter().any(|n| n.contains(needle)), "{needle}");
        }
        let legacy: Vec<String> = (0..50).map(|_| rust_legacy_function(&mut rng)).collect();
        let hashed = |name: &str| {
            let hash = name.rsplit("::h").next().unwrap_or_default();
            hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit())
        };
        assert!(legacy.iter().all(|n| hashed(n)), "{legacy:?}");
        let v0: Vec<String> = (0..50).map(|_| rust_v0_function(&mut rng)).collect();
        assert!(v0.iter().all(|n| n.contains('[') && !hashed(n)), "{v0:?}");
        assert!(v0.iter().any(|n| n.contains("::<")));
        assert!(v0.iter().any(|n| n.contains("{closure#")));
        for name in cpp.iter().chain(&legacy).chain(&v0) {
            assert!(!name.contains('\n'));
        }
    }
}
