//! The scenario file (`harness run SCENARIO.toml`): what to start, which crashes, which
//! faults, which processors, which data policy, and what must hold.
//!
//! Unknown keys are errors (a typo must not silently turn a check off), and [`Scenario::load`]
//! validates everything it can before anything starts: profiles, fault rules, the policy, the
//! ranges of every number. Relative paths are resolved against the scenario file's folder.
//! `harness/scenarios/demo.toml` is the demo written out; see the README for every key.

use std::path::{Path, PathBuf};

use crash_generator::{EdgeCase, OsFlavor, Profile};
use event_filter::Policy;
use fake_symbols::FaultRule;
use serde::Deserialize;

use crate::component::Leak;

/// Most generated crashes one scenario may ask for.
pub const MAX_CRASHES: u32 = 100_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub services: Services,
    #[serde(default)]
    pub processor: ProcessorSettings,
    #[serde(default)]
    pub corpus: Corpus,
    #[serde(default, rename = "fault")]
    pub faults: Vec<FaultScenario>,
    #[serde(default)]
    pub audit: Option<AuditSettings>,
    /// How crashes of entries with `submit = [.., "sentry"]` are sent to fake-sentry.
    #[serde(default)]
    pub sentry_native: Option<SentryNativeSettings>,
    #[serde(default)]
    pub expect: Expectations,
    /// Set by [`Scenario::load`]: the folder relative paths are resolved against.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// A service: started in-process, or somebody's own at a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    Builtin,
    External(String),
    Disabled,
}

impl<'de> Deserialize<'de> for Service {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "builtin" => Ok(Service::Builtin),
            "none" => Ok(Service::Disabled),
            url if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Service::External(url.trim_end_matches('/').to_string()))
            }
            other => Err(serde::de::Error::custom(format!(
                "{other:?} is not \"builtin\", \"none\" or an http(s) URL"
            ))),
        }
    }
}

