//! Function names, normalised as siggen normalises them: the C/C++ rules and the Rust rules.
//!
//! C/C++ (any frame whose source file does not end in `.rs`):
//! 1. drop a trailing member-function qualifier (`const`, `const&`, `const &`, `&&`, `&`);
//! 2. unless the name has `::operator`, drop a prefix and return type (`static void *`): the
//!    name is split on spaces outside brackets and the last piece kept, re-joined with a
//!    parameter list or `[clone ...]` that followed a space;
//! 3. `` `anonymous namespace' `` becomes `(anonymous namespace)`;
//! 4. lambda numbers go: `::$_12::` becomes `::$::`;
//! 5. template arguments collapse to `<T>`, except after `IPC::ParamTraits` and in `<name
//!    omitted>` / `<unknown in foo.dll>`;
//! 6. parameter lists go, except `(anonymous namespace)` and after `operator`;
//! 7. a PGO `[clone .cold.N]` label goes;
//! 8. a name on the line-number list gets `:<line>`;
//! 9. no space before `*`, `&` or `,`, and a space after every `,`.
//!
//! Rust (source file ending in `.rs`): steps 2, 5 (except inside `<X as Y>`), 6, 8 and 9, then
//! the `::h<hex>` hash suffix goes.

use std::sync::LazyLock;

use regex::{NoExpand, Regex};
use serde_json::Value;

use crate::lists::LISTS;
use crate::py::{self, PyErr};

/// siggen's `fixup_lambda_numbers`.
static LAMBDA_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"::\$_\d+::").expect("a valid pattern"));
/// siggen's `fixup_hash` (`::h[0-9a-fA-F]+$`; Python's `$` may stand before a final newline,
/// which is kept).
static RUST_HASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"::h[0-9a-fA-F]+(\n?)\z").expect("a valid pattern"));

/// A C/C++ function name, normalised.
pub(crate) fn cpp_function(function: &str, line: Option<&Value>) -> Result<String, PyErr> {
    let mut function = function.to_string();
    for qualifier in ["const", "const&", "const &", "&&", "&"] {
        if let Some(head) = function.strip_suffix(qualifier) {
            function = py::strip(head).to_string();
        }
    }
    if !function.contains("::operator") {
        // An empty name has no last piece: Python's IndexError.
        function = drop_prefix_and_return_type(&function)
            .ok_or_else(|| PyErr::lookup("list index out of range"))?;
    }
    let function = function.replace("`anonymous namespace'", "(anonymous namespace)");
    let function = LAMBDA_NUMBER.replace_all(&function, NoExpand("::$::"));
    let function = collapse(
        &function,
        '<',
        '>',
        "<T>",
        &["name omitted", "IPC::ParamTraits", " in "],
    );
    let mut function = collapse(
        &function,
        '(',
        ')',
        "",
        &["anonymous namespace", "operator"],
    );
    if function.contains("clone .cold") {
        function = collapse(&function, '[', ']', "", &[]);
    }
    Ok(finish(with_line_number(function, line)))
}

/// A Rust function name, normalised.
pub(crate) fn rust_function(function: &str, line: Option<&Value>) -> String {
    let function = drop_prefix_and_return_type(function).unwrap_or_default();
    let function = collapse(&function, '<', '>', "<T>", &[" as "]);
    let function = collapse(&function, '(', ')', "", &[]);
    let function = finish(with_line_number(function, line));
    RUST_HASH.replace(&function, "$1").into_owned()
}

/// Appends `:<line>` to names on the line-number list.
fn with_line_number(function: String, line: Option<&Value>) -> String {
    if LISTS.line_numbers.is_match(&function) {
        format!("{function}:{}", py::to_str_opt(line))
    } else {
        function
    }
}

/// No space before `*`, `&` or `,` (siggen's `fixup_space`), then a space after each `,`
/// that lacks one (`fixup_comma`, which sees the first fix-up's output).
fn finish(function: String) -> String {
    let chars: Vec<char> = function.chars().collect();
    let kept: Vec<char> = chars
        .iter()
        .enumerate()
        .filter(|&(i, &c)| !(c == ' ' && matches!(chars.get(i + 1), Some('*' | '&' | ','))))
        .map(|(_, &c)| c)
        .collect();
    let mut out = String::with_capacity(function.len() + 8);
    for (i, &c) in kept.iter().enumerate() {
        out.push(c);
        if c == ',' && kept.get(i + 1) != Some(&' ') {
            out.push(' ');
        }
    }
    out
}

/// The text between `open` and `close` (nesting counted) replaced by `replacement`, except
/// where an exception string ends just before the opening (or closing) delimiter or occurs
/// inside the bracketed text. An unclosed bracket at the end is treated as closed there.
pub(crate) fn collapse(
    function: &str,
    open: char,
    close: char,
    replacement: &str,
    exceptions: &[&str],
) -> String {
    let is_exception = |before: &str, token: &str| {
        exceptions
            .iter()
            .any(|s| before.ends_with(s) || token.contains(s))
    };
    let mut out = String::with_capacity(function.len());
    let mut depth = 0usize;
    let mut token = String::new();
    let mut last = 0;
    for (i, c) in function.char_indices() {
        last = i;
        if depth == 0 {
            if c == open && !is_exception(&function[..i], "") {
                depth = 1;
                token.clear();
                token.push(c);
            } else {
                out.push(c);
            }
            continue;
        }
        token.push(c);
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                if is_exception(&function[..i], &token) {
                    out.push_str(&token);
                } else {
                    out.push_str(replacement);
                }
                token.clear();
            }
        }
    }
    if depth > 0 {
        // siggen checks the text before the last character here.
        if is_exception(&function[..last], &token) {
            out.push_str(&token);
        } else {
            out.push_str(replacement);
        }
    }
    out
}

