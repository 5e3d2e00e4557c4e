"""Runs every detect-secrets plugin (default settings and filters) over one file. Prints first
the plugins that ran, `{"plugins": [class name, ...]}`, then one JSON object per potential
secret: its 1-based line, plugin (class name), type and value. Used by
tests/detect_secrets.rs; the value is printed because the corpus holds only fake tokens.

IPPublicDetector runs a second time, alone, without the default filter
`is_not_alphanumeric_string`: that filter drops every value without a letter, so with the
default filters detect-secrets 1.5.0 never reports an IPv4 address at all. Its hits from that
run are printed with `"unfiltered": true`.
"""

import json
import sys

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.scan import scan_file
from detect_secrets.settings import default_settings, transient_settings

NO_LETTER_FILTER = "detect_secrets.filters.heuristic.is_not_alphanumeric_string"

plugin_of = {kind: cls.__name__ for kind, cls in get_mapping_from_secret_type_to_class().items()}


def report(path, **extra):
    for secret in scan_file(path):
        found = {
            "line": secret.line_number,
            "plugin": plugin_of[secret.type],
            "type": secret.type,
            "secret": secret.secret_value,
        }
        print(json.dumps({**found, **extra}))


with default_settings() as settings:
    print(json.dumps({"plugins": sorted(settings.plugins)}))
    report(sys.argv[1])

with transient_settings({"plugins_used": [{"name": "IPPublicDetector"}]}) as settings:
    settings.disable_filters(NO_LETTER_FILTER)
    report(sys.argv[1], unfiltered=True)
