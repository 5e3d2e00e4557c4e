//! siggen's `DEFAULT_RULESET`, run in its order over one crash.

use crate::crash_data::CrashData;
use crate::py::PyErr;
use crate::rules;

/// The signature in progress, siggen's `Result`.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) signature: String,
    pub(crate) notes: Vec<String>,
    pub(crate) proto_signature: Option<String>,
    pub(crate) normalized_frames: Option<Vec<String>>,
}

impl Outcome {
    /// `result.info(rule, message)`.
    pub(crate) fn info(&mut self, rule: &str, message: String) {
        self.notes.push(format!("{rule}: {message}"));
    }

    pub(crate) fn notes_from(&mut self, rule: &str, notes: Vec<String>) {
        for note in notes {
            self.info(rule, note);
        }
    }
}

type Rule = fn(&CrashData, &mut Outcome) -> Result<(), PyErr>;

/// The rules, by the class name siggen notes them under, in `DEFAULT_RULESET`'s order.
pub(crate) const RULES: [(&str, Rule); 13] = [
    ("SignatureGenerationRule", rules::signature_generation),
    ("StackwalkerErrorSignatureRule", rules::stackwalker_error),
    ("BadHardware", rules::bad_hardware),
    ("OOMSignature", rules::oom),
    ("AbortSignature", rules::abort),
    ("SignatureShutdownTimeout", rules::shutdown_timeout),
    ("SignatureRunWatchDog", rules::run_watchdog),
    ("SignatureIPCChannelError", rules::ipc_channel_error),
    ("SignatureIPCMessageName", rules::ipc_message_name),
    ("StackOverflowSignature", rules::stack_overflow),
    ("HungProcess", rules::hung_process),
    ("SigFixWhitespace", rules::fix_whitespace),
    ("SigTruncate", rules::truncate),
];

/// Runs every rule; a rule that fails is noted and the next one runs, as in siggen.
pub(crate) fn run(data: &CrashData) -> Outcome {
    let mut outcome = Outcome::default();
    for (name, rule) in RULES {
        if let Err(e) = rule(data, &mut outcome) {
            outcome.info(name, format!("Rule failed: {e}"));
        }
    }
    outcome
}
