"""Channel adapters and what the tool knows about each network."""
