#!/usr/bin/env python3
"""Reads a benchmark's JSON lines on stdin, adds ratio/date/commit/bench, prints them."""
import json
import sys

bench, date, commit = sys.argv[1:4]
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    for k in ("name", "value", "unit"):
        if k not in r:
            sys.exit(f"bench {bench}: figure without '{k}': {line}")
    r.setdefault("baseline", None)
    r.setdefault("baseline_value", None)
    bv = r["baseline_value"]
    # a bench that measures its figure and baseline in pairs (each run's own baseline, on a
    # machine whose speed drifts between runs) gives the median of the pairs' ratios itself
    if "ratio" not in r:
        r["ratio"] = round(r["value"] / bv, 3) if bv else None
    r.update(date=date, commit=commit, bench=bench)
    print(json.dumps(r, sort_keys=True))
    print(f"  {r['name']}: {r['value']} {r['unit']}"
          + (f"  (baseline {r['baseline']}: {bv}, ratio {r['ratio']})" if bv else ""),
          file=sys.stderr)
