"""Writes and checks the Relay PII config corpus of tests/relay_vs_peer.rs.

Run with an interpreter that has sentry-relay (the pinned 0.10.1; scripts/setup-test-clients
puts it in .clients/venv), from anywhere:

    .clients/venv/bin/python event-filter/testdata/relay/make_configs.py

It (re)writes `configs/<name>.json` for every config below, where the `datascrubbing-*` ones are
what `sentry_relay.convert_datascrubbing_config` makes of Sentry's data-scrubbing settings, and
the table of `README.md` between its markers. Then it checks every file of `configs/`:
`sentry_relay.validate_pii_config` accepts it, every rule an application names is one of the
config's own rules or one of Relay's built-in rules, and the config changes at least one of the
crafted events of `events/` (a config that scrubs nothing compares nothing), except the few of
`CHANGES_NOTHING`, which are here to show Relay leaving something alone and must change none.
"""

import json
import sys
from importlib.metadata import version
from pathlib import Path

import sentry_relay

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "configs"
EVENTS = HERE / "events"

# Relay's built-in rules in sentry-relay 0.10.1 (relay-pii's builtin.rs, plus `@bearer` and
# `@cookies`, which are in the 0.10.1 library but newer than some copies of that file).
BUILTINS = set()
for family, variants in {
    "anything": ["", ":remove", ":replace", ":hash", ":mask", ":filter"],
    "ip": ["", ":replace", ":hash", ":mask", ":remove"],
    "imei": ["", ":replace", ":hash", ":mask", ":remove"],
    "mac": ["", ":replace", ":hash", ":mask", ":remove"],
    "uuid": ["", ":replace", ":hash", ":mask", ":remove"],
    "email": ["", ":replace", ":hash", ":mask", ":remove"],
    "iban": ["", ":replace", ":hash", ":mask", ":filter", ":remove"],
    "creditcard": ["", ":replace", ":hash", ":mask", ":filter", ":remove"],
    "pemkey": ["", ":replace", ":hash", ":mask", ":filter", ":remove"],
    "urlauth": ["", ":replace", ":hash", ":mask", ":remove", ":legacy"],
    "usssn": ["", ":replace", ":hash", ":mask", ":filter", ":remove"],
    "userpath": ["", ":replace", ":hash", ":mask", ":filter", ":remove"],
    "password": ["", ":replace", ":hash", ":mask", ":filter", ":remove"],
    "bearer": ["", ":replace", ":hash", ":mask", ":filter", ":remove"],
    "common": ["", ":filter"],
    "cookies": ["", ":filter"],
}.items():
    BUILTINS.update(f"@{family}{v}" for v in variants)


def rule(ty, redaction=None, **fields):
    spec = {"type": ty, **fields}
    if redaction is not None:
        spec["redaction"] = redaction
    return spec


REMOVE = {"method": "remove"}
MASK = {"method": "mask"}
HASH = {"method": "hash"}
DEFAULT = {"method": "default"}


def replace(text):
    return {"method": "replace", "text": text}


def on_strings(name, spec, selector="$string"):
    return {"rules": {name: spec}, "applications": {selector: [name]}}


def builtin(*names, selector="$string"):
    return {"applications": {selector: list(names)}}


