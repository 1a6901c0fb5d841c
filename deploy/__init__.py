"""Deployment helpers: the compose topology as local processes (`python -m deploy.stack`)."""
