"""The lab writer's health summary (tests/lab/writer.py), which the molecule scenarios assert on."""
import importlib.util
import json
import os

import pytest

_PATH = os.path.join(os.path.dirname(__file__), "..", "lab", "writer.py")
_SPEC = importlib.util.spec_from_file_location("lab_writer", _PATH)
writer = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(writer)


def sample(*unhealthy):
    return {"time": 0.0, "unhealthy": list(unhealthy)}


@pytest.mark.parametrize(
    "samples, expected",
    [
        ([], 0),
        ([sample("a", "b")], 0),                                   # one instant is not an outage
        ([sample("a", "b"), sample(), sample("a")], 0),
        ([sample("a"), sample("a", "b"), sample("b")], 1),         # a, then b: one at a time
        ([sample("a", "b"), sample("a", "b"), sample("a")], 2),    # two down in a row: an outage
        ([sample("a", "b", "c"), sample("c", "b")], 2),
    ],
)
def test_sustained_unhealthy_counts_endpoints_down_in_two_samples_in_a_row(samples, expected):
    assert writer.max_unhealthy_sustained(samples) == expected


FAKE_ETCDCTL = r"""#!/usr/bin/env python3
# etcdctl for the writer: the first put of every third key fails once with a transport error, every
# put of keys ending in 7 fails always; `get --prefix -w json` reads the store back.
import base64, json, os, sys
state = os.path.join(os.path.dirname(os.path.abspath(__file__)), "state.json")
data = json.load(open(state)) if os.path.exists(state) else {"kv": {}, "tried": []}
args = [a for a in sys.argv[1:] if not a.startswith("--")]
if args[0] == "put":
    key, value = args[1], args[2]
    if key.endswith("7") or (int(key[-8:]) % 3 == 0 and key not in data["tried"]):
        data["tried"].append(key)
        json.dump(data, open(state, "w"))
        sys.exit("Error: rpc error: code = Unknown desc = malformed header: missing HTTP content-type")
    data["kv"][key] = value
    json.dump(data, open(state, "w"))
    if len(data["kv"]) >= 12:
        open(os.environ["FAKE_STOP"], "w").close()
    print("OK")
else:
    print(json.dumps({"kvs": [{"key": base64.b64encode(k.encode()).decode(), "value": base64.b64encode(v.encode()).decode()}
                              for k, v in data["kv"].items()]}))
"""


def test_a_put_that_fails_is_tried_again_and_counts_as_failed_only_when_every_try_failed(tmp_path, monkeypatch):
    fake = tmp_path / "etcdctl"
    fake.write_text(FAKE_ETCDCTL)
    fake.chmod(0o755)
    stop, report = tmp_path / "stop", tmp_path / "report.json"
    monkeypatch.setenv("FAKE_STOP", str(stop))
    monkeypatch.setattr(writer, "RETRY_DELAY", 0)
    monkeypatch.setattr(writer, "sample_health", lambda opts, stop, samples: None)
    monkeypatch.setattr("sys.argv", ["writer.py", "--endpoints=https://127.0.0.1:1", "--cacert=c", "--cert=c",
                                     "--key=k", "--put-interval=0", "--etcdctl=%s" % fake, "--stop-file=%s" % stop, "--report=%s" % report])
    writer.main()
    got = json.load(open(report))
    assert got["acked"] == 12 and got["missing_count"] == 0 and got["read_back_ok"]
    assert got["failed"] == 1 and got["failures"][0]["key"].endswith("00000007")  # all three tries failed
    assert got["retried"] == 2 + 5  # key 7 twice, keys 0, 3, 6, 9, 12 once
    assert all("malformed header" in r["stderr"] for r in got["retries"])
