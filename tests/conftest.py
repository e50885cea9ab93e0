import pytest


@pytest.fixture(scope="session")
def stack():
    """The real embedded stack (Heat engine + API + local datastores), shared by e2e tests."""
    from tests.harness import Stack
    embedded = Stack()
    try:
        embedded.up()
        yield embedded
    finally:
        embedded.destroy()
