"""Developer tools that are not part of a deployment (stand-ins for outside systems)."""
