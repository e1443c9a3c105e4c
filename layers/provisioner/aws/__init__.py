"""Adapters: the only modules that talk to boto3. They speak the domain's errors."""
