"""The lab writer's health summary (tests/lab/writer.py), which the molecule scenarios assert on."""
import importlib.util
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
