"""Training speed of pix2pix: eager fp32 vs channels_last, autocast, compile and CUDA graphs.

    python benchmarks/speed.py                # the paper's 256 px configuration
    python benchmarks/speed.py --quick        # 64 px, seconds on a laptop
    python benchmarks/speed.py --help

The same as ``python -m course_lib bench``; the implementation and its documentation live in
:mod:`course_lib.benchmark` so that an installed course_lib has it too. Every variant is timed
in one run and reported as a ratio to the eager fp32 baseline, with peak memory, the model-FLOP
utilisation on GPUs, and the data loader's speed alone next to the model's.
"""
from course_lib.benchmark import main

if __name__ == "__main__":
    main()
