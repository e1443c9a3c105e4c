"""The workflows' definitions: described in :mod:`statemachine.workflows`, written out as the
``*.asl.json`` files ``template.yaml`` deploys (``python -m statemachine``)."""

import sys
from pathlib import Path

# The definitions use the layer's own facts (statuses, the longest timeoutSeconds, the link
# deletion deadline). ``python -m statemachine`` runs from a clone, where the layer is the
# folder ``layers/``; the tests have it on their path already.
_LAYER = str(Path(__file__).resolve().parents[1] / "layers")
if _LAYER not in sys.path:
    sys.path.append(_LAYER)
