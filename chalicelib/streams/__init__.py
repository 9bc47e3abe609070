"""DynamoDB stream consumers: Powertools batch processing around one record handler each.
Registered in app.py, configured in chalicelib/streams_config.py (see docs/streams.md)."""
