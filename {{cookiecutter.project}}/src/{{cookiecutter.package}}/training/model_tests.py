"""`model-tests`: run tests/model (every gate, one test each) and write the gate table.

pytest writes JUnit XML for CI; the table comes from reports/gates.json, which
`evaluate` (the last stage of `dvc repro`) wrote, so the value and limit of each gate
show next to the tests' verdict.
"""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from ..config import CliError
from ..reports import read_report, write_report
from .evaluate import gates_markdown

DEFAULT_JUNIT = Path("reports/junit/model-tests.xml")


def junit_counts(path):
    """tests / failures / errors / skipped summed over the suites of a JUnit file."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    keys = ("tests", "failures", "errors", "skipped")
    return {key: sum(int(suite.get(key, 0)) for suite in suites) for key in keys}


def failed_tests(path):
    root = ET.parse(path).getroot()
    return [
        f"{case.get('classname')}::{case.get('name')}"
        for case in root.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    ]


def model_tests(args):
    gates = read_report("gates")
    if gates is None:
        raise CliError(
            "reports/gates.json is missing: run `dvc repro` (make pipeline) first; its "
            "evaluate stage computes the gates these tests check."
        )
    junit = Path(args.junit)
    junit.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pytest", args.tests, f"--junitxml={junit}", "-q"]
    returncode = subprocess.run(command).returncode
    if not junit.exists():
        raise CliError(f"pytest exited {returncode} without writing {junit}: see its output.")
    counts, failed = junit_counts(junit), failed_tests(junit)
    passed = returncode == 0 and gates["passed"]
    result = {**counts, "passed": passed, "failed_tests": failed, "junit": str(junit),
              "gates": gates["gates"]}  # fmt: skip
    write_report("model_tests", result, _markdown(result))
    if not passed:
        names = ", ".join(failed) or "see the gate table"
        raise CliError(f"model tests failed ({names}): see reports/model_tests.md and {junit}.")
    print(f"{counts['tests']} model tests, all gates pass: reports/model_tests.md, {junit}.")


def _markdown(result):
    bad = result["failures"] + result["errors"]
    ran = result["tests"] - result["skipped"]
    verdict = "passed" if result["passed"] else "FAILED"
    lines = [
        f"## Model tests {verdict}",
        "",
        f"{ran - bad} of {ran} tests passed, {result['skipped']} skipped "
        f"(JUnit: `{result['junit']}`).",
    ]
    lines += [f"- failed: `{name}`" for name in result["failed_tests"]]
    return "\n".join(lines) + "\n\n" + gates_markdown(result["gates"])


def add_arguments(parser):
    parser.add_argument("--tests", default="tests/model", help="test folder (default: %(default)s)")
    parser.add_argument("--junit", default=str(DEFAULT_JUNIT), help="JUnit XML file to write")


run = model_tests
