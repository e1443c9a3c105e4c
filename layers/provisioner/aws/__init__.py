"""Adapters: AWS's APIs in the domain's words, and its errors as the domain's (``contract.errors``).

Every boto3 client is made here (``clients``). Two callers outside this package use those
clients: the ledger's table (``storage.table``, DynamoDB) and the ticket functions, whose
parameters, secrets and idempotency records go through Powertools' utilities (SSM, Secrets
Manager, DynamoDB)."""
