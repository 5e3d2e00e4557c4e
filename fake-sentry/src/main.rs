//! `fake-sentry`: the command line is [`fake_sentry::cli`].

use cap::Cap;

// Ingest allocates and frees many small buffers across threads (request tasks and the storage
// writer); mimalloc handles that pattern far better than glibc malloc. `Cap` counts the heap so
// that a minidump worker (this binary's `process-minidump`) can cap it: the server sets no
// limit.
#[global_allocator]
static GLOBAL: Cap<mimalloc::MiMalloc> = Cap::new(mimalloc::MiMalloc, usize::MAX);

fn main() -> std::process::ExitCode {
    let host = fake_sentry::cli::Host {
        heap: Some(&GLOBAL),
        ..Default::default()
    };
    fake_sentry::cli::main_with(std::env::args_os(), host)
}
