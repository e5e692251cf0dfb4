from ._core import set_num_threads, get_num_threads
