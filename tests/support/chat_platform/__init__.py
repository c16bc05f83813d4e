"""A third chat platform, for the tests alone: proof that ``bot.platform`` is all a platform
needs. It speaks to ``tests.support.fakes.chat_api`` and plugs in through the registry like
the real ones (``tests.support.plugin``). Importing this package imports nothing else."""
