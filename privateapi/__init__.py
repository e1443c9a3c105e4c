"""Tooling for people (not deployed): send requests, follow their progress, see what they made.

Works against the embedded AWS (``--endpoint-url http://127.0.0.1:4566``) or a real account
(the normal AWS credential chain).
"""
