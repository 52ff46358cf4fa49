"""Publishing: the publish protocol, the queue in the database, and the daemon."""
