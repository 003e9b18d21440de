"""What the tree means: dependencies, chains, validation, statuses, the build graph, kept."""
