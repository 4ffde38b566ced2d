"""Wiring: the command line, configuration, the embedded default, secrets, worker processes and the
long-lived services handlers use.
"""
