"""Print the first two fenced code blocks of README's '## Quickstart' section as a JSON list."""

import json
import re
import sys

with open(sys.argv[1], encoding="utf-8") as handle:
    text = handle.read()
section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```[a-z]*\n(.*?)```", section, re.DOTALL)
if len(blocks) < 2:
    sys.exit("README's Quickstart needs two fenced code blocks: setup, then tests")
print(json.dumps([b.strip() for b in blocks[:2]]))
