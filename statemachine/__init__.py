"""The workflows' definitions: described in :mod:`statemachine.workflows`, written out as the
``*.asl.json`` files ``template.yaml`` deploys (``python -m statemachine``)."""
