"""Search: Swedish full-text search over the visible items (`/sok/`, `/api/v1/search`)."""
