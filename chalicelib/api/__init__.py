"""HTTP edge: blueprints, request parsing, access rules and problem responses."""
