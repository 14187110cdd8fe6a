# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment(object):
    """Connection and TLS options shared by every ezops.etcd module."""

    DOCUMENTATION = r"""
attributes:
  action_group:
    support: full
    membership:
      - ezops.etcd.etcd
    description: Use C(group/ezops.etcd.etcd) in C(module_defaults) to set the connection options.
options:
  endpoints:
    description:
      - Client URLs of the etcd members to talk to.
      - When not set, the comma-separated E(ETCDCTL_ENDPOINTS) environment variable is used.
      - The default is the local member in the kubeasz layout.
    type: list
    elements: str
    default: ['https://127.0.0.1:2379']
  cacert:
    description:
      - CA bundle that verifies the etcd server certificates.
      - When not set, E(ETCDCTL_CACERT) is used, then the kubeasz path.
      - Set to V(null) or an empty string to pass no CA (plain-http endpoints).
    type: path
    default: /etc/kubernetes/ssl/ca.pem
  cert:
    description:
      - Client certificate presented to etcd.
      - When not set, E(ETCDCTL_CERT) is used, then the kubeasz path.
      - Set to V(null) or an empty string to present none.
    type: path
    default: /etc/kubernetes/ssl/etcd.pem
  key:
    description:
      - Private key of O(cert).
      - When not set, E(ETCDCTL_KEY) is used, then the kubeasz path.
      - Set to V(null) or an empty string together with O(cert).
    type: path
    default: /etc/kubernetes/ssl/etcd-key.pem
  user:
    description:
      - etcd user name when etcd auth is enabled, with O(password); V(name:password) is accepted
        too, but prefer O(password).
      - Passed to etcdctl as E(ETCDCTL_USER) in its environment (the password part split off into
        E(ETCDCTL_PASSWORD)), never on its command line nor in a returned value.
      - The option is C(no_log), since it may hold a password; Ansible therefore masks the user
        name wherever it appears in the output.
      - Requires a password; to authenticate by client certificate (its CN), leave it unset.
      - When not set, E(ETCDCTL_USER) is used.
    type: str
  password:
    description:
      - Password of O(user). Passed to etcdctl as E(ETCDCTL_PASSWORD) in its environment, never on
        its command line, and masked in every returned value, error messages and command output
        included.
      - When not set, E(ETCDCTL_PASSWORD) is used. Requires O(user).
    type: str
  command_timeout:
    description:
      - Seconds etcdctl waits for an answer (C(--command-timeout)); the dial timeout is the
        smaller of this and 5 seconds.
    type: int
    default: 30
  etcdctl_path:
    description:
      - Path of the C(etcdctl) binary.
      - By default C(/opt/kube/bin/etcdctl) (the kubeasz C(bin_dir)), then E(PATH).
    type: path
  etcdutl_path:
    description:
      - Path of the C(etcdutl) binary, used for snapshot status and restore on etcd 3.5 and later.
      - By default the directory of O(etcdctl_path), then C(/opt/kube/bin), then E(PATH).
    type: path
notes:
  - O(endpoints) must be C(http://) or C(https://) URLs with a host and a port, all of one scheme.
    With C(http://) endpoints etcdctl uses no TLS, so the default TLS files are not passed, and
    TLS files set explicitly are refused as a likely mistake (use C(https://), or set them to
    V(null)).
  - Every E(ETCDCTL_*) variable is removed from the environment of the etcdctl commands the module
    runs (etcdctl refuses a flag that a variable also sets); the module options take their place.
    The credentials are then set as E(ETCDCTL_USER) and E(ETCDCTL_PASSWORD), and no C(--user) or
    C(--password) flag is passed.
  - The modules form the action group C(ezops.etcd.etcd), so C(module_defaults) can set these
    options once for all of them.
"""