# name -> (what it exercises, config)
HAND_WRITTEN = {
    # Rule types, each as a custom rule.
    "rule-pattern": (
        "`pattern` rule, replace with text, no `replaceGroups`",
        on_strings("custom", rule("pattern", replace("[custom]"), pattern=r"secret-[0-9a-f]+")),
    ),
    "rule-pattern-groups": (
        "`pattern` rule with `replaceGroups` (only group 2 replaced)",
        on_strings(
            "pair",
            rule("pattern", replace("[who]"), pattern=r"(user=)(\w+)", replaceGroups=[2]),
        ),
    ),
    "rule-imei": ("`imei` rule, replace", on_strings("imei", rule("imei", replace("[imei]")))),
    "rule-mac": ("`mac` rule, mask", on_strings("mac", rule("mac", MASK))),
    "rule-uuid": ("`uuid` rule, hash without key", on_strings("uuid", rule("uuid", HASH))),
    "rule-email": ("`email` rule, replace with text", on_strings("mail", rule("email", replace("[mail]")))),
    "rule-ip": ("`ip` rule, remove", on_strings("ip", rule("ip", REMOVE))),
    "rule-creditcard": ("`creditcard` rule, mask", on_strings("cc", rule("creditcard", MASK))),
    "rule-iban": ("`iban` rule, replace", on_strings("iban", rule("iban", replace("[iban]")))),
    "rule-userpath": ("`userpath` rule, replace", on_strings("up", rule("userpath", replace("[user]")))),
    "rule-pemkey": ("`pemkey` rule, redaction `default`", on_strings("pem", rule("pemkey", DEFAULT))),
    "rule-urlauth": ("`url_auth` rule (Relay's name for urlauth), mask", on_strings("ua", rule("url_auth", MASK))),
    "rule-usssn": ("`us_ssn` rule (Relay's name for usssn), remove", on_strings("ssn", rule("us_ssn", REMOVE))),
    "rule-cookies": (
        "`cookies` rule on the Cookie header, replace",
        on_strings("ck", rule("cookies", replace("[cookie]")), selector="$http.headers.Cookie"),
    ),
    "rule-bearer": ("`bearer` rule, replace", on_strings("bearer", rule("bearer", replace("[token]")))),
    "rule-password": (
        "`password` rule (key names) on every value (`**`), replace",
        on_strings("pw", rule("password", replace("[pw]")), selector="**"),
    ),
    "rule-password-strings": (
        "`password` rule on `$string`, remove",
        on_strings("pw", rule("password", REMOVE)),
    ),
    "rule-redact-pair": (
        "`redact_pair` rule with a `keyPattern`, replace",
        on_strings(
            "pair",
            rule("redact_pair", replace("[pair]"), keyPattern=r"(?i)^(x-auth-token|api_key|card)$"),
            selector="**",
        ),
    ),
    "rule-anything": (
        "`anything` rule on a key path, remove",
        on_strings("any", rule("anything", REMOVE), selector="extra.password || extra.Secret"),
    ),
    "rule-multiple": (
        "`multiple` rule (email, ip) with its own redaction, inner rule names shown",
        on_strings(
            "multi",
            rule("multiple", replace("[multi]"), rules=["@email", "@ip"], hide_inner=False),
        ),
    ),
    "rule-multiple-hide-inner": (
        "`multiple` rule with `hide_inner`, mixing a built-in and a custom rule",
        {
            "rules": {
                "custom": rule("pattern", replace("[custom]"), pattern=r"secret-[0-9a-f]+"),
                "multi": rule("multiple", rules=["@creditcard", "custom"], hide_inner=True),
            },
            "applications": {"$string": ["multi"]},
        },
    ),
    "rule-alias": (
        "`alias` rules: to a built-in (hide_inner false) and to a custom rule (hide_inner true)",
        {
            "rules": {
                "cc": rule("alias", rule="@creditcard:mask", hide_inner=False),
                "mail": rule("email", HASH),
                "mail2": rule("alias", replace("[aliased]"), rule="mail", hide_inner=True),
            },
            "applications": {"$string": ["cc", "mail2"]},
        },
    ),
    # Redaction methods not covered above.
    "redaction-hash-key": (
        "`hash` with the rule's `key`",
        on_strings("mail", rule("email", {"method": "hash", "key": "rule-key"})),
    ),
    "redaction-hash-vars": (
        "`hash` with `vars.hashKey` (and a rule without a key)",
        dict(on_strings("ip", rule("ip", HASH)), vars={"hashKey": "project-key"}),
    ),
    "redaction-replace-default-text": (
        "`replace` without `text` (Relay's default text)",
        on_strings("mail", rule("email", {"method": "replace"})),
    ),
    "redaction-default-builtin": (
        "redaction `default` of a multiple rule over built-ins (each inner rule's own)",
        on_strings("all", rule("multiple", DEFAULT, rules=["@email:hash", "@ip:mask", "@creditcard"])),
    ),
    # Built-in rules.
    "builtin-ip": ("`@ip` on `$string`", builtin("@ip")),
    "builtin-ip-replace": ("`@ip:replace` on `$string`", builtin("@ip:replace")),
    "builtin-ip-hash": ("`@ip:hash` on `$string`", builtin("@ip:hash")),
    "builtin-ip-mask-remove": (
        "`@ip:mask` on `$string`, `@ip:remove` on `user.ip_address`",
        {"applications": {"$string": ["@ip:mask"], "user.ip_address": ["@ip:remove"]}},
    ),
    "builtin-email": ("`@email` on `$string`", builtin("@email")),
    "builtin-email-mask": ("`@email:mask` on `$string`", builtin("@email:mask")),
    "builtin-email-hash-remove": (
        "`@email:hash` on `$string`, `@email:remove` on `user.email`",
        {"applications": {"user.email": ["@email:remove"], "$string": ["@email:hash"]}},
    ),
    "builtin-creditcard": ("`@creditcard` on `$string`", builtin("@creditcard")),
    "builtin-creditcard-filter": ("`@creditcard:filter` on `$string`", builtin("@creditcard:filter")),
    "builtin-creditcard-mask-hash": (
        "`@creditcard:mask` on `$string`, `@creditcard:hash` on `extra.cc_plain`",
        {"applications": {"extra.cc_plain": ["@creditcard:hash"], "$string": ["@creditcard:mask"]}},
    ),
    "builtin-iban": ("`@iban` and `@iban:filter` (on extra)", {"applications": {
        "$string": ["@iban"], "extra.*": ["@iban:filter"]}}),
    "builtin-mac-uuid-imei": (
        "`@mac`, `@uuid`, `@imei` (their default aliases) on `$string`",
        builtin("@mac", "@uuid", "@imei"),
    ),
    "builtin-mac-uuid-imei-variants": (
        "`@mac:replace`, `@uuid:hash`, `@imei:mask` on `$string`",
        builtin("@mac:replace", "@uuid:hash", "@imei:mask"),
    ),
    "builtin-pemkey": ("`@pemkey` on `$string`", builtin("@pemkey")),
    "builtin-pemkey-mask": ("`@pemkey:mask` on `$string`", builtin("@pemkey:mask")),
    "builtin-urlauth": ("`@urlauth` on `$string`", builtin("@urlauth")),
    "builtin-urlauth-legacy": ("`@urlauth:legacy` (a pattern with replaceGroups)", builtin("@urlauth:legacy")),
    "builtin-usssn": ("`@usssn` (mask) on `$string`", builtin("@usssn")),
    "builtin-usssn-filter": ("`@usssn:filter` on `$string`", builtin("@usssn:filter")),
    "builtin-userpath": ("`@userpath` on `$string`", builtin("@userpath")),
    "builtin-userpath-mask": ("`@userpath:mask` on `$string`", builtin("@userpath:mask")),
    "builtin-bearer": ("`@bearer` on `$string`", builtin("@bearer")),
    "builtin-password": ("`@password` (remove) on every value", builtin("@password", selector="**")),
    "builtin-password-filter": ("`@password:filter` on `$string`", builtin("@password:filter")),
    "builtin-password-hash": (
        "`@password:hash` on `$number || $boolean` (non-strings under password keys)",
        builtin("@password:hash", selector="$number || $boolean"),
    ),
    "builtin-common": ("`@common` on `$string`", builtin("@common")),
    "builtin-common-filter": ("`@common:filter` on `$string`", builtin("@common:filter")),
    "builtin-cookies": (
        "`@cookies:filter` on the Cookie header (session cookie values in cookie strings)",
        builtin("@cookies:filter", selector="$http.headers.Cookie"),
    ),
    "builtin-anything-remove": ("`@anything:remove` on `extra.*`", builtin("@anything:remove", selector="extra.*")),
    "builtin-anything-variants": (
        "`@anything`, `:replace`, `:hash`, `:mask`, `:filter` on different keys",
        {"applications": {
            "extra.email": ["@anything"], "extra.ipv4": ["@anything:replace"],
            "extra.uuid": ["@anything:hash"], "extra.mac": ["@anything:mask"],
            "extra.ssn": ["@anything:filter"], "extra.number": ["@anything:mask"],
            "extra.flag": ["@anything:hash"], "extra.nested": ["@anything:replace"],
        }},
    ),
    # Selectors: value types.
    "sel-number": ("`$number` value type", builtin("@anything:remove", selector="$number")),
    "sel-boolean": ("`$boolean` value type", builtin("@anything:replace", selector="$boolean")),
    "sel-array": ("`$array` value type", builtin("@anything:remove", selector="$array")),
    "sel-object": (
        "`$object` value type (objects directly in `extra`), remove",
        builtin("@anything:remove", selector="$object && extra.*"),
    ),
    "sel-datetime": ("`$datetime` value type", builtin("@anything:remove", selector="$datetime")),
    # Selectors: the aliases of value types.
    "sel-list": ("`$list` (an alias of `$array`): arrays, and the items of arrays", {"applications": {
        "$list.*": ["@email:replace"], "extra.nested.$list": ["@anything:remove"]}}),
    "sel-bool": ("`$bool` (an alias of `$boolean`), alone and with a path", {"applications": {
        "$bool": ["@anything:replace"], "extra.** && $bool": ["@anything:remove"]}}),
    "sel-stack": ("`$stack` (an alias of `$stacktrace`)", {"applications": {
        "$stack.frames.**": ["@email"], "$stack.frames.*.abs_path": ["@userpath:mask"]}}),
    # Selectors: schema types.
    "sel-frame": ("`$frame` fields", {"applications": {
        "$frame.vars.**": ["@anything:replace"], "$frame.abs_path": ["@userpath"],
        "$frame.context_line": ["@email"]}}),
    "sel-exception-error": ("`$exception` and `$error`", {"applications": {
        "$exception.value": ["@common"], "$error.type": ["@anything:mask"]}}),
    "sel-stacktrace": ("`$stacktrace`", builtin("@userpath:replace", selector="$stacktrace.frames.*.filename")),
    "sel-http-request": ("`$http` and `$request`", {"applications": {
        "$http.headers.**": ["@anything:remove"], "$request.url": ["@urlauth"],
        "$http.query_string.**": ["@email"], "$request.data.**": ["@password"]}}),
    "sel-user": ("`$user`", {"applications": {
        "$user.email": ["@email:mask"], "$user.ip_address": ["@ip:hash"], "$user.data.**": ["@anything:replace"]}}),
    "sel-breadcrumb": ("`$breadcrumb`", {"applications": {
        "$breadcrumb.message": ["@common"], "$breadcrumb.data.**": ["@anything:replace"]}}),
    "sel-thread": ("`$thread`", {"applications": {"$thread.name": ["@email"], "$thread.**": ["@password"]}}),
    "sel-span": ("`$span`", {"applications": {
        "$span.description": ["@email", "@ip"], "$span.data.**": ["@anything:replace"]}}),
    "sel-sdk": ("`$sdk`", {"applications": {"$sdk.name": ["@anything:replace"], "$sdk.client_ip": ["@ip"]}}),
    "sel-logentry-message": ("`$logentry` and `$message`", {"applications": {
        "$logentry.formatted": ["@email"], "$message.params.**": ["@anything:replace"]}}),
    "sel-event": ("`$event` (the root: changes nothing, even as a prefix)", {"applications": {
        "$event": ["@anything:remove"], "$event.extra.**": ["@common"], "$event.tags.*": ["@email"]}}),
    # Selectors: paths.
    "sel-keys": ("plain key paths", {"applications": {
        "extra.password": ["@anything:remove"], "request.headers.Authorization": ["@anything:replace"],
        "user.email": ["@email:replace"], "contexts.custom.secret": ["@anything:mask"]}}),
    "sel-quoted-key": ("quoted keys `'a.b'`, `'my ctx'`, `'user.email'`", {"applications": {
        "extra.'a.b'": ["@email"], "contexts.custom.'my ctx'.password": ["@anything:remove"],
        "tags.'user.email'": ["@anything:replace"]}}),
    "sel-index": ("array indices", {"applications": {
        "exception.values.0.value": ["@anything:replace"], "breadcrumbs.values.1.message": ["@email"],
        "extra.nested.list.0": ["@anything:remove"]}}),
    "sel-wildcard": ("`*` (one level)", {"applications": {
        "extra.*": ["@email"], "contexts.*.secret": ["@anything:replace"]}}),
    "sel-deep-wildcard": ("`**` (any depth)", {"applications": {
        "extra.**": ["@ip"], "**.password": ["@anything:remove"]}}),
    # Selectors: boolean operators.
    "op-not": ("`!`", builtin("@email", selector="!extra.email")),
    "op-and": ("`&&` of a value type and a path", {"applications": {
        "$string && $frame.**": ["@email"], "$frame.vars.** && $number": ["@anything:remove"]}}),
    "op-or": ("`||` of paths and schema types", builtin(
        "@anything:replace", selector="extra.password || user.email || $breadcrumb.message")),
    "op-nested": ("`!`, `&&`, `||` nested with parentheses", builtin(
        "@common", selector="($string || $number) && !($user.** || extra.keep || (extra.* && $number))")),
}