/// The last space-separated piece of a function name (spaces inside `()`, `{}`, `[]`, `<>`
/// and `` `' `` do not separate), joined back with the pieces before it while it starts with
/// `(` or `[clone`. `None` for an empty name.
pub(crate) fn drop_prefix_and_return_type(function: &str) -> Option<String> {
    let closer = |open: char| match open {
        '(' => ')',
        '{' => '}',
        '[' => ']',
        '<' => '>',
        _ => '\'',
    };
    let mut pieces: Vec<String> = Vec::new();
    let mut open: Vec<char> = Vec::new();
    let mut current = String::new();
    for c in function.chars() {
        match c {
            '(' | '{' | '[' | '<' | '`' => {
                open.push(c);
                current.push(c);
            }
            ')' | '}' | ']' | '>' | '\'' => {
                if open.last().is_some_and(|&o| closer(o) == c) {
                    open.pop();
                }
                current.push(c);
            }
            ' ' if open.is_empty() => pieces.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    while pieces.len() > 1 {
        let last = &pieces[pieces.len() - 1];
        if !(last.starts_with('(') || last.starts_with("[clone")) {
            break;
        }
        let last = pieces.pop().expect("two pieces");
        let before = pieces.pop().expect("two pieces");
        pieces.push(format!("{before} {last}"));
    }
    pieces.pop()
}

/// siggen's `parse_source_file`: the path inside a `vcs:root:path:revision` or `c:path`
/// source file, an absolute path as it is, `None` for anything else.
pub(crate) fn parse_source_file(file: &str) -> Option<&str> {
    let parts: Vec<&str> = file.split(':').collect();
    match parts.len() {
        4 => Some(parts[2]),
        2 => Some(parts[1]),
        _ if file.starts_with('/') => Some(file),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cpp(function: &str) -> String {
        cpp_function(function, Some(&json!(7))).unwrap()
    }

    #[test]
    fn cpp_names_collapse() {
        for (raw, want) in [
            ("f( *s , &n)", "f"),
            ("operator()(s,t,u)", "operator()"),
            (
                "::(anonymous namespace)::f3(s,t,u)",
                "::(anonymous namespace)::f3",
            ),
            (
                "Alpha<Bravo<Charlie>, Delta>::Echo<Foxtrot>",
                "Alpha<T>::Echo<T>",
            ),
            ("`anonymous namespace'::foo", "(anonymous namespace)::foo"),
            (
                "static void * Allocator<MozJemallocBase>::malloc(unsigned __int64)",
                "Allocator<T>::malloc",
            ),
            (
                "IPC::ParamTraits<nsTSubstring<char> >::Write(IPC::Message *,nsTSubstring<char> const &)",
                "IPC::ParamTraits<nsTSubstring<T> >::Write",
            ),
            ("<unknown in foo.dll>", "<unknown in foo.dll>"),
            ("<name omitted>", "<name omitted>"),
            (
                "js::jit::Foo::$_3::operator()(int) const",
                "js::jit::Foo::$::operator()",
            ),
            ("foo(int) [clone .cold.111]", "foo "),
            ("js_Interpret(JSContext*)", "js_Interpret:7"),
            ("Foo::Bar(a,b) const &", "Foo::Bar"),
            ("a::b<c", "a::b<T>"),
        ] {
            assert_eq!(cpp(raw), want, "{raw}");
        }
        assert_eq!(
            cpp_function("const", None).unwrap_err(),
            PyErr::lookup("list index out of range")
        );
    }

    #[test]
    fn rust_names_collapse() {
        for (raw, want) in [
            (
                "core::ptr::drop_in_place<alloc::vec::Vec<u8>>::h0123456789abcdef",
                "core::ptr::drop_in_place<T>",
            ),
            (
                "<rayon_core::job::HeapJob<BODY> as rayon_core::job::Job>::execute",
                "<rayon_core::job::HeapJob<BODY> as rayon_core::job::Job>::execute",
            ),
            (
                "std::rt::lang_start::{{closure}}",
                "std::rt::lang_start::{{closure}}",
            ),
            ("app::main::head", "app::main"),
            ("f(a,b)", "f"),
        ] {
            assert_eq!(rust_function(raw, None), want, "{raw}");
        }
    }

    #[test]
    fn fixups_see_each_others_output() {
        assert_eq!(finish("a<x ,y>".into()), "a<x, y>");
        assert_eq!(finish("a ,".into()), "a, ");
        assert_eq!(finish("a  *b".into()), "a *b");
    }

    #[test]
    fn source_files() {
        assert_eq!(
            parse_source_file("hg:hg.mozilla.org/m-c:js/src/a.rs:abc"),
            Some("js/src/a.rs")
        );
        assert_eq!(parse_source_file("c:\\src\\a.rs"), Some("\\src\\a.rs"));
        assert_eq!(
            parse_source_file("/rustc/x/library/core/src/panicking.rs"),
            Some("/rustc/x/library/core/src/panicking.rs")
        );
        assert_eq!(parse_source_file("src/main.rs"), None);
        assert_eq!(parse_source_file("a:b:c"), None);
    }
}
