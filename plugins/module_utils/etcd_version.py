# Copyright: ezops.etcd contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""etcd release numbers: the one reading of a version that every module, filter and rule uses.

A version is ``MAJOR.MINOR.PATCH``, optionally with a leading ``v`` and a pre-release suffix
(``v3.6.0-rc.1`` reads as ``(3, 6, 0)``). Compare versions as tuples.
"""

from __future__ import annotations

import re

_AT_START = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")
_ANYWHERE = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def parse(text, anywhere=False):
    """(major, minor, patch) of ``text`` ('3.5.16', 'v3.4.23'), or None when it is not one.

    ``anywhere``: find the first version inside a longer text ('etcdctl version: 3.5.16')."""
    text = str(text if text is not None else "").strip()
    match = (_ANYWHERE.search if anywhere else _AT_START.match)(text)
    return tuple(int(part) for part in match.groups()) if match else None


def find(text):
    """The first version inside ``text`` as 'MAJOR.MINOR.PATCH', or None."""
    version = parse(text, anywhere=True)
    return dotted(version) if version else None


def dotted(version):
    return ".".join(str(part) for part in version)


def as_tuple(version):
    """A lenient tuple for comparisons: missing parts are 0, no version at all is (0, 0, 0)."""
    parts = [int(part) for part in re.findall(r"\d+", str(version or ""))[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def at_least(version, minimum):
    return as_tuple(version) >= tuple(minimum)
