import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ezops.etcd.plugins.filter.initial_cluster import initial_cluster

STARTED = [
    {"id": "b", "name": "etcd-10.0.0.2", "peer_urls": ["https://10.0.0.2:2380"]},
    {"id": "a", "name": "etcd-10.0.0.1", "peer_urls": ["https://10.0.0.1:2380"]},
]


def test_sorted_by_name():
    assert initial_cluster(STARTED) == "etcd-10.0.0.1=https://10.0.0.1:2380,etcd-10.0.0.2=https://10.0.0.2:2380"


@pytest.mark.parametrize(
    "self_peer_url, expected_name",
    [
        ("https://10.0.0.21:2380", "new-member"),  # the unstarted member is this one
        ("https://10.0.0.2:2380", "etcd-10.0.0.21"),  # not a substring match: 10.0.0.2 is not 10.0.0.21
        (None, "etcd-10.0.0.21"),
    ],
)
def test_unstarted_member_name(self_peer_url, expected_name):
    members = STARTED + [{"id": "c", "name": "", "peer_urls": ["https://10.0.0.21:2380"]}]
    result = initial_cluster(members, "new-member", self_peer_url)
    assert "%s=https://10.0.0.21:2380" % expected_name in result.split(",")


def test_member_without_peer_url_is_an_error():
    with pytest.raises(AnsibleFilterError, match="no peer URL"):
        initial_cluster([{"id": "c", "name": "x", "peer_urls": []}])


def test_not_a_list_is_an_error():
    with pytest.raises(AnsibleFilterError):
        initial_cluster("etcd-1=https://a:2380")
