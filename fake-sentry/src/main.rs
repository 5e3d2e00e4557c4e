//! `fake-sentry`: the command line is [`fake_sentry::cli`].

// Ingest allocates and frees many small buffers across threads (request tasks and the storage
// writer); mimalloc handles that pattern far better than glibc malloc. Nothing counts the heap:
// a minidump worker (this binary's `process-minidump`) has its memory capped by the kernel.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    fake_sentry::cli::main(std::env::args_os())
}
