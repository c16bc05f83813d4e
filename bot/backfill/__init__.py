"""Re-hosting a channel's past media: the command's rules, the runner that walks the history in
the background lane, and the report (a progress message, then a summary and a CSV that maps
each old attachment to its new link)."""
