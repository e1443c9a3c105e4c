"""Embedded AWS for local runs and tests: moto over HTTP, made faithful where it matters,
with ``template.yaml`` deployed and the real handlers answering Lambda Invoke.

Not deployed; tooling only. Entry point: :class:`emulator.engine.runtime.EmbeddedAws`.
"""
