"""Facts of the generated package written once: a second copy is how two copies come to
disagree. (The Actions' shared facts: tests/test_actions_lib.py.)"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "{{cookiecutter.project}}/src/{{cookiecutter.package}}"

# fact -> (how it is written, its one home)
FACTS = {
    "picking a free port": (r"def free_port\(", ["serving/load_test.py"]),
    "waiting for a server's /ready": (r"def wait_until_ready\(", ["serving/probe.py"]),
    "the HTTP client of the probes": (r"urllib\.request\.urlopen", ["serving/probe.py"]),
    "the columns a request carries": (r"sensitive if \w+ not in", ["config.py"]),
    "the bot's identity": (r"\[bot\]|retraining.bot", []),
}


@pytest.mark.parametrize("fact", FACTS)
def test_each_fact_of_the_generated_package_has_one_home(fact):
    pattern, home = FACTS[fact]
    found = [str(path.relative_to(PACKAGE)) for path in sorted(PACKAGE.rglob("*.py"))
             if re.search(pattern, path.read_text())]  # fmt: skip
    assert found == home, f"{fact} is written in {found}"


def test_waits_have_their_settings_in_params_yaml():
    """No wait of deploy, smoke or load-test is a literal number of seconds in the code."""
    waits = r"(deadline = time\.monotonic\(\) \+ \d|timeout=\d|seconds=\d)"
    found = {
        str(path.relative_to(PACKAGE)): re.findall(waits, path.read_text())
        for path in sorted([*PACKAGE.glob("deploy/*.py"), PACKAGE / "serving/load_test.py"])
    }
    assert {name: hits for name, hits in found.items() if hits} == {}
    params = (ROOT / "{{cookiecutter.project}}/params.yaml").read_text()
    for key in ("server_ready", "deployed_ready", "smoke_request", "port_forward", "server_stop"):
        assert re.search(rf"(?m)^  {key}: \d+", params), key
