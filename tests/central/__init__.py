"""Central compatibility: pyodk driven through every call of its own end-to-end suite, and every
route checked against the response shapes of Central's API (our JSON Schemas in schemas/)."""
