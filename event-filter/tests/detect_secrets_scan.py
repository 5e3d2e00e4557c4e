"""Runs every detect-secrets plugin (default settings and filters) over one file and prints
one JSON object per potential secret: its 1-based line, plugin type and value. Used by
tests/detect_secrets.rs; the value is printed because the corpus holds only fake tokens."""

import json
import sys

from detect_secrets.core.scan import scan_file
from detect_secrets.settings import default_settings

with default_settings():
    for secret in scan_file(sys.argv[1]):
        print(
            json.dumps(
                {"line": secret.line_number, "type": secret.type, "secret": secret.secret_value}
            )
        )
