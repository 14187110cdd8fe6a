"""One reading of etcd release numbers for every module, filter and rule (module_utils/etcd_version)."""

import pytest

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_version import as_tuple, at_least, dotted, find, parse


@pytest.mark.parametrize("text, expected", [
    ("3.5.16", (3, 5, 16)), ("v3.4.23", (3, 4, 23)), (" 3.6.0-rc.1\n", (3, 6, 0)),
    ("3.5", None), ("", None), (None, None), ("etcd", None), ("etcdctl version: 3.5.16", None),
])
def test_parse_reads_a_version_at_the_start(text, expected):
    assert parse(text) == expected


def test_parse_anywhere_and_find_read_the_first_version_inside_a_text():
    out = "etcdctl version: 3.5.16\nAPI version: 3.5\n"
    assert parse(out, anywhere=True) == (3, 5, 16) and find(out) == "3.5.16"
    assert find("API version: 3.5") is None and parse(None, anywhere=True) is None


def test_dotted_and_the_lenient_tuple():
    assert dotted((3, 5, 16)) == "3.5.16"
    assert as_tuple("3.5") == (3, 5, 0) and as_tuple(None) == (0, 0, 0) and as_tuple("v3.6.0-rc.1") == (3, 6, 0)


@pytest.mark.parametrize("version, minimum, expected", [
    ("3.4.23", (3, 4), True), ("3.4.23", (3, 5), False), ("3.5.16", (3, 5, 10), True),
    ("3.5.9", (3, 5, 10), False), ("3.6.0-rc.1", (3, 6), True), (None, (3, 4), False),
])
def test_at_least(version, minimum, expected):
    assert at_least(version, minimum) is expected
