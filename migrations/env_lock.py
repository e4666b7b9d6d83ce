"""The advisory lock key that serialises migrations (shared with the tests)."""

#: Arbitrary but fixed: "PHMS" in ASCII.
MIGRATION_LOCK_KEY = 0x50484D53
