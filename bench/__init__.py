"""Benchmarks (not deployed): cold-start import cost, end-to-end overhead and cost per request.

Run ``python -m bench`` (``make bench``) from the repository root.
"""
