import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.filter.start_action import start_action

ME = "https://10.0.0.2:2380"
STARTED_ME = {"name": "etcd-10.0.0.2", "peer_urls": [ME]}
UNSTARTED_ME = {"name": "", "peer_urls": [ME]}
OTHER = {"name": "etcd-10.0.0.1", "peer_urls": ["https://10.0.0.1:2380"]}
LOOKALIKE = {"name": "", "peer_urls": ["https://10.0.0.21:2380"]}


@pytest.mark.parametrize(
    "live, has_data, was_active, any_data, expected",
    [
        ([OTHER, STARTED_ME], True, True, True, "running"),
        ([], True, False, True, "resumed"),
        ([], False, False, False, "bootstrap"),
        ([OTHER, UNSTARTED_ME], False, False, True, "join"),
        ([OTHER, STARTED_ME], False, False, True, "refuse-lost-data"),
        ([OTHER], False, False, True, "refuse-not-member"),
        # 10.0.0.21 is not 10.0.0.2: no substring matching
        ([OTHER, LOOKALIKE], False, False, True, "refuse-not-member"),
        # others have data but none runs: never bootstrap a second cluster beside them
        ([], False, False, True, "refuse-not-member"),
        # a cluster runs although this group has no data (other hosts): not a bootstrap either
        ([OTHER], False, False, False, "refuse-not-member"),
    ],
)
def test_decision_table(live, has_data, was_active, any_data, expected):
    assert start_action(live, ME, has_data, was_active, any_data) == expected


def test_not_a_list_is_an_error():
    with pytest.raises(AnsibleFilterError):
        start_action(None, ME, False, False, False)
