"""The HTTP layer: the application, its routes and schemas, and the handlers by
audience: beacons, lists, catalog, editors, operations."""
