"""Test support: processes, servers, consumers, config files and the daemon under test."""
