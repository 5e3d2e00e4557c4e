//! `event-filter`: the event scrubber and auditor of the Understudy suite.
//!
//! It will apply one declarative data policy (paths with globs, actions, PII and secret
//! detectors) to outbound Sentry events: as a `before_send` hook for the `sentry` crate, as a
//! CLI over JSON and envelopes, and inside `fake-sentry` to audit what arrives. The crate is
//! filled in by its own issue; for now it only reserves its place in the workspace.
