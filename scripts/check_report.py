#!/usr/bin/env python3
"""Report check (development tool, `make interop`): runs `winnow demo` on a small sample web and `winnow report` on
its output, then validates ai-act-summary.json against schemas/ai-act-summary.schema.json (jsonschema), checks that
the schema refuses a summary without a section, that summary.json's totals match the index (sqlite3), and that the
dataset card's YAML front matter holds the Hugging Face keys."""
import argparse
import copy
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

import jsonschema


def fail(message):
    print(f"check_report: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--winnow", required=True)
    args = ap.parse_args()
    schema = json.load(open("schemas/ai-act-summary.schema.json"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.load(open("schemas/ai-act-summary.example.json")), schema)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([args.winnow, "demo", "--output", tmp, "--pages", "8", "--pipeline", "pipelines/demo.json"],
                       check=True, stdout=subprocess.DEVNULL)
        out = os.path.join(tmp, "out")
        report = os.path.join(tmp, "report")
        subprocess.run([args.winnow, "report", out, "--output", report], check=True, stderr=subprocess.DEVNULL)
        summary = json.load(open(os.path.join(report, "ai-act-summary.json")))
        try:
            jsonschema.validate(summary, schema)
        except jsonschema.ValidationError as e:
            fail(f"ai-act-summary.json does not match the schema: {e.message} at {list(e.absolute_path)}")
        broken = copy.deepcopy(summary)
        del broken["section_3"]
        try:
            jsonschema.validate(broken, schema)
            fail("the schema accepts a summary without section 3")
        except jsonschema.ValidationError:
            pass
        if summary["section_2"]["2_3_crawled_data"]["a_crawler_names"]["value"] is None:
            fail("2.3 crawler names are blank although the run recorded its crawler")
        figures = json.load(open(os.path.join(report, "summary.json")))
        db = sqlite3.connect(os.path.join(out, "index.sqlite"))
        n, kept = db.execute("SELECT count(*), sum(status = 'kept') FROM samples").fetchone()
        if (figures["totals"]["candidates"], figures["totals"]["kept"]) != (n, kept):
            fail(f"summary.json totals {figures['totals']} differ from the index ({n}, {kept})")
        card = open(os.path.join(report, "README.md")).read()
        if not card.startswith("---\n") or "\n---\n" not in card[4:]:
            fail("README.md has no YAML front matter")
        front = card[4:card.index("\n---\n", 4)]
        for key in ("pretty_name:", "size_categories:", "task_categories:", "source_datasets:"):
            if key not in front:
                fail(f"README.md front matter lacks {key}")
    print("check_report: ai-act-summary.json valid, summary.json matches the index, dataset card has its front matter")


if __name__ == "__main__":
    main()
