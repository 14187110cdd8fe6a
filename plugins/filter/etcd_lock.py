# -*- coding: utf-8 -*-
# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The cluster lock's refusal for runs that do not take it (the rule: plugins/module_utils/etcd_lock.py)."""

from __future__ import annotations

from ansible_collections.ezops.etcd.plugins.module_utils.etcd_lock import held_lock_refusal


def etcd_lock_refusal(text, lock_path, code, doing="this command"):
    return held_lock_refusal(text, lock_path, code, doing)


class FilterModule(object):
    def filters(self):
        return {"etcd_lock_refusal": etcd_lock_refusal}
