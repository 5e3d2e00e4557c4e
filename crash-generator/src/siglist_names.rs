//! Frame names taken from Socorro's signature lists, as vendored in `crash-signature`
//! (`siglists/`), rather than copied: each list entry is a Python regular expression, which
//! [`instantiate`] turns into one concrete text deterministically (`.*abort` → `abort`,
//! `lstrlen(A|W)` → `lstrlenA`, `libc\.so(\.\d+)?` → `libc.so`). Every candidate is then run
//! through `crash-signature` itself, and kept only when siggen would treat it as the list says
//! (a prefix frame continues the signature, an irrelevant one is skipped, a sentinel starts it),
//! so a list update can change the names but never make them lie.

use std::sync::LazyLock;

use crash_signature::siglists;
use serde_json::{Value, json};

/// Names for one kind of list frame, in list order.
#[derive(Debug)]
pub struct NamePools {
    /// Functions siggen keeps and walks past.
    pub prefix_functions: Vec<String>,
    /// Functions siggen skips.
    pub irrelevant_functions: Vec<String>,
    /// Functions a signature starts at.
    pub sentinel_functions: Vec<String>,
    /// Library basenames on the prefix list, for frames without symbols.
    pub prefix_modules: Vec<String>,
}

/// The pools, built once from the lists.
pub static POOLS: LazyLock<NamePools> = LazyLock::new(build_pools);

/// What siggen does with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Treatment {
    Prefix,
    Irrelevant,
    Ordinary,
}

/// Marks the end of the probe stacks; no list matches it.
const END: &str = "understudy_probe_end";
const TOP: &str = "understudy_probe_top";

fn probe(frames: Vec<Value>) -> crash_signature::SignatureResult {
    crash_signature::generate(&json!({
        "json_dump": {
            "crash_info": {"crashing_thread": 0, "type": "SIGSEGV"},
            "system_info": {"os": "Linux"},
            "threads": [{"frames": frames}],
        },
    }))
}

/// How siggen treats `frame` (a frame object) followed by an ordinary frame. A name that sets
/// off another rule (`NS_ABORT_OOM` makes an OOM signature) is no list frame here: it would
/// change more than the walk.
fn treatment(frame: Value) -> Treatment {
    let result = probe(vec![frame, json!({"function": END})]);
    let first = result
        .normalized_frames
        .as_ref()
        .and_then(|frames| frames.first())
        .cloned()
        .unwrap_or_default();
    if result.signature == END {
        Treatment::Irrelevant
    } else if result.signature == format!("{first} | {END}") {
        Treatment::Prefix
    } else {
        Treatment::Ordinary
    }
}

/// Whether siggen starts the signature at a function named `name` below an ordinary frame
/// (there, or at the frame below when the sentinel is itself irrelevant).
fn is_sentinel(name: &str) -> bool {
    let result = probe(vec![
        json!({"function": TOP}),
        json!({"function": name}),
        json!({"function": END}),
    ]);
    let normalized = result
        .normalized_frames
        .as_ref()
        .and_then(|frames| frames.get(1))
        .cloned()
        .unwrap_or_default();
    result.signature == END || result.signature.starts_with(&normalized)
}

/// Whether siggen signs a function named `name` as an ordinary frame: on no list, no sentinel,
/// setting off no other rule (C/C++ rules, as no source file is given).
pub fn is_ordinary_function(name: &str) -> bool {
    treatment(json!({"function": name})) == Treatment::Ordinary && !is_sentinel(name)
}

fn looks_like_module(name: &str) -> bool {
    name.ends_with(".so") || name.ends_with(".dll") || name.ends_with(".dylib") || name == "XUL"
}

/// A name that reads as a function: list entries that only match a prefix (`IPC::`, `je_`,
/// `nsTArray<`) get a plausible rest.
fn as_function_name(text: &str) -> String {
    if text.ends_with("::") {
        format!("{text}Run")
    } else if text.ends_with('_') {
        format!("{text}free")
    } else if text.ends_with('<') {
        format!("{text}T>::Run")
    } else {
        text.to_string()
    }
}

/// A usable name: printable, no leading placeholder (`@0x…` frames are addresses, `<…>` are
/// siggen's placeholders for a missing name) and nothing a `.sym` line cannot hold.
fn usable(name: &str) -> bool {
    name.len() >= 3
        && !name.starts_with(['@', '<', '.', ' '])
        && !name.ends_with(' ')
        && name.chars().all(|c| (' '..='~').contains(&c))
}

fn build_pools() -> NamePools {
    let mut pools = NamePools {
        prefix_functions: Vec::new(),
        irrelevant_functions: Vec::new(),
        sentinel_functions: Vec::new(),
        prefix_modules: Vec::new(),
    };
    let candidates = siglists::prefix_entries()
        .chain(siglists::irrelevant_entries())
        .filter_map(instantiate);
    for text in candidates {
        if looks_like_module(&text) {
            if usable(&text) && treatment(json!({"module": text})) == Treatment::Prefix {
                push_unique(&mut pools.prefix_modules, text);
            }
            continue;
        }
        let name = as_function_name(&text);
        if !usable(&name) || is_sentinel(&name) {
            continue;
        }
        match treatment(json!({"function": name})) {
            Treatment::Prefix => push_unique(&mut pools.prefix_functions, name),
            Treatment::Irrelevant => push_unique(&mut pools.irrelevant_functions, name),
            Treatment::Ordinary => {}
        }
    }
    for sentinel in siglists::sentinel_entries() {
        if usable(sentinel) && is_sentinel(sentinel) {
            push_unique(&mut pools.sentinel_functions, sentinel.to_string());
        }
    }
    pools
}