# Value types of Relay's other payloads (attachments, minidumps and their memory regions,
# replays, logs, trace metrics) and of raw bytes: `pii_strip_event` never meets one in an
# event, so each selects nothing there, alone, with `.**` or after `**`.
NOT_IN_EVENTS = {
    "binary": "raw bytes",
    "attachments": "attachments",
    "minidump": "minidumps",
    "heap_memory": "minidumps' heap memory",
    "stack_memory": "minidumps' stack memory",
    "replay": "session replays",
    "log": "logs",
    "trace_metric": "trace metrics",
}
for _type, _what in NOT_IN_EVENTS.items():
    HAND_WRITTEN[f"sel-{_type.replace('_', '-')}"] = (
        f"`${_type}` ({_what}, never in an event: selects nothing)",
        {"applications": {f"${_type}": ["@anything:remove"], f"${_type}.**": ["@anything:remove"],
                          f"**.${_type}": ["@anything:replace"]}},
    )

DATASCRUBBING = {
    "datascrubbing-defaults": (
        "Sentry's default data scrubbing (scrubData, scrubDefaults, scrubIpAddresses)",
        {"scrubData": True, "scrubDefaults": True, "scrubIpAddresses": True,
         "sensitiveFields": [], "excludeFields": []},
    ),
    "datascrubbing-fields": (
        "default data scrubbing plus sensitiveFields and excludeFields",
        {"scrubData": True, "scrubDefaults": True, "scrubIpAddresses": True,
         "sensitiveFields": ["card_number", "X-Auth-Token"], "excludeFields": ["keep_me", "email"]},
    ),
    "datascrubbing-fields-only": (
        "data scrubbing without defaults or IP scrubbing: sensitiveFields only",
        {"scrubData": True, "scrubDefaults": False, "scrubIpAddresses": False,
         "sensitiveFields": ["my_password_hint", "session"], "excludeFields": []},
    ),
}


