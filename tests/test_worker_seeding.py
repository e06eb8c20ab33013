"""Each pair is read under the seed of its place in the GLOBAL batch, whichever process reads it."""
import pytest

from course_lib.train.sampling import ShardedStepBatchSampler, StepBatchSampler
from course_lib.train.worker_seeding import SeededBatches


@pytest.mark.parametrize("groups", [1, 2])
def test_ranks_read_with_the_keys_of_one_process(groups):
    one = list(SeededBatches(StepBatchSampler(50, 8, 5, seed=3, start=2), seed=3))
    ranks = [list(SeededBatches(ShardedStepBatchSampler(50, 8, 5, seed=3, start=2, rank=r,
                                                        world_size=2, groups=groups), seed=3))
             for r in range(2)]
    for step, batch in enumerate(one):
        together = ranks[0][step] + ranks[1][step]
        assert sorted(together) == sorted(batch)
        assert len(set(seed for seed, _ in batch)) == len(batch)   # one seed per place


def test_two_parts_are_taken_from_each_half():
    s = ShardedStepBatchSampler(50, 8, 1, seed=0, rank=1, world_size=2, groups=2)
    assert s.positions() == [2, 3, 6, 7]


def test_item_seeding_leaves_the_cuda_generators_alone(monkeypatch):
    """Reading an item reseeds the CPU generator only: torch.manual_seed would also reseed
    every CUDA generator (which fork_rng(devices=[]) does not restore)."""
    import torch

    from course_lib.train.worker_seeding import StepSeededDataset

    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append(seed))
    before = torch.random.get_rng_state()
    item = StepSeededDataset([torch.zeros(1)])[(123, 0)]
    assert calls == [] and torch.equal(item, torch.zeros(1))
    assert torch.equal(torch.random.get_rng_state(), before)
