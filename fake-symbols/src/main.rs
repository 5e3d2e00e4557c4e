//! `fake-symbols`: the command line is [`fake_symbols::cli`].

fn main() -> std::process::ExitCode {
    fake_symbols::cli::main(std::env::args_os())
}
