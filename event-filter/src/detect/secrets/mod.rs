//! Secret families as data: gitleaks' default rule set (vendored, MIT; see
//! `rules/README.md`) plus our own `rules/understudy.toml` for the detect-secrets 1.5.0
//! plugins gitleaks has no rule for and for families we name more precisely. Each rule is
//! one detector whose findings carry the family name (`stripe_secret_key`), never the value.
//!
//! Matching follows gitleaks: a rule runs only when one of its keywords occurs in the text
//! (one case-insensitive Aho-Corasick pass over the text for every rule at once); the hit is
//! the rule's secret group (or its first non-empty group, or the whole match); a secret whose
//! Shannon entropy does not exceed the rule's threshold, or that an allowlist (global or the
//! rule's) matches, is dropped. File-path conditions do not apply to event strings: path-only
//! rules are left out, and an allowlist's path part never matches.

use std::sync::LazyLock;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind, StartKind};

use super::Hit;
use super::prefilter::{Gate, Stats};
use super::scan::Sink;

mod rules;
#[cfg(test)]
mod tests;

use rules::shannon_entropy;
use rules::{Allowlist, RawConfig, Rule, RuleFileError, compile_allowlist, compile_rule};

/// gitleaks' default config, vendored verbatim.
const GITLEAKS: &str = include_str!("../../../rules/gitleaks.toml");
/// Our rules, in the same format.
const UNDERSTUDY: &str = include_str!("../../../rules/understudy.toml");

/// Texts at least this long fit every rule (no gitleaks rule needs more than 150 bytes).
const FITTING_TABLE_LEN: usize = 256;

/// Room for this many rules in a [`RuleSet`].
const MAX_RULES: usize = 256;

/// A set of rule indexes, a bitset that lives on the stack.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RuleSet([u64; MAX_RULES / 64]);

impl RuleSet {
    fn insert(&mut self, index: usize) {
        if let Some(word) = self.0.get_mut(index / 64) {
            *word |= 1 << (index % 64);
        }
    }

    fn union(&mut self, other: &RuleSet) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }

    fn remove(&mut self, index: usize) {
        if let Some(word) = self.0.get_mut(index / 64) {
            *word &= !(1 << (index % 64));
        }
    }

    pub(super) fn intersect(&mut self, other: &RuleSet) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a &= b;
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.iter().all(|&word| word == 0)
    }

    /// The indexes in the set, ascending.
    pub(super) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let bit = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    w * 64 + bit
                })
            })
        })
    }
}

/// Every secret rule, compiled, with the keyword automaton that gates them.
#[derive(Debug)]
pub(super) struct SecretRules {
    rules: Vec<Rule>,
    /// Every distinct keyword of every rule, lowercase, as a DFA that [`Self::admitted`]
    /// walks itself.
    keywords: DFA,
    /// The DFA's unanchored start state.
    keyword_start: StateID,
    /// Per DFA state (indexed by its id): its depth, the length of the keyword prefix it
    /// stands for, which tells a lane of [`Self::keyword_rules_in`] when to stop.
    keyword_depth: Vec<u8>,
    /// Per keyword (automaton pattern id): the rules it admits.
    keyword_rules: Vec<RuleSet>,
    /// Rules without keywords: they always run.
    unkeyed: RuleSet,
    /// `fitting[n]`: the rules whose shortest match is at most `n` bytes (the last entry for
    /// longer texts), so that a text skips the rules it is too short for.
    fitting: Vec<RuleSet>,
    /// The shortest match of any rule: a shorter text skips the keyword pass altogether.
    shortest: usize,
    /// Rules with a byte-statistics gate (those without a usable keyword).
    gated: Vec<(usize, Gate)>,
    /// gitleaks' global allowlist, which applies to every rule.
    global: Vec<Allowlist>,
}

/// The rules, compiled on first use. The files are part of the build and
/// `rule_files_load` tests them, so a failure here is a defect of this crate.
pub(super) fn rules() -> &'static SecretRules {
    static RULES: LazyLock<SecretRules> = LazyLock::new(|| {
        SecretRules::load().unwrap_or_else(|e| panic!("vendored secret rules are broken: {e}"))
    });
    &RULES
}