fn builtin() -> Service {
    Service::Builtin
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Services {
    #[serde(default = "builtin")]
    pub fake_sentry: Service,
    #[serde(default = "builtin")]
    pub fake_symbols: Service,
    #[serde(default = "builtin")]
    pub collector: Service,
    /// `Auth-Token` with upload permission, for an external symbols server.
    #[serde(default)]
    pub symbols_upload_token: Option<String>,
}

impl Default for Services {
    fn default() -> Self {
        Self {
            fake_sentry: Service::Builtin,
            fake_symbols: Service::Builtin,
            collector: Service::Builtin,
            symbols_upload_token: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorSettings {
    /// Run the real `minidump-processor` in this process.
    #[serde(default = "yes")]
    pub in_process: bool,
    /// An external `minidump-stackwalk` (path, or a name on `PATH`), run with Socorro's
    /// flags; also compared with the in-process result.
    #[serde(default)]
    pub stackwalk: Option<PathBuf>,
    /// Per-download timeout (`--symbols-download-timeout-secs`).
    #[serde(default = "default_download_timeout")]
    pub symbols_download_timeout_secs: u64,
    /// Socorro's `kill_timeout` for the external stackwalker.
    #[serde(default = "default_kill_timeout")]
    pub kill_timeout_secs: u64,
    /// Crashes processed at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

impl Default for ProcessorSettings {
    fn default() -> Self {
        Self {
            in_process: true,
            stackwalk: None,
            symbols_download_timeout_secs: default_download_timeout(),
            kill_timeout_secs: default_kill_timeout(),
            concurrency: default_concurrency(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_download_timeout() -> u64 {
    30
}
fn default_kill_timeout() -> u64 {
    120
}
fn default_concurrency() -> usize {
    4
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corpus {
    #[serde(default)]
    pub generated: Vec<GeneratedCorpus>,
    /// A folder of real dumps (`*.dmp`, or Antenna's `v1/dump/<id>`): processed, signed and
    /// reported; with no ground truth, they pass when processing succeeds.
    #[serde(default)]
    pub dumps_dir: Option<PathBuf>,
}

/// A profile: an OS flavour's defaults (`"linux"`, `"windows"`, `"windows-x86"`, `"mac"`), a profile file, or
/// an inline table in crash-generator's profile format.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ProfileRef {
    Named(String),
    Inline(Box<Profile>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratedCorpus {
    pub profile: ProfileRef,
    /// Distinct programs (module sets); crashes are spread over them, so modules repeat
    /// across crashes as they do in production.
    #[serde(default = "one")]
    pub programs: u32,
    pub crashes: u32,
    #[serde(default)]
    pub seed: u64,
    /// Where the crashes are submitted; by default the collector (when there is one).
    #[serde(default)]
    pub submit: Option<Vec<SubmitTo>>,
}

/// A place a crash is submitted to, as a crash reporter would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitTo {
    /// The Antenna-compatible collector (`POST /submit`), as Firefox's crash reporter does.
    Collector,
    /// fake-sentry's minidump endpoint (`POST /api/{project}/minidump/`), as sentry-native's
    /// Crashpad handler does; fake-sentry processes it and the result is checked.
    Sentry,
}

impl SubmitTo {
    fn name(self) -> &'static str {
        match self {
            SubmitTo::Collector => "collector",
            SubmitTo::Sentry => "sentry",
        }
    }
}

/// Where one corpus entry's crashes go, defaults applied ([`Scenario::destinations`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Destinations {
    pub collector: bool,
    pub sentry: bool,
}

fn one() -> u32 {
    1
}

/// One injected symbols fault, the crashes processed under it, and its expected outcome.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultScenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// fake-symbols fault rules in force while these crashes are processed.
    pub rules: Vec<FaultRule>,
    /// How many crashes of the main corpus (from the first) to process under the fault,
    /// with a fresh symbol cache.
    #[serde(default = "three")]
    pub crashes: u32,
    /// Per-download timeout for this scenario (defaults to the processor's).
    #[serde(default)]
    pub symbols_download_timeout_secs: Option<u64>,
    #[serde(default)]
    pub expect: FaultExpectation,
}

fn three() -> u32 {
    3
}

/// Which modules (of those that have symbols) must come out symbolicated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Symbolicated {
    /// Every one, as without the fault (and every frame matches the ground truth).
    All,
    /// None: every module is reported missing, and processing still succeeds.
    None,
    /// Not checked.
    #[default]
    Any,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultExpectation {
    #[serde(default)]
    pub symbolicated: Symbolicated,
    /// At most this many requests for any one sym file (1: no retries, cache respected).
    #[serde(default)]
    pub max_requests_per_module: Option<u64>,
    /// At least this many requests in total reached the symbols server.
    #[serde(default)]
    pub min_requests: Option<u64>,
    /// Processing these crashes takes at most this long (the processor never hangs past its
    /// timeout).
    #[serde(default)]
    pub max_seconds: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// An event-filter preset name (`strict`, `python-sdk`, `fillmore`) or a policy file.
    pub policy: String,
    /// Run the sample Sentry-instrumented component against fake-sentry first.
    #[serde(default)]
    pub component: Option<ComponentSettings>,
    /// Project whose items are audited (all projects when absent).
    #[serde(default)]
    pub project: Option<u64>,
    /// How long to wait for the component's events to arrive.
    #[serde(default = "default_wait")]
    pub wait_secs: u64,
}

fn default_wait() -> u64 {
    20
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSettings {
    #[serde(default)]
    pub leak: Leak,
    /// Apply the audit policy as the component's `before_send` scrubber.
    #[serde(default)]
    pub scrub: bool,
    #[serde(default = "default_orders")]
    pub orders: u32,
    #[serde(default = "one_u64")]
    pub project: u64,
}

/// The `[sentry_native]` section: how crashes are sent to fake-sentry's minidump endpoint and
/// how long its processing may take. Every key has a default; the section may be left out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentryNativeSettings {
    /// The project in the minidump URL (`/api/{project}/minidump/`).
    #[serde(default = "one_u64")]
    pub project: u64,
    /// Sent as `sentry[release]`.
    #[serde(default = "default_release")]
    pub release: String,
    /// Sent as `sentry[environment]`.
    #[serde(default = "default_environment")]
    pub environment: String,
    /// Gzip the form and send `Content-Encoding: gzip`, as Crashpad's handler does (Breakpad
    /// sends it plain).
    #[serde(default = "yes")]
    pub gzip: bool,
    /// How long fake-sentry may take to process every submitted dump.
    #[serde(default = "default_processing_wait")]
    pub wait_secs: u64,
}

impl Default for SentryNativeSettings {
    fn default() -> Self {
        Self {
            project: 1,
            release: default_release(),
            environment: default_environment(),
            gzip: true,
            wait_secs: default_processing_wait(),
        }
    }
}

/// The longest `[sentry_native] wait_secs` (fake-sentry's longest long poll).
pub const MAX_SENTRY_WAIT_SECS: u64 = 300;

fn default_release() -> String {
    concat!("understudy-harness@", env!("CARGO_PKG_VERSION")).to_string()
}
fn default_environment() -> String {
    "harness".to_string()
}
fn default_processing_wait() -> u64 {
    60
}

fn default_orders() -> u32 {
    6
}
fn one_u64() -> u64 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Every frame of every generated crash matches its ground truth.
    #[serde(default = "yes")]
    pub ground_truth: bool,
    /// The in-process processor and the external stackwalker agree on every field.
    #[serde(default = "yes")]
    pub processors_agree: bool,
    /// Symbols fetched at most this many times per sym file during the main corpus.
    #[serde(default)]
    pub max_symbol_requests_per_module: Option<u64>,
    /// The whole run takes at most this long.
    #[serde(default)]
    pub max_seconds: Option<f64>,
    /// Expectations about particular crashes.
    #[serde(default)]
    pub crash: Vec<CrashExpectation>,
}

impl Default for Expectations {
    fn default() -> Self {
        Self {
            ground_truth: true,
            processors_agree: true,
            max_symbol_requests_per_module: None,
            max_seconds: None,
            crash: Vec::new(),
        }
    }
}

/// What one crash (by name, `<os>-<seed>`) must show.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashExpectation {
    pub crash: String,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub crash_reason: Option<String>,
    /// Function names of the crashing thread's top frames, in order.
    #[serde(default)]
    pub top_frames: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("scenario {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("scenario {name}: {message}")]
    Invalid { name: String, message: String },
}

impl Scenario {
    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Self::from_toml(&text, path, base)
    }

    /// Parses and validates scenario text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &Path, base_dir: PathBuf) -> Result<Self, ScenarioError> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        scenario.base_dir = base_dir;
        scenario.validate()?;
        Ok(scenario)
    }

    fn invalid(&self, message: String) -> ScenarioError {
        ScenarioError::Invalid {
            name: self.name.clone(),
            message,
        }
    }

    /// Checks what parsing cannot.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if self.name.trim().is_empty() {
            return Err(self.invalid("name is empty".into()));
        }
        let total: u64 = self
            .corpus
            .generated
            .iter()
            .map(|g| u64::from(g.crashes))
            .sum();
        if total > u64::from(MAX_CRASHES) {
            return Err(self.invalid(format!("{total} generated crashes; at most {MAX_CRASHES}")));
        }
        if total == 0 && self.corpus.dumps_dir.is_none() && self.audit.is_none() {
            return Err(self.invalid("nothing to do: no crashes, no dumps_dir, no audit".into()));
        }
        for (i, g) in self.corpus.generated.iter().enumerate() {
            if g.programs == 0 || g.programs > g.crashes.max(1) {
                return Err(self.invalid(format!(
                    "corpus.generated[{i}]: programs = {} must be in 1..=crashes",
                    g.programs
                )));
            }
            let profile = self
                .profile(&g.profile)
                .map_err(|e| self.invalid(format!("corpus.generated[{i}]: {e}")))?;
            self.validate_submit(i, g, &profile)?;
        }
        self.validate_sentry_native()?;
        if !(1..=64).contains(&self.processor.concurrency) {
            return Err(self.invalid("processor.concurrency must be in 1..=64".into()));
        }
        if self.processor.symbols_download_timeout_secs == 0 {
            return Err(self.invalid("processor.symbols_download_timeout_secs must be > 0".into()));
        }
        if !self.processor.in_process && self.processor.stackwalk.is_none() {
            return Err(self.invalid("no processor: in_process = false and no stackwalk".into()));
        }
        for fault in &self.faults {
            if fault.crashes == 0 || u64::from(fault.crashes) > total {
                return Err(self.invalid(format!(
                    "fault {:?}: crashes = {} must be in 1..={total} (the generated corpus)",
                    fault.name, fault.crashes
                )));
            }
            // Faults are set through fake-symbols' admin API (`/__fault__`), so a symbols
            // server given by URL must be a fake-symbols (a container, say), not Tecken.
            if self.services.fake_symbols == Service::Disabled {
                return Err(self.invalid(format!(
                    "fault {:?}: faults need fake-symbols (builtin or its URL)",
                    fault.name
                )));
            }
            fake_symbols::FaultPlan::new(
                fake_symbols::FaultSpec {
                    seed: 0,
                    rules: fault.rules.clone(),
                },
                // The server checks a synthetic sym's size against its own setting; here
                // only the rules' shape, count and latencies are checked.
                fake_symbols::FaultLimits {
                    max_synthetic: u64::MAX,
                    ..Default::default()
                },
            )
            .map_err(|e| self.invalid(format!("fault {:?}: {e}", fault.name)))?;
        }
        if let Some(audit) = &self.audit {
            self.policy(audit)
                .map_err(|e| self.invalid(format!("audit.policy: {e}")))?;
            if self.services.fake_sentry == Service::Disabled {
                return Err(self.invalid("audit needs fake_sentry".into()));
            }
        }
        if self.services.fake_symbols == Service::Disabled && total > 0 {
            return Err(self.invalid("generated crashes need a symbols server".into()));
        }
        Ok(())
    }

    /// A corpus entry's `submit` list: not empty, no repeats, and each place available.
    fn validate_submit(
        &self,
        i: usize,
        g: &GeneratedCorpus,
        profile: &Profile,
    ) -> Result<(), ScenarioError> {
        let Some(targets) = &g.submit else {
            return Ok(());
        };
        let at = format!("corpus.generated[{i}].submit");
        if targets.is_empty() {
            return Err(self.invalid(format!(
                "{at} is empty: name \"collector\", \"sentry\" or both (leave it out for the collector)"
            )));
        }
        for (n, target) in targets.iter().enumerate() {
            if targets[..n].contains(target) {
                return Err(self.invalid(format!("{at} names {:?} twice", target.name())));
            }
            let (service, key) = match target {
                SubmitTo::Collector => (&self.services.collector, "collector"),
                SubmitTo::Sentry => (&self.services.fake_sentry, "fake_sentry"),
            };
            if *service == Service::Disabled {
                return Err(self.invalid(format!(
                    "{at} names {:?} but services.{key} = \"none\"",
                    target.name()
                )));
            }
        }
        // fake-sentry refuses a dump without the minidump signature at ingest, as Relay does:
        // there would be nothing to process.
        let unsigned = match profile.edge_case {
            Some(EdgeCase::EmptyDump) => Some("empty_dump"),
            Some(EdgeCase::BadHeader) => Some("bad_header"),
            _ => None,
        };
        if let (true, Some(edge)) = (targets.contains(&SubmitTo::Sentry), unsigned) {
            return Err(self.invalid(format!(
                "{at} names \"sentry\", but fake-sentry refuses {edge} dumps at ingest (no MDMP signature)"
            )));
        }
        Ok(())
    }

    /// `[sentry_native]`: sane numbers, and only with something to send.
    fn validate_sentry_native(&self) -> Result<(), ScenarioError> {
        let Some(settings) = &self.sentry_native else {
            return Ok(());
        };
        if !self.submits_to_sentry() {
            return Err(self.invalid(
                "[sentry_native] is set but no corpus.generated entry has submit = [.., \"sentry\"]"
                    .into(),
            ));
        }
        if settings.project == 0 {
            return Err(self.invalid("sentry_native.project must be > 0".into()));
        }
        for (key, value) in [
            ("release", &settings.release),
            ("environment", &settings.environment),
        ] {
            if value.trim().is_empty() {
                return Err(self.invalid(format!("sentry_native.{key} is empty")));
            }
        }
        if !(1..=MAX_SENTRY_WAIT_SECS).contains(&settings.wait_secs) {
            return Err(self.invalid(format!(
                "sentry_native.wait_secs must be in 1..={MAX_SENTRY_WAIT_SECS}"
            )));
        }
        Ok(())
    }

    /// Where a corpus entry's crashes go: its `submit` list, or else the collector when the
    /// scenario has one.
    pub fn destinations(&self, entry: &GeneratedCorpus) -> Destinations {
        match &entry.submit {
            Some(targets) => Destinations {
                collector: targets.contains(&SubmitTo::Collector),
                sentry: targets.contains(&SubmitTo::Sentry),
            },
            None => Destinations {
                collector: self.services.collector != Service::Disabled,
                sentry: false,
            },
        }
    }

    /// Whether any corpus entry submits its crashes to fake-sentry.
    pub fn submits_to_sentry(&self) -> bool {
        self.corpus
            .generated
            .iter()
            .any(|g| self.destinations(g).sentry)
    }

    /// The `[sentry_native]` settings, or their defaults.
    pub fn sentry_native_settings(&self) -> SentryNativeSettings {
        self.sentry_native.clone().unwrap_or_default()
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// The profile a corpus entry names.
    pub fn profile(&self, profile: &ProfileRef) -> Result<Profile, String> {
        match profile {
            ProfileRef::Inline(p) => {
                p.validate().map_err(|e| e.to_string())?;
                Ok((**p).clone())
            }
            // A platform's name (`linux`, `android`, `mac-arm64`, `windows-x86`, ...), as
            // crash-generator's `--os`/`--arch` spell it, or else a profile file.
            ProfileRef::Named(name) => match name.parse::<OsFlavor>() {
                Ok(os) => Ok(Profile::for_os(os)),
                Err(_) => Profile::load(&self.resolve(Path::new(name))).map_err(|e| e.to_string()),
            },
        }
    }

    /// The audit policy.
    pub fn policy(&self, audit: &AuditSettings) -> Result<Policy, String> {
        if event_filter::presets::NAMES.contains(&audit.policy.as_str()) {
            return Policy::preset(&audit.policy).map_err(|e| e.to_string());
        }
        Policy::from_file(&self.resolve(Path::new(&audit.policy))).map_err(|e| e.to_string())
    }

    /// The real-dumps folder, resolved.
    pub fn dumps_dir(&self) -> Option<PathBuf> {
        self.corpus.dumps_dir.as_deref().map(|p| self.resolve(p))
    }

    /// The external stackwalker, resolved (a bare name is looked up on `PATH` when run).
    pub fn stackwalk(&self) -> Option<PathBuf> {
        let path = self.processor.stackwalk.as_deref()?;
        if path.components().count() > 1 {
            Some(self.resolve(path))
        } else {
            Some(path.to_path_buf())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_toml(text, Path::new("test.toml"), PathBuf::from("."))
    }

    #[test]
    fn a_full_scenario_parses() {
        let s = parse(
            r#"
            name = "full"
            [services]
            fake_sentry = "builtin"
            collector = "none"
            [processor]
            concurrency = 2
            [[corpus.generated]]
            profile = "windows"
            programs = 2
            crashes = 10
            seed = 5
            [[corpus.generated]]
            profile = { os = "mac", modules = [2, 3] }
            crashes = 2
            [[fault]]
            name = "down"
            crashes = 2
            rules = [{ action = { kind = "status", code = 500 } }]
            expect = { symbolicated = "none", max_requests_per_module = 1 }
            [audit]
            policy = "strict"
            component = { leak = "email", scrub = true }
            [expect]
            max_seconds = 30
            [[expect.crash]]
            crash = "windows-5"
            signature = "a | b"
            "#,
        )
        .unwrap();
        assert_eq!(s.services.collector, Service::Disabled);
        assert_eq!(s.corpus.generated.len(), 2);
        assert_eq!(s.faults[0].expect.symbolicated, Symbolicated::None);
        assert_eq!(s.audit.unwrap().component.unwrap().leak, Leak::Email);
        assert_eq!(s.expect.crash[0].signature.as_deref(), Some("a | b"));
    }

    #[test]
    fn mistakes_are_named() {
        let err = parse("name = \"x\"\nunknown = 1").unwrap_err().to_string();
        assert!(err.contains("unknown"), "{err}");
        let err =
            parse("name = \"x\"\n[[corpus.generated]]\nprofile = \"nosuch.toml\"\ncrashes = 1")
                .unwrap_err()
                .to_string();
        assert!(err.contains("nosuch.toml"), "{err}");
        let err = parse("name = \"x\"\n[[corpus.generated]]\nprofile = \"linux\"\ncrashes = 1\n[[fault]]\nname = \"f\"\ncrashes = 1\nrules = [{ action = { kind = \"status\", code = 200 } }]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("status 200"), "{err}");
        let err = parse("name = \"x\"\n[audit]\npolicy = \"no-such-preset\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("audit.policy"), "{err}");
        let err = parse("name = \"x\"\n[services]\nfake_symbols = \"ftp://x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ftp://x"), "{err}");
        let err = parse("name = \"x\"").unwrap_err().to_string();
        assert!(err.contains("nothing to do"), "{err}");
    }

    #[test]
    fn crashes_go_to_the_collector_unless_submit_says_otherwise() {
        let s = parse(
            r#"
            name = "submit"
            [[corpus.generated]]
            profile = "linux"
            crashes = 1
            [[corpus.generated]]
            profile = "windows"
            crashes = 1
            submit = ["collector", "sentry"]
            [[corpus.generated]]
            profile = "mac"
            crashes = 1
            submit = ["sentry"]
            [sentry_native]
            release = "app@2"
            gzip = false
            "#,
        )
        .unwrap();
        let destinations: Vec<(bool, bool)> = s
            .corpus
            .generated
            .iter()
            .map(|g| s.destinations(g))
            .map(|d| (d.collector, d.sentry))
            .collect();
        assert_eq!(destinations, [(true, false), (true, true), (false, true)]);
        assert!(s.submits_to_sentry());
        let settings = s.sentry_native_settings();
        assert_eq!(settings.release, "app@2");
        assert_eq!(settings.environment, "harness");
        assert!(!settings.gzip);
        assert_eq!((settings.project, settings.wait_secs), (1, 60));
        // Without a collector, crashes are processed as generated.
        let s = parse(
            "name = \"x\"\n[services]\ncollector = \"none\"\n[[corpus.generated]]\nprofile = \"linux\"\ncrashes = 1",
        )
        .unwrap();
        assert_eq!(
            s.destinations(&s.corpus.generated[0]),
            Destinations::default()
        );
        assert!(!s.submits_to_sentry());
    }

    #[test]
    fn submit_mistakes_are_named() {
        let entry = |submit: &str| {
            format!(
                "name = \"x\"\n[[corpus.generated]]\nprofile = \"linux\"\ncrashes = 1\nsubmit = {submit}\n"
            )
        };
        let err = |text: &str| parse(text).unwrap_err().to_string();
        let e = err(&entry("[\"antenna\"]"));
        assert!(e.contains("antenna") && e.contains("collector"), "{e}");
        let e = err(&entry("[]"));
        assert!(e.contains("corpus.generated[0].submit is empty"), "{e}");
        let e = err(&entry("[\"sentry\", \"sentry\"]"));
        assert!(e.contains("names \"sentry\" twice"), "{e}");
        let e = err(&format!(
            "{}[services]\nfake_sentry = \"none\"",
            entry("[\"sentry\"]")
        ));
        assert!(
            e.contains("names \"sentry\" but services.fake_sentry = \"none\""),
            "{e}"
        );
        let e = err(&format!(
            "{}[services]\ncollector = \"none\"",
            entry("[\"collector\"]")
        ));
        assert!(e.contains("services.collector = \"none\""), "{e}");
        let e = err(&format!(
            "{}[sentry_native]\nrelease = \"a\"",
            entry("[\"collector\"]")
        ));
        assert!(e.contains("no corpus.generated entry has submit"), "{e}");
        let e = err(&format!(
            "{}[sentry_native]\nwait_secs = 0",
            entry("[\"sentry\"]")
        ));
        assert!(
            e.contains("sentry_native.wait_secs must be in 1..=300"),
            "{e}"
        );
        let e = err(&format!(
            "{}[sentry_native]\nrelease = \" \"",
            entry("[\"sentry\"]")
        ));
        assert!(e.contains("sentry_native.release is empty"), "{e}");
        let e = err(&format!(
            "{}[sentry_native]\ndsn = \"x\"",
            entry("[\"sentry\"]")
        ));
        assert!(e.contains("dsn"), "{e}");
        let e = err(
            "name = \"x\"\n[[corpus.generated]]\nprofile = { os = \"linux\", edge_case = \"empty_dump\" }\ncrashes = 1\nsubmit = [\"sentry\"]",
        );
        assert!(e.contains("fake-sentry refuses empty_dump dumps"), "{e}");
    }

    #[test]
    fn the_shipped_scenarios_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                count += 1;
            }
        }
        assert!(count >= 1);
    }
}
