"""Case 5: no network. The CLI and the page answer inside a network namespace that has only loopback
(`unshare -n`): nothing they need at run time (model, index, page assets) comes from the network."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from rel_support import CORPUS, GOOD_QUESTION, HERE, ROOT, check_verbatim, child_env, spans

pytestmark = pytest.mark.model


def _unshare_prefix() -> list[str]:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    prefix = ["unshare", "-n", "--"] if os.geteuid() == 0 else ["unshare", "-r", "-n", "--"]
    probe = subprocess.run(prefix + [sys.executable, "-c", "print(open('/proc/net/dev').read())"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"{' '.join(prefix[:-1])} is not permitted here: {probe.stderr.strip()[:200]}")
    return prefix


def test_cli_and_page_answer_without_network(real_index_dir, real_searcher):
    prefix = _unshare_prefix()
    proc = subprocess.run(prefix + [sys.executable, str(HERE / "netns_check.py"), str(real_index_dir), str(CORPUS),
                                    "7860"], capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=480)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["interfaces"] == ["lo"] and result["ipv4_routes"] == []

    expected = real_searcher.ask(GOOD_QUESTION).to_dict()
    assert result["cli_returncode"] == 0, result["cli_stderr"]
    assert "Traceback" not in result["cli_stderr"]
    assert result["page_status"] == 200
    assert result["app_event"] == "complete", result["app"]
    for rec in (result["cli"], result["app"]):
        assert rec["question"] == GOOD_QUESTION and not rec["abstained"]
        assert "Klerman" in rec["passages"][0]["text"]
        assert spans(rec) == spans(expected)
        check_verbatim(rec, ROOT)
