//! The memory budget shared by the requests being ingested (`--max-in-flight`).
//!
//! Per-request limits (`--max-request-body`, `--max-decompressed`, the item limits) keep one
//! request's memory bounded, but not the sum: a hundred clients each sending an envelope at
//! the limit would need tens of gigabytes. Every request therefore charges what it holds to
//! one [`InFlightBudget`] as it goes: the body as it arrives, the decompressed body as it
//! grows, the item copies parsing makes, what an audit keeps, and the copies made to store it
//! (zstd's, each in a buffer of its input's bound, see `Store::preparing_bytes`) and to forward
//! it. The charge is a [`RequestCharge`] that releases
//! everything when the request is done (after its envelope is committed, so envelopes queued
//! for the writer count too). A request that would need more than the whole budget gets 413; one
//! that would fit but finds the budget in use by others gets 503, which is what Relay answers
//! when it is overloaded, instead of waiting while holding part of the budget.
//!
//! The budget itself is [`http_edge::InFlightBudget`], shared with the harness's collector;
//! this service names its knob when it answers (see [`crate::error::IngestError`]).

pub use http_edge::{BudgetError, InFlightBudget, RequestCharge};

/// The flag that sets the budget, named in every refusal it causes.
pub const KNOB: &str = "--max-in-flight";
