"""The iokit pytest plugin (fixtures for booting hosts and asserting driver fates)."""
