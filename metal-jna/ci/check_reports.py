#!/usr/bin/env python3
"""Checks the Surefire reports of a finished build, with no test count written in advance.

  check_reports.py [--root DIR] [--allow-skip REGEX]... SUITE...

Reads every target/surefire-reports/TEST-*.xml under DIR (default: the current directory) and
fails unless:
  - at least one test ran and no test failed or erred, over all reports;
  - every SUITE (a report name such as dev.mlxarena.metal.RealMetalPoolTest$SharedStorage) has a
    report, ran at least one test, and skipped none except for a reason that matches one of the
    --allow-skip patterns.
It prints the totals, each required suite's figures and every skip reason with its count, so a
skip is never silent. Exit status 0 when all holds, 1 otherwise, with each reason on stderr.
"""
import argparse
import collections
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET


def skip_reason(skipped):
    """The reason of a <skipped> element: its message, else the first line of its text."""
    message = skipped.get("message")
    if message:
        return message
    text = (skipped.text or "").strip().splitlines()
    line = text[0] if text else "(no reason given)"
    return re.sub(r"^\S+Exception: (Assumption failed: )?", "", line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".")
    parser.add_argument("--allow-skip", action="append", default=[], metavar="REGEX")
    parser.add_argument("suites", nargs="*")
    args = parser.parse_args()

    pattern = os.path.join(args.root, "**", "target", "surefire-reports", "TEST-*.xml")
    reports = sorted(glob.glob(pattern, recursive=True))
    totals = collections.Counter()
    suites = {}
    reasons = collections.Counter()
    for path in reports:
        root = ET.parse(path).getroot()
        name = root.get("name")
        figures = {k: int(root.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
        totals.update(figures)
        skips = [skip_reason(s) for case in root.iter("testcase") for s in case.findall("skipped")]
        reasons.update(skips)
        suites[name] = (figures, skips)

    problems = []
    print(f"{len(reports)} reports: {totals['tests']} tests, {totals['failures']} failed,"
          f" {totals['errors']} erred, {totals['skipped']} skipped")
    if totals["tests"] == 0:
        problems.append("no test ran")
    if totals["failures"] + totals["errors"] != 0:
        failed = [n for n, (f, _) in suites.items() if f["failures"] + f["errors"]]
        problems.append(f"{totals['failures']} failed and {totals['errors']} erred, in: "
                        + ", ".join(sorted(failed)))

    allowed = [re.compile(p) for p in args.allow_skip]
    for name in args.suites:
        if name not in suites:
            problems.append(f"{name}: no report (the class did not run at all)")
            continue
        figures, skips = suites[name]
        ran = figures["tests"] - figures["skipped"]
        print(f"  {name}: {figures['tests']} tests, {ran} ran, {figures['skipped']} skipped")
        if ran <= 0:
            why = skips[0] if skips else "no test in it"
            problems.append(f"{name}: nothing ran ({why})")
        for reason in sorted(set(skips)):
            if not any(p.search(reason) for p in allowed):
                problems.append(f"{name}: skipped for a reason not allowed here: {reason}")

    if reasons:
        print("skip reasons:")
        for reason, n in reasons.most_common():
            print(f"  {n:5d}  {reason}")
    for p in problems:
        print(f"check_reports: FAIL: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
