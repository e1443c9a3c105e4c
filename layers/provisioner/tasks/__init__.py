"""One module per group of Lambda tasks, so each handler imports only what it runs.

Each task takes the payload the ASL sends (already parsed into its model), does the domain
work, writes the milestone to the request ledger and returns what the ASL stores at the
state's ``ResultPath``, including the progress notification for the state machine to
publish. Errors are raised, never returned: their class names are what the ASL retries and
catches.
"""