# Configs that are here to show Relay leaving something alone, so they must change nothing.
CHANGES_NOTHING = {
    # Relay's redactions never touch a boolean (a number becomes null under any of them).
    "sel-boolean",
    # Every datetime of the event schema (timestamp, start_timestamp, breadcrumb timestamps) is
    # a field Relay's PII processing skips; a datetime-looking string in `extra` is a string.
    "sel-datetime",
    # `$event` is the root, which no rule changes, and a path that starts with it selects
    # nothing: the root has no path item for `$event` to match.
    "sel-event",
    # The alias of `$boolean`: nothing, as for `sel-boolean`.
    "sel-bool",
    # Types of other payloads than events.
    *(f"sel-{t.replace('_', '-')}" for t in NOT_IN_EVENTS),
}


def referenced_rules(config):
    for names in config.get("applications", {}).values():
        yield from names
    for spec in config.get("rules", {}).values():
        yield from spec.get("rules", [])
        if "rule" in spec:
            yield spec["rule"]


def check(name, config, events):
    text = json.dumps(config, indent=2)
    sentry_relay.validate_pii_config(text)
    own = set(config.get("rules", {}))
    for ref in referenced_rules(config):
        if ref not in own and ref not in BUILTINS:
            raise ValueError(f"{name}: unknown rule {ref!r}")
    changes = any(
        sentry_relay.pii_strip_event(config, e) != sentry_relay.pii_strip_event({}, e) for e in events
    )
    if changes != (Path(name).stem not in CHANGES_NOTHING):
        raise ValueError(f"{name}: {'scrubs something' if changes else 'scrubs nothing'} in events/")


