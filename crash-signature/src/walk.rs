//! From normalised frames to a signature: siggen's walk over the signature lists.
//!
//! 1. If any frame is a sentinel, the frames before the earliest sentinel are dropped.
//! 2. Frames are taken from the top: empty ones and those on the irrelevant list are skipped;
//!    a module-only frame (`*.dll`, `*.so`, `XUL`, `<name omitted>`, `<unknown in ...>`) equal
//!    to the frame just taken is skipped too, so a run of them counts once; every other frame
//!    is taken, and the walk stops after the first one that is not on the prefix list.
//! 3. The frames taken are joined with ` | `. When none was, siggen notes it and falls back to
//!    the first remaining frame, or to `EMPTY: no frame data available` when there is none.

use crate::lists::LISTS;

/// The signature of a thread's normalised frames, and siggen's notes about it.
pub(crate) fn walk(frames: &[String], crashing_thread: i128) -> (String, Vec<String>) {
    let lists = &*LISTS;
    let start = lists
        .sentinels
        .iter()
        .filter_map(|sentinel| frames.iter().position(|f| f == sentinel))
        .min()
        .unwrap_or(0);
    let frames = &frames[start..];

    let mut taken: Vec<&str> = Vec::new();
    for frame in frames {
        if frame.is_empty() || lists.irrelevant.is_match(frame) {
            continue;
        }
        if is_module_only(frame) && taken.last() == Some(&frame.as_str()) {
            continue;
        }
        taken.push(frame);
        if !lists.prefix.is_match(frame) {
            break;
        }
    }

    let signature = taken.join(" | ");
    if !signature.is_empty() {
        return (signature, Vec::new());
    }
    // siggen's other case, "EMPTY: no crashing thread identified", needs a crashing thread of
    // None, which its rule never passes (a missing one is thread 0).
    let note = format!("CSignatureTool: no frame data for crashing thread ({crashing_thread})");
    let fallback = match frames.first() {
        Some(first) => first.clone(),
        None => "EMPTY: no frame data available".to_string(),
    };
    (fallback, vec![note])
}

/// A frame that names only a module (or siggen's placeholders for a missing name).
fn is_module_only(frame: &str) -> bool {
    if frame.starts_with("(unloaded") {
        return false;
    }
    let lower = frame.to_lowercase();
    lower.ends_with(".dll")
        || lower.ends_with(".so")
        || frame == "XUL"
        || frame == "<name omitted>"
        || frame.starts_with("<unknown in")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(frames: &[&str]) -> String {
        let frames: Vec<String> = frames.iter().map(|f| f.to_string()).collect();
        walk(&frames, 0).0
    }

    #[test]
    fn prefixes_continue_and_irrelevant_frames_are_skipped() {
        assert_eq!(
            sig(&["KiFastSystemCallRet", "memcpy", "Foo::Bar", "main"]),
            "memcpy | Foo::Bar"
        );
        assert_eq!(sig(&["", "Foo::Bar"]), "Foo::Bar");
    }

    #[test]
    fn repeated_module_frames_count_once() {
        assert_eq!(sig(&["xul.dll", "xul.dll", "Foo"]), "xul.dll | Foo");
        assert_eq!(sig(&["a.dll", "A.DLL", "A.DLL", "Foo"]), "a.dll | A.DLL");
    }

    #[test]
    fn sentinels_start_the_signature() {
        assert_eq!(sig(&["Foo", "_purecall", "Bar"]), "_purecall | Bar");
    }

    #[test]
    fn all_irrelevant_falls_back_to_the_first_frame() {
        let frames = vec!["KiFastSystemCallRet".to_string()];
        let (signature, notes) = walk(&frames, 3);
        assert_eq!(signature, "KiFastSystemCallRet");
        assert_eq!(
            notes,
            ["CSignatureTool: no frame data for crashing thread (3)"]
        );
        assert_eq!(walk(&[], 0).0, "EMPTY: no frame data available");
    }
}
