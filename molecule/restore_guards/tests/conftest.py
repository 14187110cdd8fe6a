"""The bad-input harness lives beside the default scenario's tests."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../default/tests"))
