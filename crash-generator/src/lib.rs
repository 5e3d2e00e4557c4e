//! `crash-generator`: deterministic synthetic crashes with matching symbols and ground truth.
//!
//! From a seed and a profile it will write a minidump, the Breakpad `.sym` files of its modules
//! and a ground-truth JSON of what the real processor must report. The crate is filled in by its
//! own issue; for now it only reserves its place in the workspace.
