"""Customer-operations backend: API blueprints, domain logic and data access."""
