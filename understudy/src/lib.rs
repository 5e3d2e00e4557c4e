//! `understudy`: the suite's one binary, for the image.
//!
//! `fake-sentry`, `fake-symbols` and `harness` are libraries with a `cli::main` each; their own
//! binaries call it, and so does this one, which links all three once (the harness already holds
//! the other two, so separate binaries shipped their code twice). It picks the tool the way
//! busybox does: by the name it was run as, so a symlink `fake-sentry -> understudy` behaves
//! exactly like the `fake-sentry` binary, or by its first argument (`understudy fake-sentry
//! --port 8000`). Flags, environment variables, output and exit statuses are the tool's own.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::ExitCode;

/// A tool this binary can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    FakeSentry,
    FakeSymbols,
    Harness,
}

impl Tool {
    pub const ALL: [Tool; 3] = [Tool::FakeSentry, Tool::FakeSymbols, Tool::Harness];

    /// The command name, as a symlink or a subcommand.
    pub fn name(self) -> &'static str {
        match self {
            Tool::FakeSentry => "fake-sentry",
            Tool::FakeSymbols => "fake-symbols",
            Tool::Harness => "harness",
        }
    }

    pub fn from_name(name: &OsStr) -> Option<Tool> {
        Tool::ALL.into_iter().find(|tool| name == tool.name())
    }

    /// Runs the tool's command line; `args` starts with the program name, as `argv` does.
    pub fn run(self, args: Vec<OsString>) -> ExitCode {
        match self {
            Tool::FakeSentry => fake_sentry::cli::main(args),
            Tool::FakeSymbols => fake_symbols::cli::main(args),
            Tool::Harness => harness::cli::main(args),
        }
    }
}

/// What a command line asks for: a tool and its own command line (program name first), or
/// nothing this binary knows.
pub fn choose(mut args: Vec<OsString>) -> Result<(Tool, Vec<OsString>), Vec<OsString>> {
    let invoked_as = args
        .first()
        .and_then(|program| Path::new(program).file_name())
        .and_then(Tool::from_name);
    if let Some(tool) = invoked_as {
        return Ok((tool, args));
    }
    match args
        .get(1)
        .map(OsString::as_os_str)
        .and_then(Tool::from_name)
    {
        // The subcommand becomes the program name, so the tool's help and errors name it.
        Some(tool) => Ok((tool, args.split_off(1))),
        None => Err(args),
    }
}

/// The usage this binary prints when no tool is named.
pub fn usage() -> String {
    let mut text = format!(
        "understudy {}: testing fakes for error-reporting and crash pipelines\n\n\
         Usage: understudy <TOOL> [ARGS]...   (or run it as <TOOL>, e.g. through a symlink)\n\n\
         Tools:\n",
        env!("CARGO_PKG_VERSION")
    );
    for tool in Tool::ALL {
        text.push_str(&format!("  {}\n", tool.name()));
    }
    text.push_str("\n`understudy <TOOL> --help` describes a tool.\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_name_it_was_run_as_picks_the_tool() {
        let (tool, rest) = choose(args(&["/usr/local/bin/fake-symbols", "--port", "0"])).unwrap();
        assert_eq!(tool, Tool::FakeSymbols);
        assert_eq!(rest, args(&["/usr/local/bin/fake-symbols", "--port", "0"]));
    }

    #[test]
    fn otherwise_the_first_argument_does_and_becomes_the_program_name() {
        let (tool, rest) = choose(args(&["understudy", "harness", "up", "--only", "x"])).unwrap();
        assert_eq!(tool, Tool::Harness);
        assert_eq!(rest, args(&["harness", "up", "--only", "x"]));
        // A tool name later in the line is an argument, not a choice.
        assert!(choose(args(&["understudy", "--port", "fake-sentry"])).is_err());
        assert!(choose(args(&["understudy"])).is_err());
        assert!(choose(args(&["understudy", "kent"])).is_err());
    }

    #[test]
    fn the_usage_lists_every_tool() {
        let usage = usage();
        for tool in Tool::ALL {
            assert!(usage.contains(tool.name()), "{usage}");
            assert_eq!(Tool::from_name(OsStr::new(tool.name())), Some(tool));
        }
    }
}
