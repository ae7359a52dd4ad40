"""Shared test settings."""
import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread: two OpenMP threads spin against any other job on a 2-core CPU
    (measured 10-30x slower on the shared development machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
