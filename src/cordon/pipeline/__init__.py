"""The stage runner: durable work items, claimed with leases, done exactly once."""
