"""The security scan of the stack (``make scan``, part of ``make test``): checkov on the
template as SAM translates it (not deployed)."""