fn push_unique(pool: &mut Vec<String>, name: String) {
    if !pool.contains(&name) {
        pool.push(name);
    }
}

/// One text a Python regular expression matches at its start, chosen deterministically: the
/// first alternative, optional parts left out, `.*` empty, a class's first character, `\d` as
/// `1`. `None` for syntax this does not handle (lookarounds, negated classes).
pub fn instantiate(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut at = 0;
    let text = alternative(&chars, &mut at)?;
    // Anything left is a `|` at the top level: the first alternative is enough.
    Some(text)
}

/// Instantiates up to the end of the current group (a `)` or the pattern's end), using the
/// first alternative and skipping the rest.
fn alternative(chars: &[char], at: &mut usize) -> Option<String> {
    let mut out = String::new();
    while *at < chars.len() {
        let c = chars[*at];
        let atom: String = match c {
            ')' => return Some(out),
            '|' => {
                skip_to_group_end(chars, at)?;
                return Some(out);
            }
            '^' | '$' => {
                *at += 1;
                continue;
            }
            '\\' => {
                let escaped = *chars.get(*at + 1)?;
                *at += 2;
                match escaped {
                    'd' => "1".to_string(),
                    's' => " ".to_string(),
                    'w' => "a".to_string(),
                    c if c.is_ascii_alphanumeric() => return None,
                    c => c.to_string(),
                }
            }
            '.' => {
                *at += 1;
                "x".to_string()
            }
            '[' => {
                *at += 1;
                let first = *chars.get(*at)?;
                if first == '^' {
                    return None;
                }
                let first = if first == '\\' {
                    *at += 1;
                    *chars.get(*at)?
                } else {
                    first
                };
                // Skip to the class's closing bracket.
                while *at < chars.len() && !(chars[*at] == ']' && chars[*at - 1] != '\\') {
                    *at += 1;
                }
                *at += 1;
                first.to_string()
            }
            '(' => {
                *at += 1;
                if chars.get(*at) == Some(&'?') {
                    return None;
                }
                let inner = alternative(chars, at)?;
                if chars.get(*at) != Some(&')') {
                    return None;
                }
                *at += 1;
                inner
            }
            c => {
                *at += 1;
                c.to_string()
            }
        };
        // A quantifier after the atom.
        match chars.get(*at) {
            Some('?' | '*') => *at += 1,
            Some('+') => {
                *at += 1;
                out.push_str(&atom);
            }
            Some('{') => {
                let close = chars[*at..].iter().position(|&c| c == '}')? + *at;
                let spec: String = chars[*at + 1..close].iter().collect();
                let least: usize = spec.split(',').next()?.trim().parse().ok()?;
                *at = close + 1;
                out.push_str(&atom.repeat(least));
            }
            _ => out.push_str(&atom),
        }
    }
    Some(out)
}

/// Moves past the rest of the current group's alternatives, to its `)` (left for the caller)
/// or the pattern's end.
fn skip_to_group_end(chars: &[char], at: &mut usize) -> Option<()> {
    let mut depth = 0usize;
    let mut in_class = false;
    while *at < chars.len() {
        match chars[*at] {
            '\\' => *at += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => {
                if depth == 0 {
                    return Some(());
                }
                depth -= 1;
            }
            _ => {}
        }
        *at += 1;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_expressions_become_one_matching_text() {
        for (pattern, text) in [
            (".*abort", "abort"),
            ("lstrlen(A|W)", "lstrlenA"),
            (r"libc\.so(\.\d+)?", "libc.so"),
            (r"(libxul\.so|xul\.dll|XUL)", "libxul.so"),
            (r"\<name omitted\>", "<name omitted>"),
            ("JS::Call$", "JS::Call"),
            (
                r"[-+]\[NSException raise(:format:(arguments:)?)?\]",
                "-[NSException raise]",
            ),
            ("@0x[0-9a-fA-F]{2,}", "@0x00"),
            ("wl_(array|proxy)_.*", "wl_array_"),
            (r"(Nt|Zw)?WaitForSingleObject(Ex)?", "WaitForSingleObject"),
        ] {
            assert_eq!(instantiate(pattern).as_deref(), Some(text), "{pattern}");
        }
        assert_eq!(instantiate("(?i)x"), None);
    }

    #[test]
    fn pools_hold_names_siggen_treats_as_their_list_says() {
        let pools = &*POOLS;
        assert!(
            pools.prefix_functions.len() > 100,
            "{:?}",
            pools.prefix_functions
        );
        assert!(pools.irrelevant_functions.len() > 100);
        assert!(pools.sentinel_functions.contains(&"_purecall".to_string()));
        assert!(pools.prefix_functions.contains(&"memcpy".to_string()));
        assert!(
            pools
                .irrelevant_functions
                .contains(&"KiFastSystemCallRet".to_string())
        );
        for module in ["libc.so", "vcruntime140.dll", "libobjc.A.dylib"] {
            assert!(
                pools.prefix_modules.contains(&module.to_string()),
                "{module}"
            );
        }
        for name in &pools.prefix_functions {
            assert_eq!(
                probe(vec![json!({"function": name}), json!({"function": END})])
                    .signature
                    .matches(" | ")
                    .count(),
                1,
                "{name}"
            );
        }
        assert!(is_ordinary_function("nsFoo::Bar"));
        assert!(!is_ordinary_function("memcpy"));
    }
}
