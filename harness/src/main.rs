//! `harness`: see the library docs; the command line is [`harness::cli`].

fn main() -> std::process::ExitCode {
    harness::cli::main(std::env::args_os())
}
