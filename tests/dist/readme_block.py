"""Prints the code block of README.md marked `<!-- readme-run: LANG -->` (as tests/readme does).

    python3 tests/dist/readme_block.py README.md c > example.c
"""

import re
import sys
from pathlib import Path

readme, lang = Path(sys.argv[1]).read_text(encoding="utf-8"), sys.argv[2]
match = re.search(rf"<!-- readme-run: {re.escape(lang)} -->\s*```\w+\n(.*?)```", readme, re.S)
if not match:
    sys.exit(f"{sys.argv[1]}: no code block marked readme-run: {lang}")
sys.stdout.write(match.group(1))
