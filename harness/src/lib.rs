//! `harness`: the end-to-end runner of the Understudy suite.
//!
//! It will start the fakes, generate crashes, run the real `minidump-processor` against
//! `fake-symbols`, compare stacks with ground truth, audit what reached `fake-sentry`, and
//! report. The crate is filled in by its own issue; for now it only reserves its place in the
//! workspace.
