#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: refuse
short_description: Stop the run with a message and a refusal code
version_added: 0.2.0
description:
  - Fails the task with O(msg) and returns O(code) as RV(refusal), so that tests and monitoring
    tell refusals apart without matching message text. Use it with C(when) for every check that
    refuses bad input before anything on a host changes.
  - An action plugin, it runs on the controller and touches no host.
author:
  - ezops.etcd developers (@ezops)
attributes:
  check_mode:
    support: full
    description: It refuses in check mode too.
  diff_mode:
    support: none
    description: It changes nothing.
  action:
    support: full
    description: Runs on the controller only.
options:
  code:
    description: A stable lower-case identifier of the refusal, for example V(data_dir_system).
    type: str
    required: true
  msg:
    description: What is wrong, what was (not) changed and how to fix it.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a data dir that is a system directory
  ezops.etcd.refuse:
    code: data_dir_system
    msg: "ETCD_DATA_DIR={{ etcd_data_dir }} is a system directory. Set a dedicated path such as /var/lib/etcd."
  when: etcd_data_dir in ['/', '/var', '/var/lib']
"""

RETURN = r"""
refusal:
  description: The refusal code given in O(code).
  returned: always
  type: str
  sample: data_dir_system
msg:
  description: The message given in O(msg), white space folded.
  returned: always
  type: str
"""
