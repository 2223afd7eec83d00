"""HTML routers."""
