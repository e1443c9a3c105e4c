"""Adapters: AWS's APIs in the domain's words, and its errors as the domain's (``contract.errors``).

The layer's boto3 clients are made here (``clients``). Outside this package, the ledger's
table (``storage.table``) and the write-back's idempotency records (Powertools Idempotency,
given ``clients.dynamodb()``) use them; the ticket functions' secrets and mapping parameter are
read through Powertools' Parameters utility, which makes its own clients."""
