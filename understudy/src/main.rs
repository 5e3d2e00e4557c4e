//! `understudy`: runs the tool named by argv[0] or the first argument (see the library docs).

use std::process::ExitCode;

// Ingest allocates and frees many small buffers across threads; mimalloc handles that pattern
// far better than glibc malloc. Nothing counts the heap: fake-sentry's minidump workers (this
// binary run as `fake-sentry process-minidump`) have their memory capped by the kernel.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match understudy::choose(std::env::args_os().collect()) {
        Ok((tool, args)) => tool.run(args),
        Err(args) => match args.get(1).and_then(|arg| arg.to_str()) {
            Some("-h" | "--help" | "help") => {
                print!("{}", understudy::usage());
                ExitCode::SUCCESS
            }
            Some("-V" | "--version") => {
                println!("understudy {}", env!("CARGO_PKG_VERSION"));
                ExitCode::SUCCESS
            }
            _ => {
                eprint!("{}", understudy::usage());
                ExitCode::from(2)
            }
        },
    }
}
