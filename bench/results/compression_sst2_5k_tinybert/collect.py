"""Collect the compression.json of each run folder under a directory into one JSON object."""
import json
import sys
from pathlib import Path

rows = {}
for summary in sorted(Path(sys.argv[1]).glob("*/compression.json")):
    data = json.loads(summary.read_text())
    rows[summary.parent.name] = data
print(json.dumps(rows, indent=1))
