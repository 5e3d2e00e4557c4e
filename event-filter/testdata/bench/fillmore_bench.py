"""Fillmore's side of `bench event-filter`: the same event and the same 7 rules
(testdata/bench/seven-rules.toml), scrubbed for SECONDS of scrubbing on one core. As on the
Rust side, each pass scrubs an unscrubbed copy of the event; the copies are made a batch at a
time, outside the clock.

usage: fillmore_bench.py EVENT.json SECONDS   (needs `pip install fillmore==2.2.0`)
prints: events/s
"""
import copy
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
    timed = 0.0
    while timed < seconds:
        batch = [copy.deepcopy(event) for _ in range(100)]
        start = time.perf_counter()
        for fresh in batch:
            scrubber(fresh, {})
        timed += time.perf_counter() - start
        count += 100
    print(f"{count / timed:.0f}")


if __name__ == "__main__":
    main()
