import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.filter.systemd_time import systemd_time

# 2026-11-23 14:21:59 UTC
EPOCH = 1795443719


@pytest.mark.parametrize(
    "printed, expected",
    [
        ("ActiveEnterTimestamp=Mon 2026-11-23 14:21:59.123456 UTC", EPOCH + 0.123456),
        ("Mon 2026-11-23 14:21:59.000001 UTC\n", EPOCH + 0.000001),
        ("Mon 2026-11-23 14:21:59 UTC", float(EPOCH)),
        ("ActiveEnterTimestamp=@%d" % EPOCH, float(EPOCH)),
        ("ActiveEnterTimestamp=", 0.0),
        ("", 0.0),
        ("n/a", 0.0),
    ],
)
def test_reads_what_systemctl_prints(printed, expected):
    assert systemd_time(printed) == pytest.approx(expected, abs=1e-6)


def test_keeps_the_sub_second_order_that_unix_seconds_lose():
    started = systemd_time("Mon 2026-11-23 14:21:59.700000 UTC")
    changed_before_start = EPOCH + 0.5
    # whole seconds put the change after the start, and a member was restarted for nothing
    assert int(started) < changed_before_start < started


@pytest.mark.parametrize("printed", ["Mon 2026-11-23 14:21:59 CET", "yesterday", "ActiveEnterTimestamp=Mon"])
def test_refuses_what_it_cannot_read_and_names_the_fix(printed):
    with pytest.raises(AnsibleFilterError, match="--timestamp=us\\+utc"):
        systemd_time(printed)


def test_refuses_a_non_string():
    with pytest.raises(AnsibleFilterError, match="expects the text"):
        systemd_time(12)
