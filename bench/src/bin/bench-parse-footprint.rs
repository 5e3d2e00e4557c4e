//! `bench-parse-footprint --size BYTES`: parses a synthetic module of that size and prints its
//! memory figures as JSON (see `bench::parse_footprint`). A binary of its own because its global
//! allocator counts every heap byte, which the other benchmarks must not pay for; `bench
//! fake-symbols` runs it beside itself.

use std::alloc::System;

use anyhow::Context;
use cap::Cap;

/// Counts live heap bytes (no limit), so the parsed size is exact.
#[global_allocator]
static HEAP: Cap<System> = Cap::new(System, usize::MAX);

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let size = match (args.next().as_deref(), args.next()) {
        (Some("--size"), Some(size)) => size,
        _ => anyhow::bail!("usage: bench-parse-footprint --size BYTES"),
    };
    let size = fake_symbols::config::parse_size(&size)
        .map_err(anyhow::Error::msg)
        .context("--size")?;
    let footprint = bench::parse_footprint::measure(&HEAP, size)?;
    println!("{}", serde_json::to_string(&footprint)?);
    Ok(())
}
