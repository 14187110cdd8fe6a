# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The refuse action: stop the run with a message and a machine-readable refusal code.

Runs on the controller and touches no host. Tests (and monitoring) read the code in the
result's ``refusal`` key instead of matching message text.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("code", "msg"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        code = self._task.args.get("code")
        msg = self._task.args.get("msg")
        if not isinstance(code, str) or not _CODE.match(code):
            raise AnsibleActionFail("refuse: code must be a lower-case identifier such as data_dir_system, not %r" % (code,))
        if not isinstance(msg, str) or not msg.strip():
            raise AnsibleActionFail("refuse: msg must say what is wrong and how to fix it")
        result.update(failed=True, changed=False, refusal=code, msg=" ".join(msg.split()))
        return result
