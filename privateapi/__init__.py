"""Tooling for people (not deployed): send requests, follow their progress, see what they made.

Works against the embedded AWS (``--endpoint-url http://127.0.0.1:4566``) or a real account
(the normal AWS credential chain).
"""

import sys
from pathlib import Path

# The ledger is read with the layer's own key scheme (``provisioner.storage.keys``), requests
# and notifications with its names (``provisioner.contract.vocabulary``: statuses,
# detail-types, tag keys); both standard library only. The CLI runs from a clone, where the
# layer is the folder ``layers/``. The embedded AWS's apps and the bench import the layer's
# names after ``privateapi``, which puts it on the path.
_LAYER = str(Path(__file__).resolve().parents[1] / "layers")
if _LAYER not in sys.path:
    sys.path.append(_LAYER)
