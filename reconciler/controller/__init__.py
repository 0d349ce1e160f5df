"""`vzgitops run`: the controller loop and its parts (triggers, enforcement, HTTP, metrics, status)."""
