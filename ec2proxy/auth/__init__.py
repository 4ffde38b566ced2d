"""Who signed a request: signature checks and the stores that hold the secrets."""
