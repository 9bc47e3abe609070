"""Use cases: each function is one operation of the service, called by exactly one view."""
