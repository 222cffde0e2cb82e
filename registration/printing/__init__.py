"""The print queue: badges, print jobs, printer state and the worker that drives `printers`."""