def main():
    assert version("sentry-relay") == "0.10.1", version("sentry-relay")
    CONFIGS.mkdir(exist_ok=True)
    described = {name: what for name, (what, _) in HAND_WRITTEN.items()}
    written = {name: config for name, (_, config) in HAND_WRITTEN.items()}
    for name, (what, settings) in DATASCRUBBING.items():
        described[name] = what
        written[name] = sentry_relay.convert_datascrubbing_config(settings)
    for name, config in written.items():
        (CONFIGS / f"{name}.json").write_text(json.dumps(config, indent=2) + "\n")

    events = [json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json"))]
    on_disk = sorted(CONFIGS.glob("*.json"))
    for path in on_disk:
        check(path.name, json.loads(path.read_text()), events)
    stale = {p.stem for p in on_disk} - set(written)
    if stale:
        sys.exit(f"configs/ has files this script does not write: {sorted(stale)}")

    readme = HERE / "README.md"
    text = readme.read_text()
    begin, end = "<!-- configs: begin -->", "<!-- configs: end -->"
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    table = "\n".join(
        ["| Config | Exercises |", "|---|---|"]
        + [f"| `{name}.json` | {what} |" for name, what in sorted(described.items())]
    )
    readme.write_text(f"{head}{begin}\n{table}\n{end}{tail}")
    print(f"{len(on_disk)} configs written and checked")


if __name__ == "__main__":
    main()
