"""The OpenAPI document against the real server: schemathesis with every check, bounded.

Every status code a route answers is documented, every constraint the server enforces is
in the schema, and no request makes a 5xx. The run is bounded (examples per operation) to
stay well under two minutes on two cores.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_process import KEYS, ServerProcess, write_site_toml

pytestmark = pytest.mark.slow
EXAMPLES = 30
SEED = 16

# Schemathesis' ignored-auth check sends wrong keys and wants 401, which the wrong-key limit
# turns into 429 after a few; the limits have tests of their own (test_rate_limits.py).
GENEROUS_KEY_LIMITS = """
[rate_limits]
wrong_keys_per_address = {burst = 100000, per_minute = 100000}
wrong_keys_per_key = {burst = 100000, per_minute = 100000}
"""

# A delegate's authorisation must not have expired already: a bound that moves with the
# clock, which a schema cannot state (the field's description says it). So for this one
# operation a schema-valid request may also be refused with 422.
#
# The console's event stream stays open while the console listens: each call is cut after
# its first event or 2 s, or one run waited minutes on open streams.
CONFIG = """
[[operations]]
include-path = "/api/lanes/{lane}/events"
max-stream-events = 1
request-timeout = 2

[[operations]]
include-path = "/api/applications/{permit_id}/delegates"
[operations.checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"""


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[ServerProcess]:
    config = tmp_path / "site.toml"
    write_site_toml(config)
    config.write_text(config.read_text() + GENEROUS_KEY_LIMITS)
    server = ServerProcess(tmp_path, None, "")
    server.start(wait_for_broker=False)
    try:
        yield server
    finally:
        server.stop()


def test_the_openapi_document_holds_for_every_answer(
    api_server: ServerProcess, tmp_path: Path
) -> None:
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    st = Path(sys.executable).with_name("st")
    done = subprocess.run(
        [str(st), "--config-file", str(tmp_path / "schemathesis.toml"), "run",
         f"{api_server.url}/openapi.json", "--checks", "all",
         "--header", f"Authorization: Bearer {KEYS['admin'][0]}",
         "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--request-timeout", "10",
         "--no-color"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "Tested: 34" in output, output[-3000:]
    assert "failures" not in output.split("SUMMARY")[-1].lower(), output[-3000:]
