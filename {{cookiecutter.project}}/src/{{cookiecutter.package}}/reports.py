"""Every verb writes its result twice under reports/: JSON for machines, Markdown for people."""

import json

from .config import REPORTS_DIR


def write_report(name, result, markdown):
    REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path = REPORTS_DIR / f"{name}.json"
    json_path.write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
    (REPORTS_DIR / f"{name}.md").write_text(markdown.rstrip() + "\n")
    return json_path


def read_report(name):
    path = REPORTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def markdown_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    # A "|" inside a cell would start a new column: escape it.
    cells = [[str(cell).replace("|", "\\|") for cell in row] for row in rows]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)
