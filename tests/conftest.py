import pytest

from tests.support import Server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One embedded-default ``ec2proxy serve`` for the session's read-only tests."""
    proc = Server(tmp_path_factory.mktemp("proxy")).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def ec2(server):
    return server.client()
