#!/usr/bin/env python3
"""Writes the secret-family corpus: one `<family>.txt` per family of ../../../rules/*.toml,
and the table of secret families in event-filter's README.

Every token is fake: sampled from the rule's own regex with a random generator seeded by the
family name, so a rerun writes the same files. A second implementation of gitleaks' matching
(keywords, secret group, entropy, allowlists), written here in Python, decides which samples
are true positives and which mutations of them (placeholders, truncation, low entropy,
missing boundary, keyword-only prose) are false positives; the Rust tests then check that
the detectors agree with it line by line.

Run from anywhere: python3 event-filter/testdata/detectors/secrets/generate.py
"""

import hashlib
import math
import random
import re
import re._parser as sre_parse
import re._constants as C
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
RULES = HERE.parent.parent.parent / "rules"
PER_KIND = 5


def go_to_python(pattern):
    """Go applies a mid-pattern `(?i)` to the rest of its group; Python wants `(?i:...)`.
    Python has no POSIX classes (`[[:alnum:]]`) and no `\\z`."""
    for posix, chars in POSIX.items():
        pattern = pattern.replace(posix, chars)
    out, i = [], 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            # Go's `\z` (end of text) is Python's `\Z`.
            out.append("\\Z" if pattern[i : i + 2] == "\\z" else pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            if pattern[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                out.append("\\]")
                i += 1
            i += 1
            continue
        if pattern.startswith("(?i)", i) and i > 0:
            # Up to the end of the enclosing group, across its later alternatives.
            depth, k, cls, cuts = 0, i + 4, False, [i + 4]
            while k < len(pattern):
                ch = pattern[k]
                if ch == "\\":
                    k += 2
                    continue
                if cls:
                    if ch == "]":
                        cls = False
                elif ch == "[":
                    cls = True
                    if pattern[k + 1 : k + 2] == "]":
                        k += 1
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif ch == "|" and depth == 0:
                    cuts.append(k)
                k += 1
            cuts.append(k)
            parts = [pattern[a + (1 if n else 0) : b] for n, (a, b) in enumerate(zip(cuts, cuts[1:]))]
            out.append("|".join("(?i:" + go_to_python(part) + ")" for part in parts))
            i = k
            continue
        out.append(c)
        i += 1
    return "".join(out)


POSIX = {"[:alnum:]": "a-zA-Z0-9", "[:alpha:]": "a-zA-Z", "[:digit:]": "0-9"}


def compile_go(pattern):
    return re.compile(go_to_python(pattern), re.ASCII)


def entropy(s):
    if not s:
        return 0.0
    counts = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


class Allowlist:
    def __init__(self, raw):
        self.target = raw.get("regexTarget", "secret")
        self.regexes = [compile_go(r) for r in raw.get("regexes", [])]
        self.stopwords = [w.lower() for w in raw.get("stopwords", [])]
        self.all = raw.get("condition", "OR").upper() == "AND"
        self.paths = bool(raw.get("paths"))

    def allows(self, secret, whole, line):
        target = {"secret": secret, "match": whole, "line": line}[self.target]
        parts = []
        if self.regexes:
            parts.append(any(r.search(target) for r in self.regexes))
        if self.stopwords:
            parts.append(any(w in secret.lower() for w in self.stopwords))
        if self.paths:
            parts.append(False)
        return (all(parts) and bool(parts)) if self.all else any(parts)


class Rule:
    def __init__(self, raw, origin, global_allow):
        self.id = raw["id"]
        self.family = self.id.replace("-", "_").replace(".", "_")
        self.origin = origin
        self.pattern = raw["regex"]
        self.regex = compile_go(raw["regex"])
        self.group = raw.get("secretGroup", 0)
        self.entropy = raw.get("entropy", 0.0)
        self.keywords = [k.lower() for k in raw.get("keywords", [])]
        self.allow = global_allow + [Allowlist(a) for a in raw.get("allowlists", [])]

    def secrets(self, text):
        if self.keywords and not any(k in text.lower() for k in self.keywords):
            return []
        found = []
        for m in self.regex.finditer(text):
            whole = m.group(0).strip("\n")
            if self.group:
                span = m.span(self.group)
            else:
                span = next(
                    (m.span(g) for g in range(1, (m.re.groups or 0) + 1) if m.group(g)),
                    None,
                )
            if span is None:
                lead = len(m.group(0)) - len(m.group(0).lstrip("\n"))
                span = (m.start() + lead, m.start() + lead + len(whole))
            secret = text[span[0] : span[1]]
            if self.entropy and entropy(secret) <= self.entropy:
                continue
            start = text.rfind("\n", 0, m.start()) + 1
            end = text.find("\n", m.start())
            line = text[start : end if end >= 0 else len(text)]
            if any(a.allows(secret, whole, line) for a in self.allow):
                continue
            found.append(secret)
        return found


def load_rules():
    gitleaks = tomllib.loads((RULES / "gitleaks.toml").read_text())
    ours = tomllib.loads((RULES / "understudy.toml").read_text())
    replaced = {r["id"] for r in ours.get("replaces", [])}
    global_allow = [Allowlist(gitleaks["allowlist"])]
    rules = []
    for raw in gitleaks["rules"]:
        if raw["id"] in replaced or "regex" not in raw:
            continue
        rules.append(Rule(raw, "gitleaks", global_allow))
    for raw in ours["rules"]:
        rules.append(Rule(raw, "understudy", global_allow))
    return rules


# --- Sampling strings from a regex ------------------------------------------------------

WORDS = ["app", "prod", "svc", "deploy", "ci", "my", "main", "config", "client", "api"]


def class_chars(items):
    chars, negate = set(), False
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            chars.add(chr(av))
        elif op is C.RANGE:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        elif op is C.CATEGORY:
            chars.update(category_chars(av))
    if negate:
        chars = set(chr(c) for c in range(32, 127)) - chars
    return sorted(chars)


def category_chars(cat):
    digits = "0123456789"
    word = digits + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
    table = {
        C.CATEGORY_DIGIT: digits,
        C.CATEGORY_WORD: word,
        C.CATEGORY_SPACE: " ",
        C.CATEGORY_NOT_DIGIT: "abcXYZ_-.",
        C.CATEGORY_NOT_WORD: " -.=:",
        C.CATEGORY_NOT_SPACE: word,
    }
    return table.get(cat, word)


def sample(parsed, rng, ignore_case):
    out = []
    for op, av in parsed:
        if op is C.LITERAL:
            out.append(chr(av))
        elif op is C.NOT_LITERAL:
            out.append(rng.choice([c for c in "abcdefXYZ0123" if ord(c) != av]))
        elif op is C.ANY:
            # Mostly the dot a pattern such as `hooks.slack.com` means.
            out.append("." if rng.random() < 0.8 else rng.choice("abcdef0123"))
        elif op is C.IN:
            chars = class_chars(av)
            # Control whitespace only where nothing else will do.
            plain = [c for c in chars if c not in "\t\n\r\x0b\x0c"] or chars
            out.append(rng.choice(plain) if plain else "a")
        elif op is C.BRANCH:
            out.append(sample(rng.choice(av[1]), rng, ignore_case))
        elif op is C.SUBPATTERN:
            out.append(sample(av[3], rng, ignore_case))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            hi = lo + 40 if hi is C.MAXREPEAT else hi
            if lo == 0 and hi <= 5:
                # Optional quotes, spaces and separators: mostly absent, as people write.
                n = rng.choice([0, 0, 1])
            elif lo == 0 and (op is C.MIN_REPEAT or hi <= 20):
                n = rng.choice([0, 0, 0, 4])
            elif hi - lo > 24:
                n = lo + rng.randint(0, 24)
            else:
                n = rng.randint(lo, hi)
            n = min(n, hi)
            out.extend(sample(sub, rng, ignore_case) for _ in range(n))
        elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            pass
        elif op is C.CATEGORY:
            out.append(rng.choice(category_chars(av)))
        else:
            raise ValueError(f"cannot sample {op}")
    return "".join(out)


TEMPLATES = [
    "{m}",
    "{m}",
    "value: {m}",
    "{m}\nnext line",
    "connecting with {m} now",
    "{kw} {m}",
    "{kw} credential: {m}",
    "[{kw}] {m}",
]


def positives(rules, rng):
    cases, seen = [], set()
    for rule in rules:
        parsed = sre_parse.parse(go_to_python(rule.pattern), re.ASCII)
        got, attempts = 0, 0
        while got < PER_KIND and attempts < 4000:
            attempts += 1
            m = sample(parsed, rng, False)
            kw = rng.choice(rule.keywords) if rule.keywords else "token"
            template = rng.choice(TEMPLATES)
            if kw in m.lower():
                # The sample has its keyword already; do not stutter it.
                template = template.replace("{kw} credential", "credential")
                template = template.replace("[{kw}] ", "").replace("{kw} ", "")
            text = template.format(m=m, kw=kw)
            if "\n" in m or text in seen:
                continue
            found = rule.secrets(text)
            if not found or any(len(f) < 4 for f in found):
                continue
            seen.add(text)
            cases.append((text, found[0]))
            got += 1
    return cases


def negatives(rules, pos, rng):
    def none_found(text):
        return all(not r.secrets(text) for r in rules)

    keywords = sorted({k for r in rules for k in r.keywords}) or [rules[0].family]
    candidates = []
    for text, secret in pos:
        half = secret[: max(1, len(secret) // 2)]
        candidates += [
            text.replace(secret, "x" * len(secret)),
            text.replace(secret, half),
            text.replace(secret, "0" * len(secret)),
            text.replace(secret, secret[:1] + "*" * (len(secret) - 1)),
            text.replace(secret, secret[: len(secret) // 2] + " " + secret[len(secret) // 2 :]),
            text.replace(secret, "${" + rules[0].family.upper() + "}"),
            text.replace(secret, "<" + rules[0].family + ">"),
        ]
    for kw in keywords[:4]:
        candidates += [
            f"rotate the {kw} credentials before the release",
            f"{kw} is not configured; see the deployment docs",
            f"missing setting: {kw}",
        ]
    rng.shuffle(candidates)
    out = []
    for text in candidates:
        if "\n" in text.replace("\nnext line", "") or text in out:
            continue
        if none_found(text):
            out.append(text)
        if len(out) == PER_KIND:
            break
    return out


# detect-secrets 1.5.0 plugins and the detectors that cover them, for the README table.
DETECT_SECRETS = {
    "ArtifactoryDetector": ["artifactory_api_key", "artifactory_token", "artifactory_password"],
    "AWSKeyDetector": ["aws_access_key", "aws_access_token", "aws_secret_access_key"],
    "AzureStorageKeyDetector": ["azure_storage_account_key"],
    "BasicAuthDetector": ["url_password"],
    "CloudantDetector": ["cloudant_credential"],
    "DiscordBotTokenDetector": ["discord_bot_token"],
    "GitHubTokenDetector": ["github_token"],
    "GitLabTokenDetector": ["gitlab_pat", "gitlab_deploy_token", "gitlab_runner_authentication_token"],
    "Base64HighEntropyString": ["generic_api_key", "secret_assignment"],
    "HexHighEntropyString": ["generic_api_key", "secret_assignment"],
    "IbmCloudIamDetector": ["ibm_cloud_iam_key"],
    "IbmCosHmacDetector": ["ibm_cos_hmac_secret"],
    "IPPublicDetector": ["ipv4"],
    "JwtTokenDetector": ["jwt"],
    "KeywordDetector": ["secret_assignment", "connection_string_password", "generic_api_key"],
    "MailchimpDetector": ["mailchimp_api_key"],
    "NpmDetector": ["npm_access_token", "npmrc_auth_token"],
    "OpenAIDetector": ["openai_api_key"],
    "PrivateKeyDetector": ["pem_private_key", "putty_private_key", "ssh2_encrypted_private_key"],
    "PypiTokenDetector": ["pypi_upload_token", "pypi_test_upload_token"],
    "SendGridDetector": ["sendgrid_api_token"],
    "SlackDetector": ["slack_token"],
    "SoftlayerDetector": ["softlayer_api_key"],
    "SquareOAuthDetector": ["square_oauth_secret", "square_access_token"],
    "StripeDetector": ["stripe_secret_key", "stripe_restricted_key"],
    "TelegramBotTokenDetector": ["telegram_bot_token", "telegram_bot_api_token"],
    "TwilioKeyDetector": ["twilio_api_key", "twilio_account_sid"],
}

# True positives in the shapes detect-secrets' plugins look for, where no sampled positive of
# the family has it: every plugin must find something in the corpus (tests/detect_secrets.rs).
# Fake values; each must be a true positive of its family like the samples.
PLUGIN_SHAPED = {
    # StripeDetector: live keys only.
    "stripe_secret_key": ["charge with sk_live_96ipbNClShVP4wY4for9duMl"],
    # SendGridDetector: SG. + 22 + . + 43.
    "sendgrid_api_token": [
        "SENDGRID=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"
    ],
    # NpmDetector: an .npmrc line.
    "npmrc_auth_token": ["//registry.npmjs.org/:_authToken=npm_gdm0hj3ch57is44ewhqhbl6wevgk1rlcemwh"],
    # AzureStorageKeyDetector: `AccountKey=` with nothing around the `=`.
    "azure_storage_account_key": [
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=BG+ixcJm8AZSpxeEWeAA+Wg17GFDoIiu"
        "wOhd/uJf+dJaB5D43rTRHbWnwUJHyHJuS//ry/ZRjXyukgWREgtzUa==;EndpointSuffix=core.windows.net"
    ],
    # CloudantDetector, and HexHighEntropyString and KeywordDetector on the quoted value.
    "cloudant_credential": [
        "cloudant_password = 'a031232589adaa17a907713a90a33ea55f9dcb4c977b1e8624794e18743fa5c2'"
    ],
    # IbmCosHmacDetector, and HexHighEntropyString and KeywordDetector on the quoted value.
    "ibm_cos_hmac_secret": [
        'cos_hmac_secret_access_key = "a6c4ed1ceeb690234e26f8405976ace5ced867789177beb3"'
    ],
}

# The hand-written detectors that find secrets, or what a detect-secrets plugin reports: (name,
# gitleaks rules they stand for, shape).
HAND_WRITTEN = [
    ("ipv4", "—", "dotted quad, octets 0–255"),
    ("aws_access_key", "aws-access-token (also kept)", "`AKIA` + 16 `[A-Z2-7]`; labelled 40-char secret keys"),
    ("basic_auth", "curl-auth-header (in part)", "`Basic ` + base64 of `user:pass`"),
    ("bearer_token", "curl-auth-header (in part)", "`Bearer ` + token68"),
    ("gcp_api_key", "gcp-api-key (replaced)", "`AIza` + 35 `[0-9A-Za-z_-]`"),
    ("github_token", "github-pat, github-oauth, github-app-token, github-refresh-token, github-fine-grained-pat (replaced)", "`ghp_` + 36 alphanumerics, `github_pat_` + 82"),
    ("jwt", "jwt (replaced)", "`eyJ…` header `.` payload `.` signature"),
    ("pem_private_key", "private-key (replaced)", "`-----BEGIN … PRIVATE KEY-----` … `-----END …`"),
    ("slack_token", "slack-* (also kept)", "`xoxb-` + digits and letters; `hooks.slack.com/services/…`"),
    ("url_password", "—", "`scheme://user:password@host`"),
]


def shape(secret):
    """An example's shape without the example: its first characters and its length."""
    head = secret[: min(10, max(4, len(secret) // 4))]
    return f"`{head}…` ({len(secret)} chars)".replace("|", "\\|")


def write_readme(families, examples):
    readme = HERE.parent.parent.parent / "README.md"
    text = readme.read_text()
    start, end = "<!-- secret-families:start -->", "<!-- secret-families:end -->"
    plugins = {}
    for plugin, names in DETECT_SECRETS.items():
        for name in names:
            plugins.setdefault(name, []).append(plugin)
    rows = [
        "| family | source | detect-secrets plugin | example shape |",
        "| --- | --- | --- | --- |",
    ]
    for name, gitleaks, example in HAND_WRITTEN:
        rows.append(
            f"| `{name}` | hand-written; gitleaks {gitleaks} | {', '.join(plugins.get(name, [])) or '—'} | {example} |"
        )
    for family, members in sorted(families.items()):
        sources = ", ".join(f"{r.origin} `{r.id}`" for r in members)
        rows.append(
            f"| `{family}` | {sources} | {', '.join(plugins.get(family, [])) or '—'} | {shape(examples[family])} |"
        )
    table = "\n".join(rows)
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    readme.write_text(f"{before}{start}\n{table}\n{end}{after}")


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n")


def main():
    rules = load_rules()
    families = {}
    for rule in rules:
        families.setdefault(rule.family, []).append(rule)
    short, examples = [], {}
    for family, members in families.items():
        seed = int.from_bytes(hashlib.sha256(family.encode()).digest()[:8], "big")
        rng = random.Random(seed)
        pos = positives(members, rng)
        neg = negatives(members, pos, rng)
        for text in PLUGIN_SHAPED.get(family, []):
            found = [f for r in members for f in r.secrets(text)]
            if not found:
                raise SystemExit(f"{family}: PLUGIN_SHAPED {text!r} is not a true positive")
            pos.append((text, found[0]))
        examples[family] = pos[0][1] if pos else ""
        if len(pos) < PER_KIND or len(neg) < PER_KIND:
            short.append(f"{family}: {len(pos)} positives, {len(neg)} negatives")
        sources = ", ".join(f"{r.origin}:{r.id}" for r in members)
        lines = [
            f"# Corpus for the `{family}` secret family ({sources}).",
            "# Generated by generate.py (fake tokens sampled from the rule's regex, seeded by the",
            "# family name); do not edit by hand. Format as in ../github_token.txt.",
            "",
            "# true positives",
        ]
        lines += [f"+ {escape(t)} => {escape(s)}" for t, s in pos]
        lines += ["", "# false positives"]
        lines += [f"- {escape(t)}" for t in neg]
        (HERE / f"{family}.txt").write_text("\n".join(lines) + "\n")
    write_readme(families, examples)
    for s in short:
        print("short:", s)


if __name__ == "__main__":
    main()
