"""Fillmore's side of `bench event-filter`: the same event and the same 7 rules
(testdata/bench/seven-rules.toml), scrubbed in place repeatedly for SECONDS on one core.

usage: fillmore_bench.py EVENT.json SECONDS   (needs `pip install fillmore==2.2.0`)
prints: events/s
"""
import json
import sys
import time

from fillmore.scrubber import Rule, Scrubber, build_scrub_query_string, scrub

RULES = [
    Rule(
        path="exception.values.[].stacktrace.frames.[].vars",
        keys=["username", "password", "card", "api_token", "aws_key", "auth_header", "db_url"],
        scrub=scrub,
    ),
    Rule(path="request.headers", keys=["Authorization", "Cookie"], scrub=scrub),
    Rule(path="request", keys=["cookies"], scrub=scrub),
    Rule(path="request", keys=["query_string"], scrub=build_scrub_query_string(params=["token"])),
    Rule(path="user", keys=["email", "ip_address"], scrub=scrub),
    Rule(path="request.env", keys=["REMOTE_ADDR"], scrub=scrub),
    Rule(path="extra", keys=["sys.argv"], scrub=scrub),
]


def main():
    with open(sys.argv[1]) as f:
        event = json.load(f)
    seconds = float(sys.argv[2])
    scrubber = Scrubber(rules=RULES)
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            scrubber(event, {})
        count += 100
    print(f"{count / (time.perf_counter() - start):.0f}")


if __name__ == "__main__":
    main()
