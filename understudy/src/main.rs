//! `understudy`: runs the tool named by argv[0] or the first argument (see the library docs).

use std::process::ExitCode;

use cap::Cap;

// Ingest allocates and frees many small buffers across threads; mimalloc handles that pattern
// far better than glibc malloc. `Cap` counts the heap so that fake-sentry's minidump workers
// (this binary run as `fake-sentry process-minidump`) can cap theirs, as the `fake-sentry`
// binary does; nothing else sets a limit.
#[global_allocator]
static GLOBAL: Cap<mimalloc::MiMalloc> = Cap::new(mimalloc::MiMalloc, usize::MAX);

fn main() -> ExitCode {
    match understudy::choose(std::env::args_os().collect()) {
        Ok((tool, args)) => tool.run(args, &GLOBAL),
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
