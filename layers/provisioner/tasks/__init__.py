"""One module per group of Lambda tasks, so each handler imports only what it runs.

Each task takes the payload the ASL sends (already parsed into its model), does the domain
work, tells the milestone (``domain.milestones.announce``: the ledger, the topic, the outcome
event) and returns what the ASL stores at the state's ``ResultPath``. A task never writes the
ledger itself: the domain does. Errors are raised, never returned: their class names are
what the ASL retries and catches.
"""
