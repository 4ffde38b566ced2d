"""The front door: listeners, the one request handler (dispatch), the request context, access log,
metrics, rate limits and request ids; the list of implemented actions.
"""