impl SecretRules {
    pub(super) fn load() -> Result<SecretRules, RuleFileError> {
        let parse = |file: &'static str, text: &str| {
            toml::from_str::<RawConfig>(text).map_err(|source| RuleFileError::Toml { file, source })
        };
        let gitleaks = parse("rules/gitleaks.toml", GITLEAKS)?;
        let ours = parse("rules/understudy.toml", UNDERSTUDY)?;
        let mut rules = Vec::new();
        for raw in &gitleaks.rules {
            if ours.replaces.iter().any(|r| r.id == raw.id) {
                continue;
            }
            rules.extend(compile_rule(raw, "rules/gitleaks.toml", "gitleaks")?);
        }
        for raw in &ours.rules {
            rules.extend(compile_rule(raw, "rules/understudy.toml", "understudy")?);
        }
        if rules.len() > MAX_RULES {
            return Err(RuleFileError::Invalid {
                file: "rules/",
                id: String::new(),
                message: format!("{} rules, room for {MAX_RULES}", rules.len()),
            });
        }
        let mut global = Vec::new();
        for (file, config) in [
            ("rules/gitleaks.toml", &gitleaks),
            ("rules/understudy.toml", &ours),
        ] {
            if let Some(raw) = &config.allowlist {
                global.push(compile_allowlist(raw, file, "global allowlist")?);
            }
        }
        let mut words: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<RuleSet> = Vec::new();
        let mut unkeyed = RuleSet::default();
        for (index, rule) in rules.iter().enumerate() {
            if rule.keywords.is_empty() {
                unkeyed.insert(index);
            }
            for keyword in &rule.keywords {
                let at = match words.iter().position(|w| w == keyword) {
                    Some(at) => at,
                    None => {
                        words.push(keyword.clone());
                        keyword_rules.push(RuleSet::default());
                        words.len() - 1
                    }
                };
                keyword_rules[at].insert(index);
            }
        }
        let invalid = |message: String| RuleFileError::Invalid {
            file: "rules/",
            id: "keywords".into(),
            message,
        };
        // A full DFA: a few hundred KB for a few hundred keywords, and the fastest scan (the
        // `keyword_engines` test compares the kinds). No prefilter: with this many keywords
        // nearly every byte starts one, so it would only add a call per start state.
        let keywords = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .prefilter(false)
            .build(&words)
            .map_err(|e| invalid(e.to_string()))?;
        let keyword_start = keywords
            .start_state(Anchored::No)
            .map_err(|e| invalid(e.to_string()))?;
        let keyword_depth = state_depths(&keywords, keyword_start);
        let shortest = rules.iter().map(|r| r.min_len).min().unwrap_or(0);
        let fitting = (0..=FITTING_TABLE_LEN)
            .map(|n| {
                let mut set = RuleSet::default();
                for (i, rule) in rules.iter().enumerate() {
                    if rule.min_len <= n || n == FITTING_TABLE_LEN {
                        set.insert(i);
                    }
                }
                set
            })
            .collect();
        let gated = rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.gate.map(|g| (i, g)))
            .collect();
        Ok(SecretRules {
            rules,
            keywords,
            keyword_start,
            keyword_depth,
            keyword_rules,
            unkeyed,
            gated,
            fitting,
            shortest,
            global,
        })
    }

    pub(super) fn len(&self) -> usize {
        self.rules.len()
    }

    /// The family name of rule `index`.
    pub(super) fn family(&self, index: usize) -> &str {
        self.rules.get(index).map_or("", |r| r.family.as_str())
    }

    /// Where rule `index` comes from (`gitleaks:stripe-access-token`).
    pub(super) fn source(&self, index: usize) -> &str {
        self.rules.get(index).map_or("", |r| r.source.as_str())
    }

    /// Whether rule `index` is a catch-all whose hits give way to specific ones.
    pub(super) fn is_generic(&self, index: usize) -> bool {
        self.rules.get(index).is_some_and(|r| r.generic)
    }

    /// Every rule.
    pub(super) fn all(&self) -> RuleSet {
        let mut set = RuleSet::default();
        (0..self.rules.len()).for_each(|i| set.insert(i));
        set
    }

    /// The rules of one family (empty when there is no such family).
    pub(super) fn family_rules(&self, family: &str) -> RuleSet {
        let mut set = RuleSet::default();
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.family == family {
                set.insert(i);
            }
        }
        set
    }

    /// The rules that may match `text`: those whose keywords occur in it (or that have
    /// none), whose shortest match fits in it and whose byte gate `stats` passes.
    pub(super) fn admitted(&self, text: &str, stats: &Stats) -> RuleSet {
        if text.len() < self.shortest {
            return RuleSet::default();
        }
        let mut set = self.unkeyed;
        set.union(&self.keyword_rules_in(text));
        if let Some(fitting) = self.fitting.get(text.len()) {
            set.intersect(fitting);
        }
        for &(index, gate) in &self.gated {
            if !gate.admits(stats) {
                set.remove(index);
            }
        }
        set
    }

    /// The rules whose keywords occur in `text`.
    ///
    /// Walks the keyword DFA by hand: the automaton's own searches cost a call and its setup
    /// per text (most texts are short) and, for every keyword, a second, overlapping pass.
    /// With standard match semantics a match state lists every keyword that ends at that
    /// byte, so the walk sees every occurrence an overlapping search would.
    ///
    /// Each transition is a load that depends on the one before, so one walk is bound by
    /// memory latency, not by instructions. A longer text is therefore cut into [`LANES`]
    /// segments walked side by side, each from the start state; a lane then goes on past its
    /// segment's end only while its state may still be inside a keyword that began in its
    /// segment (the state's depth reaches back across the end). Every occurrence is seen by
    /// the lane of the segment it starts in; some are seen twice, which a union does not mind.
    fn keyword_rules_in(&self, text: &str) -> RuleSet {
        let bytes = text.as_bytes();
        let mut set = RuleSet::default();
        let seg = bytes.len() / LANES;
        if seg < MIN_SEGMENT {
            self.walk_keywords(self.keyword_start, bytes, usize::MAX, &mut set);
            return set;
        }
        let dfa = &self.keywords;
        let mut sids = [self.keyword_start; LANES];
        // The lanes' segments as slices zipped together: no index arithmetic or bounds check
        // per byte, which cost as much as the transitions themselves.
        let (s0, rest) = bytes.split_at(seg);
        let (s1, rest) = rest.split_at(seg);
        let (s2, s3) = rest.split_at(seg);
        for (((&b0, &b1), &b2), &b3) in s0.iter().zip(s1).zip(s2).zip(s3) {
            for (sid, byte) in sids.iter_mut().zip([b0, b1, b2, b3]) {
                *sid = dfa.next_state(Anchored::No, *sid, byte);
            }
            // Match states are rare: one test for all lanes.
            if sids.iter().any(|&sid| dfa.is_special(sid)) {
                for &sid in &sids {
                    self.add_keyword_matches(sid, &mut set);
                }
            }
        }
        for (lane, &sid) in sids.iter().enumerate() {
            let end = (lane + 1) * seg;
            let rest = bytes.get(end..).unwrap_or_default();
            if lane + 1 == LANES {
                // The last lane also takes what the division left over.
                self.walk_keywords(sid, rest, usize::MAX, &mut set);
            } else {
                self.walk_keywords(sid, rest, 0, &mut set);
            }
        }
        set
    }

    /// Walks `bytes` from state `sid`, adding the rules of every keyword that ends in them;
    /// stops early once the state's depth is at most the number of bytes walked minus
    /// `reach`, that is once no keyword that began before `bytes` can still end in them
    /// (never with `usize::MAX`, and at once in the start state with 0).
    #[inline]
    fn walk_keywords(&self, mut sid: StateID, bytes: &[u8], reach: usize, set: &mut RuleSet) {
        let dfa = &self.keywords;
        let depth = |sid: StateID| {
            usize::from(
                self.keyword_depth
                    .get(sid.as_usize())
                    .copied()
                    .unwrap_or(u8::MAX),
            )
        };
        if reach == 0 && depth(sid) == 0 {
            return;
        }
        for (walked, &byte) in bytes.iter().enumerate() {
            sid = dfa.next_state(Anchored::No, sid, byte);
            if dfa.is_special(sid) {
                self.add_keyword_matches(sid, set);
            }
            if reach == 0 && depth(sid) <= walked + 1 {
                return;
            }
        }
    }

    /// Adds the rules of every keyword that state `sid` matches (none unless it is a match
    /// state).
    #[inline]
    fn add_keyword_matches(&self, sid: StateID, set: &mut RuleSet) {
        let dfa = &self.keywords;
        // Without a prefilter the only special states an unanchored walk reaches are match
        // states; `is_special` is the cheap test, `is_match` the exact one.
        if dfa.is_special(sid) && dfa.is_match(sid) {
            for index in 0..dfa.match_len(sid) {
                if let Some(rules) = self
                    .keyword_rules
                    .get(dfa.match_pattern(sid, index).as_usize())
                {
                    set.union(rules);
                }
            }
        }
    }

    /// The hits of every rule in `run` (whose keywords the caller has checked), without the
    /// hits of catch-all rules that a specific rule's hit overlaps.
    pub(super) fn scan_all(&self, run: &RuleSet, text: &str, sink: &mut Sink) {
        for index in run.iter() {
            if !self.scan(index, text, sink) {
                return;
            }
        }
        let hits = &mut *sink.hits;
        if hits.len() > 1 && hits.iter().any(|h| h.specificity() == 2) {
            let specific: Vec<Hit> = hits
                .iter()
                .copied()
                .filter(|h| h.specificity() < 2)
                .collect();
            hits.retain(|hit| {
                hit.specificity() < 2
                    || !specific
                        .iter()
                        .any(|h| h.start < hit.end && hit.start < h.end)
            });
        }
    }

    /// Rule `index`'s hits in `text` (the caller has checked its keywords); returns whether
    /// scanning should go on.
    fn scan(&self, index: usize, text: &str, sink: &mut Sink) -> bool {
        let (Some(rule), Ok(tag)) = (self.rules.get(index), u16::try_from(index)) else {
            return true;
        };
        // Most texts do not match: `is_match` says so without building capture slots.
        if !rule.regex.is_match(text) {
            return true;
        }
        for caps in rule.regex.captures_iter(text) {
            let Some(whole) = caps.get(0) else {
                continue;
            };
            // gitleaks trims newlines its trailing-context group may have taken.
            let whole_text = whole.as_str().trim_matches('\n');
            let secret = if rule.secret_group > 0 {
                caps.get(rule.secret_group)
            } else {
                caps.iter().skip(1).flatten().find(|m| !m.is_empty())
            };
            let (start, end) = match secret {
                Some(m) => (m.start(), m.end()),
                None => {
                    let lead = whole.as_str().len() - whole.as_str().trim_start_matches('\n').len();
                    (
                        whole.start() + lead,
                        whole.start() + lead + whole_text.len(),
                    )
                }
            };
            let Some(secret_text) = text.get(start..end) else {
                continue;
            };
            if rule.entropy != 0.0 && shannon_entropy(secret_text) <= rule.entropy {
                continue;
            }
            let line = line_at(text, whole.start());
            let allowed = self
                .global
                .iter()
                .chain(&rule.allowlists)
                .any(|a| a.allows(secret_text, whole_text, line));
            if allowed {
                continue;
            }
            if !sink.push_rule(start, end, tag) {
                return false;
            }
        }
        true
    }
}

