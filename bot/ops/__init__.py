"""Running the bot: logs, metrics, health, and the network plumbing every client shares."""
