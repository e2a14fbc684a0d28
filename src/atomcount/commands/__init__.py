"""Click commands of the ``atomcount`` CLI, one module per sub-command."""