/// Segments [`SecretRules::keyword_rules_in`] walks side by side.
const LANES: usize = 4;
// `keyword_rules_in` splits the text into exactly four slices by hand.
const _: () = assert!(LANES == 4);
/// Shorter segments are not worth their lanes' set-up: the text is walked in one.
const MIN_SEGMENT: usize = 8;

/// The depth of every state of `dfa` (the length of the keyword prefix it stands for), by
/// state id, found breadth-first from the start state: the shortest text that leads from
/// the start to a state is its prefix itself (any other ends with it), so its length is the
/// state's distance. Depths cap at 255, which no keyword comes near.
fn state_depths(dfa: &DFA, start: StateID) -> Vec<u8> {
    let mut depth: Vec<u8> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut queue = std::collections::VecDeque::from([(start, 0u8)]);
    seen.insert(start);
    while let Some((sid, d)) = queue.pop_front() {
        if depth.len() <= sid.as_usize() {
            depth.resize(sid.as_usize() + 1, u8::MAX);
        }
        if let Some(slot) = depth.get_mut(sid.as_usize()) {
            *slot = d;
        }
        for byte in 0..=255u8 {
            let next = dfa.next_state(Anchored::No, sid, byte);
            if seen.insert(next) {
                queue.push_back((next, d.saturating_add(1)));
            }
        }
    }
    depth
}

/// The line of `text` that byte `at` is on, without its newline.
fn line_at(text: &str, at: usize) -> &str {
    let start = text
        .get(..at)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |p| p + 1);
    let end = text
        .get(at..)
        .and_then(|t| t.find('\n'))
        .map_or(text.len(), |p| p + at);
    text.get(start..end).unwrap_or_default()
}
