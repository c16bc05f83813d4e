"""The durable job path: jobs claimed from the store and run, each by the one object that owns
its state, within the scheduler's lanes; what a finished job answers."""
