"""Read models below the handlers: how each EC2 resource is found and shown, for every handler that needs it.

A handler reads like the EC2 docs and never imports another handler: what several of them need to know about
an instance, an image or a volume (find it by id, describe it, map the cloud's objects to the EC2 shape) lives
here.
"""
