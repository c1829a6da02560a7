"""Encrypted submissions: project keys (keys.py) and Collect's envelopes (envelope.py).

Pure functions over bytes and key objects, with no Flask and no database, so the server's
decryption is tested against an independent encryptor (tests/encryption/java).
"""
